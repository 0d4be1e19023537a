"""The Pygments lexer of the rulebook language (``mlx``): registered, complete, no errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Error, Keyword, Name, Number, Operator, Punctuation

from marginlex.dsl.parser import _parser
from marginlex.workbench.lexer import MlxLexer, grammar_words

ROOT = Path(__file__).parents[2]
RULEBOOKS = sorted((ROOT / "rulebooks").rglob("*.mlx")) + sorted(
    (ROOT / "tests" / "data" / "dsl" / "valid").glob("*.mlx")
)
FENCE = re.compile(r"^(?P<indent> *)```mlx\n(?P<body>.*?)^(?P=indent)```", re.MULTILINE | re.DOTALL)


def _docs_blocks() -> list[tuple[str, str]]:
    blocks = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        for i, match in enumerate(FENCE.finditer(page.read_text(encoding="utf-8"))):
            indent = len(match["indent"])
            body = "\n".join(line[indent:] for line in match["body"].splitlines())
            blocks.append((f"{page.name}#{i + 1}", body))
    return blocks


def _errors(text: str) -> list[tuple[int, str]]:
    return [(i, v) for i, t, v in MlxLexer().get_tokens_unprocessed(text) if t in Error]


def test_registered_by_entry_point() -> None:
    assert isinstance(get_lexer_by_name("mlx"), MlxLexer)
    assert isinstance(get_lexer_for_filename("sec.mlx"), MlxLexer)


@pytest.mark.parametrize("path", RULEBOOKS, ids=lambda p: p.name)
def test_every_shipped_rulebook_lexes_without_error(path: Path) -> None:
    assert _errors(path.read_text(encoding="utf-8")) == []


def test_the_docs_have_mlx_blocks_and_they_lex_without_error() -> None:
    blocks = _docs_blocks()
    assert len(blocks) >= 20, "the docs' rulebook examples are fenced as mlx"
    assert [(name, _errors(body)) for name, body in blocks if _errors(body)] == []


def _grammar_keywords() -> set[str]:
    """The words of the grammar as lark compiled it (not as the lexer reads the file)."""
    return {
        t.pattern.value
        for t in _parser().terminals
        if t.pattern.type == "str" and re.fullmatch(r"[A-Za-z_]+", t.pattern.value)
    }


def test_every_keyword_of_the_grammar_is_known() -> None:
    keywords, units = grammar_words()
    assert _grammar_keywords() == keywords | (units - {"%"})
    for word in sorted(keywords):
        ((token, value), _) = list(MlxLexer().get_tokens(word))
        assert value == word and (token in Keyword or token in Operator.Word), word
    for word in sorted(units):
        tokens = [(t, v) for t, v in MlxLexer().get_tokens(f"3 {word}") if v.strip()]
        assert tokens == [(Number, "3"), (Keyword.Type, word)], word


def test_a_requirement_is_lexed_as_expected() -> None:
    text = "require min_equity: account.equity >= 100,000 USD"
    tokens = [(t, v) for t, v in MlxLexer().get_tokens(text) if v.strip()]
    assert tokens == [
        (Keyword, "require"),
        (Name, "min_equity"),
        (Punctuation, ":"),
        (Name.Builtin, "account"),
        (Punctuation, "."),
        (Name.Attribute, "equity"),
        (Operator, ">="),
        (Number, "100,000"),
        (Keyword.Type, "USD"),
    ]


def test_an_asset_named_like_a_unit_is_a_name() -> None:
    tokens = [(t, v) for t, v in MlxLexer().get_tokens("by asset\n  USD 0%") if v.strip()]
    assert (Name, "USD") in tokens and (Keyword.Type, "%") in tokens
