"""Time to parse and check the three shipped rulebooks (target: check under 0.5 s).

Run: ``uv run --no-sync python bench/bench_check.py``. Prints the best of a few repeats of
parse (text to model) and of check (resolve extends + every pass), per rulebook and in all.
"""

from __future__ import annotations

import time

from marginlex.dsl import Library, check_resolved, parse, resolve, shipped_dir
from marginlex.dsl.format.formatter import format_text
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
    _fmt_scales()


def _commented(n: int) -> str:
    """A rulebook of ``n`` parameters, each with a comment line and a trailing comment."""
    body = "".join(
        f'# comment {k}\nparameter p{k} = {k}%  # trailing {k}\n  cites "c{k}"\n\n'
        for k in range(n)
    )
    return f'rulebook big "Big"\n  cites "x"\n\n{body}'


def _fmt_scales() -> None:
    """fmt of a commented file at two sizes: the time should grow about as the size does
    (it grew as its square, 6.6 s at 3,000 commented parameters, until comments were placed
    by lookup instead of a scan of every line per comment)."""
    times = {}
    for n in (1_500, 3_000):
        text = _commented(n)
        times[n] = best(lambda text=text: format_text(text, "big.mlx"), repeats=2)
        print(f"fmt of {text.count(chr(10)):,} lines with {2 * n:,} comments: {times[n]:.2f} s")
    print(f"fmt, twice the lines: {times[3_000] / times[1_500]:.1f}x the time (linear: about 2x)")


if __name__ == "__main__":
    main()
