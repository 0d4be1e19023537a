"""Parse rulebook text into the model: LALR parser built once, then one transformer pass.

Syntax errors become :class:`Diagnostic` objects that say in words what was expected.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError
from lark.lark import PostLex

from marginlex.dsl.build.builder import ModelBuilder
from marginlex.dsl.diagnostics import (
    BuildError,
    Code,
    Diagnostic,
    RulebookError,
    did_you_mean,
    error,
)
from marginlex.dsl.model import rulebook as m


class _CommentSink:
    """Collects COMMENT tokens during one parse (the parser object itself is shared)."""

    def __init__(self) -> None:
        self.tokens: list[Token] = []

    def __call__(self, token: Token) -> Token:
        self.tokens.append(token)
        return token


_SINK = _CommentSink()


class _WholeWords(PostLex):
    """Lex every word as a whole: with NAME in every lexer state, ``haircutt`` is one
    (unexpected) name instead of the keyword ``haircut`` followed by ``t``."""

    always_accept = ("NAME",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        return stream


@functools.cache
def _parser() -> Lark:
    grammar = resources.files("marginlex.dsl").joinpath("grammar.lark").read_text("utf-8")
    return Lark(
        grammar,
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=True,
        lexer_callbacks={"COMMENT": _SINK},
        postlex=_WholeWords(),
    )


def parse_tree(text: str, path: str = "<string>") -> tuple[Tree[Token], list[Token]]:
    """Parse text into lark's tree plus its comment tokens; raise RulebookError on bad syntax."""
    _SINK.tokens = []
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise RulebookError([syntax_diagnostic(exc, text, path)]) from None
    return tree, list(_SINK.tokens)


def parse(text: str, path: str = "<string>") -> m.Rulebook:
    """Parse and build one rulebook file.

    Args:
        text: the rulebook source.
        path: the file name shown in diagnostics.

    Returns:
        The rulebook model as written (``extends`` not yet resolved).

    Raises:
        RulebookError: with the syntax or build diagnostic.

    >>> parse('rulebook demo "Demo"').header.title
    'Demo'
    """
    tree, comment_tokens = parse_tree(text, path)
    try:
        book = ModelBuilder(path).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, BuildError):
            raise RulebookError([exc.orig_exc.diagnostic]) from None
        raise
    comments = tuple(
        m.Comment(
            text=str(t).rstrip(),
            span=m.Span(
                file=path,
                line=t.line or 1,
                column=t.column or 1,
                end_line=t.line or 1,
                end_column=t.end_column or 1,
            ),
        )
        for t in comment_tokens
    )
    assert isinstance(book, m.Rulebook)
    return book.model_copy(update={"comments": comments})


# ---- syntax errors in words ---------------------------------------------------------------

_NAMED = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": 'a quoted text ("...")',
    "DATE": "a date (YYYY-MM-DD)",
    "$END": "the end of the file",
}

_HINTS: tuple[tuple[str, str], ...] = (
    ("because", 'every requirement ends with `because "the reason"`'),
    ("cites", 'say where the rule comes from: `cites "FINRA Rule 4210(g)"`'),
    ("%", "rates carry a unit: write `15%` or `25 bp`"),
    ("where", "say which ones: `where account.origin = customer`"),
    ("up", "a range row reads `up 6% down 8%` or `up and down 15%`"),
    (":", 'name each requirement: `require min_equity: CONDITION because "..."`'),
)

_AMOUNT = "write amounts with `USD` in capitals after the number, e.g. `100,000 USD`"
_PERCENT = "write percentages with `%`, e.g. `15%`"
# Words and signs typed by habit where the language has another spelling.
_TOKEN_HINTS = {
    "usd": _AMOUNT,
    "dollar": _AMOUNT,
    "dollars": _AMOUNT,
    "percent": _PERCENT,
    "pct": _PERCENT,
    "=": "a comparison uses a single `=` (the others are `!=`, `<`, `<=`, `>`, `>=`)",
}


def _describe(name: str) -> str:
    if name in _NAMED:
        return _NAMED[name]
    try:
        pattern = _parser().get_terminal(name).pattern
    except KeyError:
        return name.lower()
    return f"`{pattern.value}`" if pattern.type == "str" else name.lower()


