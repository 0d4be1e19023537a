"""Diagnostics: one code catalogue, one rendering (``file:line:col: CODE message``).

Every problem the front end finds is a :class:`Diagnostic` with a :class:`Code`; the
catalogue with an example per code is ``docs/errors.md``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from marginlex.dsl.model.span import Span
from marginlex.printable import printable, same_width


class Code(StrEnum):
    """Diagnostic codes. ``MLX0xx`` files, ``1xx`` syntax, ``2xx`` names, ``3xx`` types,
    ``4xx`` tables, ``5xx`` dates, ``6xx`` conflicts, gaps and dead rules (decided by the
    SMT solver, :mod:`.check.conflict_pass`; each may be accepted with
    ``accept CODE because "..."``), ``7xx`` what the evaluator does not implement."""

    FILE_ERROR = "MLX001"
    TOO_LARGE = "MLX002"
    SYNTAX = "MLX100"
    UNEXPECTED_END = "MLX101"
    BAD_CHARACTER = "MLX102"
    BAD_LITERAL = "MLX103"
    MISSING_CLAUSE = "MLX104"
    DUPLICATE_CLAUSE = "MLX105"
    UNKNOWN_WORD = "MLX106"
    TOO_DEEP = "MLX107"
    UNKNOWN_FIELD = "MLX200"
    UNKNOWN_REFERENCE = "MLX201"
    UNKNOWN_RULEBOOK = "MLX202"
    CYCLIC_EXTENDS = "MLX203"
    AMBIGUOUS_RULEBOOK = "MLX204"
    SHADOWS_SHIPPED = "MLX205"
    NOTHING_TO_REPLACE = "MLX206"
    UNKNOWN_REASON_PARAMETER = "MLX207"
    ELIGIBILITY_ONLY_FIELD = "MLX208"
    DUPLICATE_ID = "MLX210"
    INHERITED_REDEFINED = "MLX211"
    NOTHING_TO_OVERRIDE = "MLX212"
    REQUIREMENT_EDIT = "MLX213"
    OVERRIDE_DROPS = "MLX214"
    UNUSED_PARAMETER = "MLX215"
    ROW_EDIT = "MLX216"
    REMOVED_IN_USE = "MLX217"
    MISSING_CITATION = "MLX220"
    EMPTY_CITATION = "MLX221"
    MISSING_STATUS = "MLX222"
    STALE_REASON_FIGURE = "MLX224"
    UNIT_MISMATCH = "MLX300"
    TYPE_MISMATCH = "MLX301"
    UNKNOWN_VALUE = "MLX302"
    BELOW_FLOOR = "MLX303"
    BUCKET_ORDER = "MLX400"
    BUCKET_GAP = "MLX401"
    PERCENT_RANGE = "MLX402"
    DUPLICATE_ROW = "MLX403"
    TOO_MANY_ROWS = "MLX404"
    TOO_MANY_POINTS = "MLX405"
    SPREAD_LEG = "MLX406"
    PAIRING = "MLX407"
    PER_SHARE_LEG = "MLX408"
    EFFECTIVE_OVERLAP = "MLX500"
    EFFECTIVE_EMPTY = "MLX501"
    OVERRIDE_GAP = "MLX502"
    SCOPE_OVERLAP = "MLX600"
    NEVER_ELIGIBLE = "MLX601"
    HAIRCUT_OVERLAP = "MLX602"
    ROW_OVERLAP = "MLX603"
    ROW_UNREACHABLE = "MLX604"
    ROW_GAP = "MLX605"
    METHOD_NEVER_APPLIES = "MLX606"
    METHOD_OVERLAP = "MLX607"
    METHOD_GAP = "MLX608"
    CREDIT_CONFLICT = "MLX609"
    UNUSED_ACCEPT = "MLX610"
    UNSUPPORTED = "MLX700"

    @property
    def docs(self) -> str:
        """Where the error catalogue explains this code (a page of the docs site).

        >>> Code.UNKNOWN_FIELD.docs
        'docs/errors.md#mlx200'
        """
        return f"docs/errors.md#{self.value.lower()}"


#: The findings an ``accept`` clause may accept (the solver's; never a plain error).
SOLVER_FINDINGS = frozenset(c for c in Code if "MLX600" <= c.value <= "MLX609")
#: Warnings a rulebook may accept with a reason (``accept CODE because "..."``): the solver's
#: findings, an override that drops parts of what it replaces, a parameter no rule uses.
ACCEPTABLE = SOLVER_FINDINGS | {Code.OVERRIDE_DROPS, Code.UNUSED_PARAMETER, Code.MISSING_STATUS}


class Severity(StrEnum):
    """Errors make ``marginlex check`` fail; warnings are shown but do not."""

    ERROR = "error"
    WARNING = "warning"


class Diagnostic(BaseModel):
    """One problem at one place, with an optional hint saying what to do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Code
    message: str
    span: Span
    hint: str | None = None
    severity: Severity = Severity.ERROR

    def headline(self) -> str:
        """``file:line:col: CODE message`` (``CODE warning: message`` for a warning).

        A file that cannot be read has no line to point at: ``file: MLX001 message``.
        """
        s = self.span
        kind = "warning: " if self.severity == Severity.WARNING else ""
        where = s.file if self.code == Code.FILE_ERROR else f"{s.file}:{s.line}:{s.column}"
        return f"{where}: {self.code.value} {kind}{self.message}"

    def render(self, source: str | None = None) -> str:
        """The headline, the source line with a caret under the span, and the hint.

        >>> d = Diagnostic(code=Code.UNKNOWN_FIELD, message="unknown field", span=Span(
        ...     file="a.mlx", line=1, column=9, end_line=1, end_column=12))
        >>> print(d.render("require account.eqity"))
        a.mlx:1:9: MLX200 unknown field
            1 | require account.eqity
              |         ^^^

        A control character or a bidirectional control in the file, the message or the hint
        is shown written out (:mod:`marginlex.printable`), never sent to the terminal: in
        the source line as one visible character, so that the caret still points at it.
        """
        lines = [printable(self.headline())]
        src_line = _line_of(source, self.span.line) if source is not None else None
        if src_line is not None:
            width = 1
            if self.span.end_line == self.span.line and self.span.end_column > self.span.column:
                width = self.span.end_column - self.span.column
            number = str(self.span.line)
            # a tab is shown as four spaces, on the line and under it, so that the caret
            # lands where the terminal draws the column (its tab stops count the prefix too)
            start = self.span.column - 1
            pad = len(_untabbed(src_line[:start]))
            width = len(_untabbed(src_line[start : start + width])) or width
            shown, pad, width = _window(_untabbed(same_width(src_line)), pad, width)
            lines.append(f"{number:>5} | {shown}")
            lines.append(f"{'':>5} | {' ' * pad}{'^' * width}")
        if self.hint:
            lines.append(f"{'':>5} = hint: {printable(self.hint)}")
        return "\n".join(lines)


