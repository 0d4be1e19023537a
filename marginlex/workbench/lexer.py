"""A Pygments lexer for the rulebook language (alias ``mlx``), registered by entry point.

The keywords are read from the grammar itself (``dsl/grammar.lark``: every quoted word of
it), so that a keyword added to the language is highlighted without an edit here; the words
of the ``unit`` rule are highlighted as units after a number only (``USD`` is also an
asset's name). ``tests/workbench/test_lexer.py`` lexes every shipped rulebook and the
``mlx`` blocks of the docs, and fails on an error token or a grammar keyword lexed as a name.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import ClassVar

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

GRAMMAR = Path(__file__).resolve().parents[1] / "dsl" / "grammar.lark"
OPERATOR_WORDS = frozenset({"and", "or", "not", "in"})
CONSTANTS = frozenset({"true", "false"})
SUBJECTS = ("account", "owner", "carrier", "position", "instrument", "collateral")
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"


@cache
def grammar_words() -> tuple[frozenset[str], frozenset[str]]:
    """The grammar's quoted words: (keywords, unit words).

    >>> keywords, units = grammar_words()
    >>> "haircut" in keywords, "USD" in units, "USD" in keywords
    (True, True, False)
    """
    text = GRAMMAR.read_text(encoding="utf-8")
    unit_rule = re.search(r"^!unit:(?P<body>.*)$", text, re.MULTILINE)
    units = frozenset(re.findall(r'"([A-Za-z_%]+)"', unit_rule["body"] if unit_rule else ""))
    quoted = frozenset(re.findall(r'"([A-Za-z_]+)"', text))
    return quoted - units, units


def _rules() -> list[tuple[str, object]]:
    keywords, units = grammar_words()
    plain = sorted(keywords - OPERATOR_WORDS - CONSTANTS)
    unit_words = sorted((u for u in units if u != "%"), key=len, reverse=True)
    unit = r"%|(?:" + "|".join(unit_words) + r")\b"
    subject = "|".join(SUBJECTS)
    return [
        (r"\s+", Whitespace),
        (r"#[^\n]*", Comment.Single),
        (r'"[^"\n]*"', String.Double),
        (r"\d{4}-\d{2}-\d{2}\b", Number.Other),
        (rf"({_NUMBER})(\s*)({unit})", bygroups(Number, Whitespace, Keyword.Type)),
        (_NUMBER, Number),
        (r"!=|<=|>=|=|<|>", Operator),
        (r"[{}()\[\],.:]", Punctuation),
        (rf"\b({subject})(\.)([A-Za-z_]\w*)", bygroups(Name.Builtin, Punctuation, Name.Attribute)),
        (words(sorted(OPERATOR_WORDS), prefix=r"\b", suffix=r"\b"), Operator.Word),
        (words(sorted(CONSTANTS), prefix=r"\b", suffix=r"\b"), Keyword.Constant),
        (words(plain, prefix=r"\b", suffix=r"\b"), Keyword),
        (r"[A-Za-z_]\w*", Name),
    ]


class MlxLexer(RegexLexer):  # type: ignore[misc]  # pygments ships no type hints
    """Lexer for marginlex rulebooks (``.mlx``)."""

    name = "marginlex rulebook"
    aliases: ClassVar[list[str]] = ["mlx", "marginlex"]
    filenames: ClassVar[list[str]] = ["*.mlx"]
    mimetypes: ClassVar[list[str]] = ["text/x-marginlex"]
    tokens: ClassVar[dict[str, list[tuple[str, object]]]] = {"root": _rules()}


__all__ = ["MlxLexer", "grammar_words"]