def _expected_words(expected: set[str]) -> list[str]:
    words = sorted({_describe(n) for n in expected if n != "COMMENT"})
    named = [w for w in words if not w.startswith("`")]
    keywords = [w for w in words if w.startswith("`")]
    return named + keywords


# Characters a compliance officer is likely to type by habit, keyed by the character
# (with "9" appended when a digit follows): what to write instead.
_CHARACTER_HINTS = {
    "-9": (
        "a figure cannot be negative",
        "write its size only: `down 8%` already means a fall; rates, ranges, amounts "
        "and durations are 0 or more",
    ),
    "&": ("the character `&` cannot appear here", "write `and` (also `or`, `not`)"),
    "|": ("the character `|` cannot appear here", "write `or` (also `and`, `not`)"),
    "$9": (
        "the character `$` cannot appear here",
        "write amounts with their unit after the number, e.g. `100,000 USD`",
    ),
}


def _token_words(token: Token) -> str:
    if token.type == "$END":
        return "the end of the file"
    return f"`{token}`"


def syntax_diagnostic(exc: UnexpectedInput, text: str, path: str) -> Diagnostic:
    """Turn a lark error into a diagnostic that names what was expected in words."""
    line = getattr(exc, "line", None) or 1
    column = getattr(exc, "column", None) or 1
    if isinstance(exc, UnexpectedCharacters):
        span = m.Span(file=path, line=line, column=column, end_line=line, end_column=column + 1)
        pos = exc.pos_in_stream or 0
        char = text[pos] if pos < len(text) else "?"
        return _character_diagnostic(char, text[pos + 1 : pos + 2], span)
    expected = _acceptable(exc)
    token: Token | None = getattr(exc, "token", None)
    if isinstance(exc, UnexpectedEOF) or (token is not None and token.type == "$END"):
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        code, found = Code.UNEXPECTED_END, "the file ends"
    else:
        code, found = Code.SYNTAX, f"found {_token_words(token)}" if token else "unexpected input"
    words = _expected_words(expected)
    shown = ", ".join(words[:10]) + (", …" if len(words) > 10 else "")
    width = len(str(token)) if token is not None and token.type != "$END" else 1
    span = m.Span(file=path, line=line, column=column, end_line=line, end_column=column + width)
    message = f"{found} where {_one_of(words)} {shown} was expected".replace("  ", " ")
    keywords = [w.strip("`") for w in words if w.startswith("`")]
    hint = did_you_mean(str(token), keywords) if token is not None else None
    if hint is None and token is not None:
        hint = _TOKEN_HINTS.get(str(token).lower())
    if hint is None and len(words) <= 4:
        hint = _hint(expected)
    return error(code, message, span, hint)


def _character_diagnostic(char: str, after: str, span: m.Span) -> Diagnostic:
    """A character no token starts with; ``after`` is the next character, if any."""
    if char == '"':
        return error(
            Code.BAD_CHARACTER,
            'this text has no closing `"` on its line',
            span,
            "a quoted text must end on the line it starts",
        )
    message, hint = _CHARACTER_HINTS.get(
        char + ("9" if after.isdigit() else ""),
        (
            f"the character `{char}` cannot appear here",
            "names use letters, digits and _; texts go in double quotes",
        ),
    )
    return error(Code.BAD_CHARACTER, message, span, hint)


def _acceptable(exc: UnexpectedInput) -> set[str]:
    """The terminals that could really come next (LALR's lookahead sets are merged and
    too wide, so ask the interactive parser which ones it would accept)."""
    parser = getattr(exc, "interactive_parser", None)
    if parser is not None:
        try:
            return set(parser.accepts())
        except UnexpectedInput:  # pragma: no cover - lark could not simulate; fall back
            pass
    return set(getattr(exc, "expected", None) or ())


def _one_of(words: list[str]) -> str:
    return "one of" if len(words) > 1 else ""


_BUCKET_HINT = "a maturity bucket reads `under 3 months 0.5%`, `up to 1 year 1%` or `otherwise 6%`"


def _hint(expected: set[str]) -> str | None:
    literal = {_describe(n).strip("`") for n in expected}
    if {"under", "up", "otherwise"} <= literal:  # a `by residual_maturity` row
        return _BUCKET_HINT
    for word, hint in _HINTS:
        if word in literal:
            return hint
    return None
