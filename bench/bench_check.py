"""Time to parse and check the three shipped rulebooks (target: check under 0.5 s).

Run: ``uv run --no-sync python bench/bench_check.py``. Prints the best of a few repeats of
parse (text to model) and of check (resolve extends + every pass), per rulebook and in all.
"""

from __future__ import annotations

import time

from marginlex.dsl import Library, check_resolved, parse, resolve, shipped_dir
from marginlex.dsl.parser import parse_tree

NAMES = ("sec", "cftc", "harmonized")
REPEATS = 5


def best(fn, repeats: int = REPEATS) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    texts = {n: (shipped_dir() / f"{n}.mlx").read_text() for n in NAMES}
    start = time.perf_counter()
    parse_tree('rulebook warm "up"')  # builds the LALR parser once
    print(f"build the LALR parser (once per process): {time.perf_counter() - start:.3f} s")
    total_parse = total_check = 0.0
    for name in NAMES:
        text = texts[name]
        book = parse(text, name)
        library = Library(shipped_dir())
        for base in ("sec", "cftc"):  # bases parsed once, as in one process
            library.find(base)

        def check(book=book, library=library) -> None:  # type: ignore[no-untyped-def]
            resolved, diags = resolve(book, library.find)
            diags += check_resolved(resolved, book)
            assert not diags, diags

        t_parse = best(lambda text=text, name=name: parse(text, name))
        t_check = best(check)
        total_parse += t_parse
        total_check += t_check
        lines = text.count("\n")
        print(
            f"{name:<11} {lines:4d} lines  parse {t_parse * 1000:7.1f} ms  "
            f"check {t_check * 1000:7.1f} ms"
        )
    print(
        f"all three   parse {total_parse * 1000:.1f} ms  check {total_check * 1000:.1f} ms "
        f"(target: check < 500 ms) -> {'OK' if total_check < 0.5 else 'SLOW'}"
    )


if __name__ == "__main__":
    main()
