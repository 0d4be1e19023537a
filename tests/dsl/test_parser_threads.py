"""Parses in several threads at once keep their own comments (a Dask worker's threads
format rulebooks at the same time; the parser object is shared)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from marginlex.dsl.parser import parse_tree


def _text(i: int) -> str:
    lines = [f'rulebook r{i} "thread {i}"', '  cites "test"']
    lines += [f"# comment {i}.{k}" for k in range(40)]
    lines += [f'parameter p{k} = {k} USD\n  cites "t"' for k in range(40)]
    return "\n".join(lines) + "\n"


def _comments(i: int) -> list[str]:
    _, tokens = parse_tree(_text(i))
    return [str(t) for t in tokens]


def test_each_thread_gets_only_its_own_comments() -> None:
    expected = {i: [f"# comment {i}.{k}" for k in range(40)] for i in range(8)}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(5):
            got = dict(zip(range(8), pool.map(_comments, range(8)), strict=True))
            assert got == expected
