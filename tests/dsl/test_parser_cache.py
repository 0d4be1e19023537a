"""The LALR tables are built once per grammar and kept between processes (issue 16, part 3).

A parser loaded from the kept tables must parse exactly as a freshly built one: the same
tree (positions included), the same comments, the same syntax errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lark import Token, Tree

from marginlex.dsl import parser as p
from marginlex.dsl.cache import CACHE_ENV
from marginlex.dsl.diagnostics import RulebookError

SHIPPED = sorted((Path(__file__).resolve().parents[2] / "rulebooks").glob("*.mlx"))
BAD = 'rulebook r "R"\nparameter p = 5 USD USD\n'


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    p._parser.cache_clear()
    yield tmp_path / "cache"
    p._parser.cache_clear()  # the next test builds (or loads) its own


def _parse_all() -> list[tuple[Tree[Token], list[str]]]:
    """Each shipped rulebook's tree (compared with ``==``: a rule name is a str or a Token
    of that text, depending on how lark made the parser) and its tokens with positions."""
    out = []
    for path in SHIPPED:
        tree, comments = p.parse_tree(path.read_text("utf-8"), str(path))
        leaves = tree.scan_values(lambda v: v is not None)  # maybe_placeholders leaves None
        tokens = [f"{t.type}:{t}@{t.line}:{t.column}" for t in leaves]
        out.append((tree, [*tokens, *(f"{c}@{c.line}" for c in comments)]))
    return out


def _syntax_error() -> str:
    with pytest.raises(RulebookError) as caught:
        p.parse(BAD, "bad.mlx")
    return caught.value.diagnostics[0].render(BAD)


def test_a_loaded_parser_parses_as_a_built_one(cache_dir: Path) -> None:
    built, built_error = _parse_all(), _syntax_error()
    kept = list(cache_dir.glob("lalr-*.lark"))
    assert len(kept) == 1  # written by the first build
    p._parser.cache_clear()
    stamp = kept[0].stat().st_mtime_ns
    assert _parse_all() == built
    assert _syntax_error() == built_error
    assert kept[0].stat().st_mtime_ns == stamp  # loaded, not rebuilt


def test_a_corrupt_cache_file_is_rebuilt(cache_dir: Path) -> None:
    built = _parse_all()
    kept = next(cache_dir.glob("lalr-*.lark"))
    kept.write_bytes(b"not a parser\n")
    p._parser.cache_clear()
    assert _parse_all() == built


def test_an_empty_cache_dir_turns_the_cache_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, "")
    assert p.parser_cache_path("start: NAME") is None


def test_the_cache_file_is_named_for_the_grammar(cache_dir: Path) -> None:
    one, other = p.parser_cache_path("start: NAME"), p.parser_cache_path("start: NUMBER")
    assert one is not None and other is not None
    assert one.parent == cache_dir and one != other
