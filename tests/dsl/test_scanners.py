"""Shared terminal patterns lex exactly as lark's own scanners (``dsl/build/scanners.py``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from lark import Lark, Token
from lark.exceptions import UnexpectedInput

from marginlex.dsl.build.scanners import share_patterns
from marginlex.dsl.limits import NestingError
from marginlex.dsl.parser import _CommentSink as _Sink
from marginlex.dsl.parser import _parser, _WholeWords

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    [*ROOT.joinpath("rulebooks").rglob("*.mlx"), *ROOT.joinpath("tests/data").rglob("*.mlx")]
)


def _lark(sink: _Sink) -> Lark:
    """A parser with the rulebook grammar and options, on lark's own scanners."""
    grammar = resources.files("marginlex.dsl").joinpath("grammar.lark").read_text("utf-8")
    return Lark(
        grammar,
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=True,
        lexer_callbacks={"COMMENT": sink},
        postlex=_WholeWords(),
    )


def _tokens(tree: Any) -> list[tuple[str, str, int | None, int | None]]:
    found = tree.scan_values(lambda v: isinstance(v, Token))
    return [(t.type, str(t), t.line, t.column) for t in found]


def _outcome(parser: Lark, sink: _Sink, text: str) -> tuple[Any, ...]:
    sink.tokens = []
    try:
        tree = parser.parse(text)
    except UnexpectedInput as exc:
        expected = sorted(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or [])
        return ("error", type(exc).__name__, exc.line, exc.column, expected)
    except NestingError as exc:
        return ("too deep", str(exc))
    comments = [(t.type, str(t), t.line) for t in sink.tokens]
    return ("tree", tree, _tokens(tree), comments)


@pytest.fixture(scope="module")
def pair() -> tuple[Lark, _Sink, Lark, _Sink]:
    own, shared = _Sink(), _Sink()
    plain, patterned = _lark(own), _lark(shared)
    assert share_patterns(patterned) > 50  # every state lexer of the contextual lexer
    return plain, own, patterned, shared


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_rulebook_lexes_and_parses_the_same(
    path: Path, pair: tuple[Lark, _Sink, Lark, _Sink]
) -> None:
    plain, own, patterned, shared = pair
    text = path.read_text("utf-8")
    assert _outcome(patterned, shared, text) == _outcome(plain, own, text)


@pytest.mark.parametrize(
    "text",
    [
        'rulebook r "R"\nparameter haircutt = 1 USD cites "x"\n',  # a keyword's prefix is a NAME
        'rulebook r "R"\nparameter a = 1 USD cites "x" # note\n',
        'rulebook r "R"\nparameter a = 1 USD cites\n',  # unexpected end
        'rulebook r "R"\nparameter a = $ USD cites "x"\n',  # unexpected character
    ],
)
def test_edge_texts_lex_the_same(text: str, pair: tuple[Lark, _Sink, Lark, _Sink]) -> None:
    plain, own, patterned, shared = pair
    assert _outcome(patterned, shared, text) == _outcome(plain, own, text)


def test_the_parser_in_use_shares_its_patterns() -> None:
    scanners = {type(x.scanner).__name__ for x in _parser().parser.lexer.lexer.lexers.values()}  # type: ignore[attr-defined]
    assert scanners == {"SharedScanner"}
