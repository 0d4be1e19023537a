"""Parse rulebook text into the model: LALR parser built once, then one transformer pass.

Syntax errors become :class:`Diagnostic` objects that say in words what was expected.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
import unicodedata
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError
from lark.lark import PostLex

from marginlex.dsl.build.builder import ModelBuilder
from marginlex.dsl.build.scanners import share_patterns
from marginlex.dsl.cache import cache_dir
from marginlex.dsl.diagnostics import (
    BuildError,
    Code,
    Diagnostic,
    RulebookError,
    did_you_mean,
    error,
)
from marginlex.dsl.limits import (
    NestingError,
    guard_nesting,
    name_diagnostics,
    nesting_diagnostic,
    size_diagnostic,
)
from marginlex.dsl.model import rulebook as m
from marginlex.printable import BIDI, SEPARATORS, UNSAFE, char_name, escaped, printable


class _CommentSink(threading.local):
    """Collects COMMENT tokens during one parse. The parser object is shared, by every
    thread too (a Dask worker's threads format rulebooks at once): each thread has its own
    list, or two parses at the same time would mix their comments."""

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
        return guard_nesting(stream)


@functools.cache
def _parser() -> Lark:
    grammar = resources.files("marginlex.dsl").joinpath("grammar.lark").read_text("utf-8")
    cache = parser_cache_path(grammar)
    built = Lark(
        grammar,
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=True,
        lexer_callbacks={"COMMENT": _SINK},
        postlex=_WholeWords(),
        cache=str(cache) if cache is not None else False,
    )
    share_patterns(built)  # each terminal compiled once, not once per parser state
    return built


def parser_cache_path(grammar: str) -> Path | None:
    """Where the built LALR tables of ``grammar`` are kept between processes (None: nowhere).

    Building the tables takes about half a second, which every ``marginlex check`` would
    pay; lark saves them once and loads them after (it checks the grammar, its options, its
    own version and Python's before it trusts the file, and rebuilds on any difference). The
    folder is :func:`marginlex.dsl.cache.cache_dir`.

    >>> parser_cache_path("start: NAME").name
    'lalr-e1cc1e9d928434e7.lark'
    """
    folder = cache_dir()
    if folder is None:
        return None
    digest = hashlib.sha256(grammar.encode("utf-8")).hexdigest()[:16]
    return folder / f"lalr-{digest}.lark"


def parse_tree(text: str, path: str = "<string>") -> tuple[Tree[Token], list[Token]]:
    """Parse text into lark's tree plus its comment tokens; raise RulebookError on bad syntax.

    The error names every syntax error of the file, not only the first: after the first, each
    later statement is parsed on its own (:func:`later_syntax_errors`).
    """
    _SINK.tokens = []
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        first = syntax_diagnostic(exc, text, path)
        after = getattr(exc, "pos_in_stream", None)
        token = getattr(exc, "token", None)
        if isinstance(token, Token) and token.start_pos is not None:
            after = token.start_pos
        rest = later_syntax_errors(text, path, after if after is not None else len(text))
        # the statement the first error is in may start where it was found (a misspelt
        # keyword): parsed again alone, it gives the same error a second time
        here = (first.code, first.span.line, first.span.column)
        rest = [d for d in rest if (d.code, d.span.line, d.span.column) != here]
        raise RulebookError([first, *rest]) from None
    except NestingError as exc:
        raise RulebookError([exc.diagnostic(path)]) from None
    return tree, list(_SINK.tokens)


_STATEMENT_WORDS = (
    "parameter",
    "scope",
    "eligibility",
    "segregation",
    "haircut",
    "concentration",
    "margin",
    "offset",
    "override",
    "remove",
    "extend",
)
_LINE_WORD = re.compile(r"^([A-Za-z_]\w*)\b", re.MULTILINE)


def _statement_starts(text: str) -> Iterator[int]:
    """Where statements start: a line beginning with a statement's keyword, or with a word
    close to one (``overide``: a statement whose first word is misspelt is one too, so that
    its own error is found, not swallowed by the statement before it)."""
    for mt in _LINE_WORD.finditer(text):
        word = mt.group(1)
        if word in _STATEMENT_WORDS or (
            word not in _CLAUSE_WORDS and did_you_mean(word, _STATEMENT_WORDS) is not None
        ):
            yield mt.start()


_CLAUSE_WORDS = frozenset({"rulebook", "cites", "status", "accept", "effective", "because"})
"""Words a line may start with that are not statements (a clause written unindented)."""
_STUB = 'rulebook stub "stub"\n'
MAX_SYNTAX_ERRORS = 50


def later_syntax_errors(text: str, path: str, after: int) -> list[Diagnostic]:
    """The first syntax error of each statement that starts at or after offset ``after``.

    Statements start at the beginning of a line with their keyword; each is parsed alone
    behind a stub header, and its diagnostic moved back to the statement's lines. At most
    :data:`MAX_SYNTAX_ERRORS` are returned.
    """
    starts = [start for start in _statement_starts(text) if start >= after]
    found: list[Diagnostic] = []
    ends = [*starts[1:], len(text)] if starts else []
    for begin, end in zip(starts, ends, strict=True):
        chunk = _STUB + text[begin:end]
        try:
            _parser().parse(chunk)
        except UnexpectedInput as exc:
            shift = text.count("\n", 0, begin) - 1
            found.append(_shifted(syntax_diagnostic(exc, chunk, path), shift))
        except NestingError as exc:
            found.append(_shifted(exc.diagnostic(path), text.count("\n", 0, begin) - 1))
        if len(found) >= MAX_SYNTAX_ERRORS and end < len(text):  # more statements follow
            last = found[-1]
            found[-1] = last.model_copy(
                update={
                    "hint": f"{last.hint}; the check stops after {MAX_SYNTAX_ERRORS} syntax "
                    "errors: fix these and check again for the statements after this one"
                }
            )
            break
    return found


def _shifted(d: Diagnostic, lines: int) -> Diagnostic:
    span = d.span.model_copy(
        update={"line": d.span.line + lines, "end_line": (d.span.end_line or d.span.line) + lines}
    )
    return d.model_copy(update={"span": span})


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
    too_large = size_diagnostic(text, path)
    if too_large is not None:
        raise RulebookError([too_large])
    controls = control_diagnostics(text, path)
    if controls:
        raise RulebookError(controls)
    tree, comment_tokens = parse_tree(text, path)
    too_deep = nesting_diagnostic(tree, path)
    if too_deep is not None:
        raise RulebookError([too_deep])
    too_long = name_diagnostics(tree, path)
    if too_long:
        raise RulebookError(too_long)
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
    "_CONCENTRATION_ADD": "`concentration add`",
    "$END": "the end of the file",
}

_HINTS: tuple[tuple[str, str], ...] = (
    ("because", 'every requirement ends with `because "the reason"`'),
    ("cites", 'say where the rule comes from: `cites "FINRA Rule 4210(g)"`'),
    ("%", "rates carry a unit: write `15%` or `25 bp`"),
    ("where", "say which ones: `where account.origin = customer`"),
    ("up", "a range row reads `up 6% down 8%` or `up and down 15%`"),
    (":", 'name each requirement: `require min_equity: CONDITION because "..."`'),
    (
        "rulebook",
        'a rulebook file starts with its header: `rulebook my_desk "My desk rules"`, then its '
        "`jurisdiction`, `version`, `effective from` and `cites` lines",
    ),
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
    "row": "an `extend` changes a row with `replace row ROW`, `add row ROW` or `drop row KEY`",
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
    malformed = _malformed_number(text, _error_offset(exc), path)
    if malformed is not None:
        return malformed
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
    misplaced = _misplaced(text, token, words, path)
    if misplaced is not None:
        return misplaced
    shown = ", ".join(words[:10]) + (", …" if len(words) > 10 else "")
    width = len(str(token)) if token is not None and token.type != "$END" else 1
    span = m.Span(file=path, line=line, column=column, end_line=line, end_column=column + width)
    message = f"{found} where {_one_of(words)} {shown} was expected".replace("  ", " ")
    keywords = [w.strip("`") for w in words if w.startswith("`")]
    if token is not None and code is Code.SYNTAX and _after_a_number(text, token):
        unit = _unit_diagnostic(token, span)
        if unit is not None:
            return unit
    hint = did_you_mean(str(token), keywords) if token is not None else None
    if hint is None and token is not None:
        hint = _TOKEN_HINTS.get(str(token).lower())
    if hint is None and len(words) <= 4:
        hint = _hint(expected)
    if hint is None:  # every error has its hint: what to write, or where its form is
        hint = (
            f"write {words[0]} before {_token_words(token)}"
            if len(words) == 1 and token is not None and token.type != "$END"
            else f"write {words[0]} at the caret"
            if len(words) == 1
            else "a word is missing or out of place at the caret: compare the line with its "
            "statement's form in docs/language.md"
        )
    return error(code, message, span, hint)


_UNITS = tuple(u.value for u in m.Unit if u.value)
"""The units a figure may carry (a duration's singular too: ``1 year``)."""


def _after_a_number(text: str, token: Token) -> bool:
    """Whether ``token`` is a word written right after a figure (``150,000 EUR``)."""
    start = token.start_pos
    if token.type != "NAME" or start is None:
        return False
    before = text[:start].rstrip(" \t")
    # a figure, not a date (`effective from 2026-01-01 untill ...` is a misspelt keyword)
    return bool(re.search(r"(?<![\w.-])[\d,]*\d(\.\d+)?$", before))


def _unit_diagnostic(token: Token, span: m.Span) -> Diagnostic | None:
    """A word after a figure that is no unit: say which units there are.

    >>> t = Token("NAME", "USDD", start_pos=4)
    >>> _unit_diagnostic(t, m.Span(file="r.mlx", line=1, column=5)).hint[:40]
    'did you mean `USD`? Amounts are in USD, '
    """
    word = str(token)
    if word.lower() in ("usd", "dollar", "dollars", "percent", "pct"):
        return None  # said by the habits' own hints
    near = did_you_mean(word, _UNITS)
    units = (
        "Amounts are in USD, rates in % or bp, durations in days, months or years, multiples in x"
    )
    return error(
        Code.SYNTAX,
        f"unknown unit `{word}` after a figure",
        span,
        f"{near} {units}" if near else f"{units}: a book's money is in one currency (USD)",
    )


def _span_at(text: str, path: str, offset: int, width: int = 1) -> m.Span:
    r"""The span of ``width`` characters at ``offset`` of ``text`` (on one line).

    >>> _span_at("ab\ncd", "r.mlx", 4).model_dump(include={"line", "column"})
    {'line': 2, 'column': 2}
    """
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return m.Span(file=path, line=line, column=column, end_line=line, end_column=column + width)


def control_diagnostics(text: str, path: str) -> list[Diagnostic]:
    """MLX102 at each character a reader would not see as the parser reads it, even inside a
    quoted text or a comment, where the lexer takes any character:

    - a control character (but tab and line ends): a NUL there was checked clean, then made a
      PostgreSQL ledger refuse the rulebook's text mid-run;
    - a bidirectional control ("Trojan Source"): U+202E in a comment or a citation shows
      the rest of the line reversed, so the rule a compliance officer reads is not the one
      that runs;
    - a line or paragraph separator (U+2028, U+2029, U+0085): an editor starts a new line
      there, the parser does not, so a line shown as a rule may be the end of a comment.

    >>> [d.message for d in control_diagnostics('rulebook r "a' + chr(0) + 'b"', "r.mlx")]
    ['the control character \\\\x00 cannot appear in a rulebook, not even in a text or comment']
    """
    found = []
    for match in _REFUSED.finditer(text):
        char = match.group()
        if char == "\r":  # a line end (CRLF, or alone as lark reads it)
            continue
        message, hint = _unseen(char)
        found.append(error(Code.BAD_CHARACTER, message, _span_at(text, path, match.start()), hint))
        if len(found) >= MAX_SYNTAX_ERRORS:
            break
    return found


_REFUSED = re.compile(UNSAFE.pattern[:-1] + "\ud800-\udfff]")
""":data:`~marginlex.printable.UNSAFE`, and a lone UTF-16 surrogate: not a character (no file
read as UTF-8 holds one, but an editor's text over the language server may), it stopped the
checker with a serialization error instead of a diagnostic."""


def _unseen(char: str) -> tuple[str, str]:
    """The message and hint for one character :func:`control_diagnostics` refuses."""
    anywhere = "cannot appear in a rulebook, not even in a text or comment"
    if 0xD800 <= ord(char) <= 0xDFFF:
        return (
            f"{char_name(char)} is half of a UTF-16 surrogate pair, not a character: it {anywhere}",
            "delete it: the text was cut in the middle of a character (an emoji, say)",
        )
    if char in BIDI:
        return (
            f"the bidirectional control {char_name(char)} {anywhere}: it shows the text "
            "around it in another order than the one the parser reads",
            "delete it (an editor may not show it at all); right-to-left letters need no "
            "control, they carry their own direction",
        )
    if char in SEPARATORS:
        return (
            f"the line separator {char_name(char)} {anywhere}: an editor may start a new "
            "line there, the parser does not",
            "replace it with a line end",
        )
    return (
        f"the control character {escaped(char)} {anywhere}",
        "delete it: the file is damaged or not UTF-8 (an editor may show it as a box, "
        "or not at all)",
    )


_NUMBER = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?|\d+(\.\d+)?")  # the grammar's NUMBER
_NUMBER_CHARS = frozenset("0123456789,.")


def _error_offset(exc: UnexpectedInput) -> int | None:
    """Where in the text the parser stopped (None: at the end)."""
    if isinstance(exc, UnexpectedCharacters):
        return exc.pos_in_stream
    token: Token | None = getattr(exc, "token", None)
    if token is None or token.type == "$END":
        return None
    return token.start_pos


def _malformed_number(text: str, offset: int | None, path: str) -> Diagnostic | None:
    """A number written with its digits grouped wrongly (``10,0000``, ``1,00``, ``1.000,00``),
    which the parser reads as a number followed by a stray ``,`` or digits; None when the
    error is not inside such a figure."""
    if offset is None or offset >= len(text) or text[offset] not in _NUMBER_CHARS:
        return None
    start = offset
    while start > 0 and text[start - 1] in _NUMBER_CHARS:
        start -= 1
    stop = offset
    while stop < len(text) and text[stop] in _NUMBER_CHARS:
        stop += 1
    figure = text[start:stop].rstrip(",.")  # a list's comma or a sentence's point follows
    if not figure or not figure[0].isdigit() or _NUMBER.fullmatch(figure):
        return None
    if not any(c in figure for c in ",."):
        return None
    span = _span_at(text, path, start, len(figure))
    return error(
        Code.SYNTAX,
        f"`{figure}` is not a number: its digits are grouped wrongly",
        span,
        "a comma groups the digits in threes and a point starts the decimals: "
        "`100,000`, `1,000,000.50`, `0.375` (or no comma at all: `100000`)",
    )


def _misplaced(text: str, token: Token | None, words: list[str], path: str) -> Diagnostic | None:
    """A mistake the parser notices later than it is made, or names only by its grammar: a
    requirement without ``because``, a strategy-based leg edited as a row."""
    if token is None:
        return None
    if token.type == "NAME" and "`when`" in words:
        leg = _strategy_leg_edit(text, token, path)
        if leg is not None:
            return leg
    return _ends_without_because(text, token, path) if "`because`" in words else None


_ROW_EDIT = re.compile(r"[ \t]*(add|replace|drop)[ \t]+row[ \t]+$")
_EXTEND_MARGIN = re.compile(r"^extend[ \t]+margin[ \t]+(\w+)", re.MULTILINE)


def _strategy_leg_edit(text: str, token: Token, path: str) -> Diagnostic | None:
    """``replace row long_stock 30%`` in ``extend margin``: a strategy-based leg is no row of
    a table (only its ``when`` and ``otherwise`` rate rows are), or None when it is not that."""
    start = token.start_pos or 0
    line_start = text.rfind("\n", 0, start) + 1
    if str(token) not in set(m.StrategyLeg) or not _ROW_EDIT.fullmatch(text[line_start:start]):
        return None
    targets = _EXTEND_MARGIN.findall(text, 0, start)
    target = targets[-1] if targets else "..."
    span = _span_at(text, path, start, len(str(token)))
    return error(
        Code.ROW_EDIT,
        f"`{token}` is a leg of `strategy based`: its legs cannot be changed row by row, only"
        " its `when` and `otherwise` rate rows",
        span,
        f"write `override margin {target}` to restate the statement with the leg changed",
    )


def _ends_without_because(text: str, token: Token, path: str) -> Diagnostic | None:
    """A requirement whose ``because`` is missing, pointed at where the requirement ends
    (not at the next statement, where the parser noticed), or None when it is not that."""
    start = token.start_pos if token.type != "$END" else len(text)
    end = len(text[: start or 0].rstrip())
    if end == 0 or text.count("\n", 0, end) + 1 == (token.line or 0):
        return None  # the unexpected word is on the requirement's own line
    span = _span_at(text, path, end)
    return error(
        Code.MISSING_CLAUSE,
        "this requirement ends without its reason",
        span,
        'every requirement ends with `because "the reason"`, shown to whoever reads the decision',
    )


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
        _look_alike(char)
        or (
            f"the character `{printable(char)}`{_named(char)} cannot appear here",
            "names use ASCII letters, digits and _; texts go in double quotes",
        ),
    )
    return error(Code.BAD_CHARACTER, message, span, hint)


# Characters a word processor or a web page puts where the language wants plain ones: text
# pasted into a rulebook brings them, and most look like what was meant (or like nothing).
_CURLY_DOUBLE = frozenset("\u201c\u201d\u201e\u201f\u00ab\u00bb\uff02")
_CURLY_QUOTES = _CURLY_DOUBLE | frozenset("\u2018\u2019\u201a\u201b\u2039\u203a")
_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d")
_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")
_INVISIBLE = _ZERO_WIDTH | frozenset(
    "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u202f\u205f\u3000"
)


# Letters of other scripts drawn like Latin ones: a keyboard layout left on, or a name
# pasted from a document, gives `pm_min_еquity` (Cyrillic е), which reads as the name meant.
_LATIN_TWINS = dict(
    zip(
        "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0455\u0458\u04cf"
        "\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0425"
        "\u03bf\u039f\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u03a1"
        "\u03a4\u03a5\u03a7",
        "aeopcyxisjlABEKMHOPCTXoOABEZHIKMNPTYX",
        strict=True,
    )
)


def _ascii_twin(char: str) -> str | None:
    """The plain ASCII character a look-alike letter or a fullwidth form is drawn as."""
    if char in _LATIN_TWINS:
        return _LATIN_TWINS[char]
    folded = unicodedata.normalize("NFKC", char)
    return folded if folded != char and len(folded) == 1 and folded.isascii() else None


def plain_for(char: str) -> str | None:
    """The plain text a pasted look-alike stands for, where that is sure (the editor's quick
    fix): a straight double quote for a curly one, a space for an invisible space, nothing
    for a zero-width one, the Latin letter a Cyrillic or Greek twin is drawn as, the ASCII
    sign of a fullwidth one; None for the rest (a dash may be meant as `-`, `_` or a word).

    >>> plain_for("\u201c"), plain_for("\u00a0"), plain_for("\u200b"), plain_for("\u2013")
    ('"', ' ', '', None)
    >>> plain_for("\u0435"), plain_for("\uff05")
    ('e', '%')
    """
    if char in _CURLY_DOUBLE:
        return '"'
    if char in _ZERO_WIDTH:
        return ""
    if char in _INVISIBLE:
        return " "
    return _ascii_twin(char)


def _look_alike(char: str) -> tuple[str, str] | None:
    """What a typographic look-alike of a plain character is, and what to type instead."""
    if char in _CURLY_QUOTES:
        return (
            f"`{char}`{_named(char)} is a curly quote, as a word processor writes it",
            'texts go in straight double quotes `"`: retype the quotes (or turn smart '
            "quotes off where the text was written)",
        )
    if char in _DASHES:
        return (
            f"`{char}`{_named(char)} is a dash, not a hyphen",
            "names join words with _, and a range is written in words (`up to 3 years`); "
            "retype `-` where a hyphen is meant",
        )
    if char in _INVISIBLE:
        return (
            f"an invisible character here,{_named(char)}, as text pasted from a web page or a "
            "word processor brings",
            "retype the space here as an ordinary one (delete it if none is meant)",
        )
    twin = _ascii_twin(char)
    if twin is not None:
        kind = "letter" if twin.isalpha() else "sign"
        return (
            f"`{char}`{_named(char)} looks like the {kind} `{twin}` but is another character",
            f"retype it as `{twin}`: names, keywords and units are written in plain ASCII "
            "(a keyboard layout left on, or text pasted from a document, brings these)",
        )
    return None


def _named(char: str) -> str:
    """`` U+00E9 (LATIN SMALL LETTER E WITH ACUTE)`` for a character outside ASCII, else ""."""
    return f" {char_name(char)}" if not char.isascii() else ""


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


# ---- the words of the language --------------------------------------------------------------


@functools.cache
def keywords() -> frozenset[str]:
    """Every word the grammar spells out (``rulebook``, ``haircut``, ``USD``, ``days`` ...),
    read from the built parser, so that an editor's highlighting and completion follow the
    grammar file.

    >>> {"rulebook", "override", "because", "USD"} <= keywords()
    True
    """
    return frozenset(
        str(t.pattern.value)
        for t in _parser().terminals
        if t.pattern.type == "str" and str(t.pattern.value).isidentifier()
    )


def unit_words() -> tuple[str, ...]:
    """The unit words and signs a quantity may carry, in the grammar's order (``unit``).

    >>> unit_words()[:3]
    ('USD', '%', 'bp')
    """
    parser = _parser()
    rules = [r for r in parser.rules if r.origin.name == "unit"]
    names = [r.expansion[0].name for r in rules if len(r.expansion) == 1]
    return tuple(str(parser.get_terminal(n).pattern.value) for n in names)
