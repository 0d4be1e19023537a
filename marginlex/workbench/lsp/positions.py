"""Spans (1-based, in characters) to LSP ranges (0-based, in UTF-16 code units) and back,
and diagnostics of the checker to LSP diagnostics."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types as lsp

from marginlex.dsl import Code, Diagnostic, Severity
from marginlex.dsl.claims import RULEBOOK_ENCODING
from marginlex.dsl.model.expressions import Span

_SEVERITY = {
    Severity.ERROR: lsp.DiagnosticSeverity.Error,
    Severity.WARNING: lsp.DiagnosticSeverity.Warning,
}


def _utf16(line: str, chars: int) -> int:
    """The UTF-16 length of the first ``chars`` characters of ``line``."""
    head = line[: max(chars, 0)]
    return len(head) + sum(1 for ch in head if ord(ch) > 0xFFFF)


def _chars(line: str, units: int) -> int:
    """How many characters of ``line`` the first ``units`` UTF-16 code units hold."""
    count = 0
    for i, ch in enumerate(line):
        count += 2 if ord(ch) > 0xFFFF else 1
        if count > units:
            return i
    return len(line)


def position(lines: list[str], line: int, column: int) -> lsp.Position:
    """The LSP position of a 1-based line and column.

    >>> position(["ab", "x😀y"], 2, 3)  # the emoji is two UTF-16 units
    1:3
    """
    text = lines[line - 1] if 1 <= line <= len(lines) else ""
    return lsp.Position(line=max(line - 1, 0), character=_utf16(text, column - 1))


def to_range(span: Span, lines: list[str] | None = None, widen: bool = True) -> lsp.Range:
    """The LSP range of a span (its end column is exclusive, as a diagnostic's caret shows);
    ``lines`` of the span's own file, or None to count every character as one unit.
    ``widen``: an empty span still covers one character (a caret is never invisible);
    False for the edits of quick fixes, where an empty range is an insertion."""
    end_column = span.end_column
    if widen and span.end_line == span.line:
        end_column = max(end_column, span.column + 1)
    if lines is None:
        return lsp.Range(
            start=_plain(span.line, span.column), end=_plain(span.end_line, end_column)
        )
    return lsp.Range(
        start=position(lines, span.line, span.column),
        end=position(lines, span.end_line, end_column),
    )


def _plain(line: int, column: int) -> lsp.Position:
    return lsp.Position(line=max(line - 1, 0), character=max(column - 1, 0))


def from_position(lines: list[str], pos: lsp.Position) -> tuple[int, int]:
    """The 1-based line and column of an LSP position.

    >>> from_position(["x😀y"], lsp.Position(line=0, character=3))
    (1, 3)
    """
    text = lines[pos.line] if 0 <= pos.line < len(lines) else ""
    return pos.line + 1, _chars(text, pos.character) + 1


def to_diagnostic(d: Diagnostic, lines: list[str]) -> lsp.Diagnostic:
    """The LSP form of a checker diagnostic: its code, range, message and hint."""
    message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    span = Span(file=d.span.file) if d.code == Code.FILE_ERROR else d.span
    return lsp.Diagnostic(
        range=to_range(span, lines),
        message=message,
        severity=_SEVERITY[d.severity],
        code=d.code.value,
        source="marginlex",
    )


def uri_of(file: str) -> str:
    """The ``file://`` URI of a span's file."""
    return Path(file).resolve().as_uri()


def location(span: Span, lines: list[str] | None = None) -> lsp.Location:
    """Where a span is, in any file: ``lines`` of its text, else read from disk."""
    if lines is None:
        try:
            lines = Path(span.file).read_text(RULEBOOK_ENCODING).split("\n")
        except (OSError, UnicodeDecodeError):
            lines = None
    return lsp.Location(uri=uri_of(span.file), range=to_range(span, lines))