MAX_SHOWN_LINE = 400
"""Characters of a source line a diagnostic shows whole (the shipped rulebooks' longest is
344); a longer one is shown :data:`SHOWN_WINDOW` characters around the caret."""
SHOWN_WINDOW = 200
"""Characters shown of a line past :data:`MAX_SHOWN_LINE` (a condition of 20,000 terms on one
line printed 600 KB, twice: the line and the spaces before its caret)."""


def _window(shown: str, pad: int, width: int) -> tuple[str, int, int]:
    """The part of a long shown line around the caret, with ``…`` where it is cut, and the
    caret's offset and width in it.

    >>> line, pad, width = _window("x" * 1000 + "^^" + "y" * 1000, 1000, 2)
    >>> len(line), line[:3], line[-1], line[pad : pad + width]
    (202, '…xx', '…', '^^')
    >>> _window("short", 2, 1)
    ('short', 2, 1)
    """
    if len(shown) <= MAX_SHOWN_LINE:
        return shown, pad, width
    start = max(0, min(pad - SHOWN_WINDOW // 3, len(shown) - SHOWN_WINDOW))
    end = start + SHOWN_WINDOW
    head = "…" if start > 0 else ""
    tail = "…" if end < len(shown) else ""
    width = max(1, min(width, end - pad))
    return head + shown[start:end] + tail, pad - start + len(head), width


def _untabbed(text: str) -> str:
    """A source line as shown: a tab as four spaces."""
    return text.replace("\t", "    ")


def _line_of(source: str, line: int) -> str | None:
    r"""Line ``line`` of ``source``, counted as the parser counts them: at each ``\n`` only
    (``str.splitlines`` also breaks at a form feed or U+2028, and showed the wrong line).

    >>> _line_of("a\fb\nc\r\n", 2)
    'c'
    """
    lines = source.split("\n")
    if 1 <= line <= len(lines):
        return lines[line - 1].rstrip()
    return None


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A hint naming the closest candidate, or None when nothing is close.

    Case is ignored when matching (``DCO`` finds ``dco``), but the hint spells the
    candidate as it must be written.

    >>> did_you_mean("eqity", ["equity", "kind"])
    'did you mean `equity`?'
    >>> did_you_mean("DCO", ["dco", "fcm"])
    'did you mean `dco`?'
    """
    by_lower = {c.lower(): c for c in sorted(set(candidates), reverse=True)}
    close = difflib.get_close_matches(word.lower(), sorted(by_lower), n=1, cutoff=0.6)
    return f"did you mean `{by_lower[close[0]]}`?" if close else None


class RulebookError(Exception):
    """Raised when a rulebook cannot be parsed, built or resolved; carries the diagnostics."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        first = self.diagnostics[0].headline() if self.diagnostics else "rulebook error"
        super().__init__(first)


class RulebookClaimError(Exception):
    """Raised when a rulebook id cannot be looked up safely: two files claim it, or a file
    takes a shipped id without saying ``replaces shipped``. The resolver reports it at the
    ``extends`` that asked; a command line reports it for the id it was given."""

    def __init__(self, code: Code, message: str, hint: str | None = None) -> None:
        self.code = code
        self.message = message
        self.hint = hint
        super().__init__(f"{code.value} {message}")

    def at(self, span: Span) -> Diagnostic:
        """The diagnostic at the place that named the id."""
        return error(self.code, self.message, span, self.hint)


class BuildError(Exception):
    """Raised inside the transformer; unwrapped from lark's VisitError by the parser."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic
        super().__init__(diagnostic.headline())


def error(code: Code, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    """Shorthand for an error diagnostic."""
    return Diagnostic(code=code, message=message, span=span, hint=hint)


def warning(code: Code, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    """Shorthand for a warning diagnostic."""
    return Diagnostic(code=code, message=message, span=span, hint=hint, severity=Severity.WARNING)


def settle(
    code: Code, finding: Diagnostic | None, accepts: Iterable[Any], span: Span
) -> list[Diagnostic]:
    """A warning as its statement's ``accept`` clauses leave it (for MLX214, MLX215, MLX222).

    An accepted finding is dropped; an ``accept`` of ``code`` with nothing to accept is
    itself a warning (MLX610), so that accepts do not outlive what they accepted.
    """
    accepted = [a for a in accepts if a.code == code.value]
    if finding is not None:
        return [] if accepted else [finding]
    return [
        warning(
            Code.UNUSED_ACCEPT,
            f"nothing to accept: the checker finds no {code.value} here",
            a.span,
            "remove this `accept`: the finding it accepted is gone",
        )
        for a in accepted
    ]
