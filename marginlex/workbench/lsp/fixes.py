"""Quick fixes: the edit a diagnostic's hint names, where it names one.

Four kinds, read from the checker's own hints (no second checker): a did-you-mean
replaces the word the message names; "write it with its unit, e.g. `100,000 USD`" adds the
unit after a bare number; ``MLX211`` (an inherited rule defined again) writes ``override``
before it, and "drop the word `override`" (``MLX212``) takes it away; a pasted look-alike
(``MLX102``: a curly quote, an invisible space) is replaced by the plain character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from marginlex.dsl import Code, Diagnostic
from marginlex.dsl.model.expressions import Span
from marginlex.dsl.parser import plain_for
from marginlex.printable import char_name

_DID_YOU_MEAN = re.compile(r"did you mean `([^`]+)`\?")
_WITH_UNIT = re.compile(r"^write it with its unit, e\.g\. `[\d,.]+ ?([^`\d]+)`")
_QUOTED = re.compile(r"`([^`]+)`")
_BASE_UNIT = re.compile(r"keep the unit of the base value `[\d,.]+ ?([^`\d]+)`")
_NUMBER = re.compile(r"^[\d,]+(\.\d+)?$")


@dataclass(frozen=True)
class Fix:
    """One text edit that resolves a diagnostic: replace ``span`` with ``text``."""

    title: str
    span: Span
    text: str
    preferred: bool = True


def fixes_for(d: Diagnostic, lines: list[str]) -> list[Fix]:
    """The fixes a diagnostic's hint names (none when it names no edit).

    >>> d = Diagnostic(code=Code.UNKNOWN_FIELD, message="account has no field `eqity`",
    ...     span=Span(file="a.mlx", line=1, column=9, end_line=1, end_column=22),
    ...     hint="did you mean `equity`?")
    >>> fixes_for(d, ["require account.eqity >= 5 USD"])[0].span.column
    17
    """
    return [*_did_you_mean(d, lines), *_unit(d, lines), *_override(d, lines), *_pasted(d, lines)]


def _pasted(d: Diagnostic, lines: list[str]) -> list[Fix]:
    """A curly quote straightened (with the one closing its text on the line), an invisible
    space made a space, a zero-width one deleted, a letter of another script drawn like a
    Latin one or a fullwidth sign retyped in ASCII (``MLX102``: text pasted from a word
    processor or a web page, a keyboard layout left on)."""
    if d.code != Code.BAD_CHARACTER:
        return []
    line = _line(lines, d.span.line)
    at = d.span.column - 1
    plain = plain_for(line[at]) if 0 <= at < len(line) else None
    if plain is None:
        return []
    end, text = at + 1, plain
    title = f"Replace the invisible {char_name(line[at])} with a space"
    if plain not in ("", " ", '"'):  # a Cyrillic or Greek letter, a fullwidth sign
        title = f"Retype {char_name(line[at])} as `{plain}`"
    elif plain == "":
        title = f"Delete the invisible {char_name(line[at])}"
    elif plain == '"':
        title = "Straighten the curly quotes"
        close = next((k for k in range(at + 1, len(line)) if plain_for(line[k]) == '"'), None)
        if close is not None:  # the text's closing quote, straightened with it
            end, text = close + 1, f'"{line[at + 1 : close]}"'
    span = d.span.model_copy(
        update={"column": at + 1, "end_line": d.span.line, "end_column": end + 1}
    )
    return [Fix(title, span, text)]


def _did_you_mean(d: Diagnostic, lines: list[str]) -> list[Fix]:
    match = _DID_YOU_MEAN.search(d.hint or "")
    if match is None:
        return []
    wanted = match.group(1)
    for word in _QUOTED.findall(d.message):
        span = _find_word(word, d.span, lines)
        if span is not None and word != wanted:
            return [Fix(f"Replace `{word}` with `{wanted}`", span, wanted)]
    return []


def _unit(d: Diagnostic, lines: list[str]) -> list[Fix]:
    """The unit a plain number lacks: the one the hint names, or (an override) its base
    value's; a fraction meant as a percentage (``0.85`` for ``85%``) is rewritten whole."""
    match = _WITH_UNIT.search(d.hint or "") or _BASE_UNIT.search(d.hint or "")
    if match is None or d.code != Code.UNIT_MISMATCH:
        return []
    written = _text(d.span, lines)
    if written is None or not _NUMBER.match(written):
        return []
    unit = match.group(1).strip()
    amount = float(written.replace(",", ""))
    if unit == "%" and 0 < amount <= 1:  # 0.85 meant as 85%, not 0.85%
        return [Fix(f"Write it as a percentage: `{amount * 100:g}%`", d.span, f"{amount * 100:g}%")]
    gap = "" if unit in {"%", "x"} else " "
    end = d.span.model_copy(update={"column": d.span.end_column, "end_line": d.span.line})
    return [Fix(f"Add the unit `{unit}`", end, gap + unit)]


def _override(d: Diagnostic, lines: list[str]) -> list[Fix]:
    start = d.span.model_copy(update={"end_line": d.span.line, "end_column": d.span.column})
    head = _line(lines, d.span.line)[d.span.column - 1 :]
    if d.code == Code.INHERITED_REDEFINED and not head.startswith("override"):
        return [Fix("Write `override` to replace the inherited rule", start, "override ")]
    if d.code == Code.NOTHING_TO_OVERRIDE and "drop the word `override`" in (d.hint or ""):
        word = re.match(r"override\s+", head)
        if word is not None:
            cut = start.model_copy(update={"end_column": d.span.column + word.end()})
            return [Fix("Drop the word `override` (define a new rule)", cut, "")]
    return []


def _line(lines: list[str], line: int) -> str:
    return lines[line - 1] if 1 <= line <= len(lines) else ""


def _text(span: Span, lines: list[str]) -> str | None:
    """The text a one-line span covers."""
    if span.end_line != span.line:
        return None
    return _line(lines, span.line)[span.column - 1 : span.end_column - 1]


def _find_word(word: str, span: Span, lines: list[str]) -> Span | None:
    """The first whole-word occurrence of ``word`` inside ``span``."""
    pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(word)}(?![A-Za-z0-9_])")
    for line in range(span.line, max(span.end_line, span.line) + 1):
        text = _line(lines, line)
        low = span.column - 1 if line == span.line else 0
        high = span.end_column - 1 if line == span.end_line else len(text)
        found = pattern.search(text, low, max(high, low + len(word)))
        if found is not None:
            return Span(
                file=span.file,
                line=line,
                column=found.start() + 1,
                end_line=line,
                end_column=found.end() + 1,
            )
    return None
