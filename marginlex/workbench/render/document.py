"""The typed document of one rendered rulebook: what a reader sees, before any markup.

:func:`~marginlex.workbench.render.build.build_document` fills it from a resolved rulebook;
the HTML and Markdown templates only lay it out. Every text here is plain text from the
rulebook (citations, reasons, canonical expressions): the templates escape it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from marginlex.dsl.diff import StatementChange
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.provenance import SourceFile


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Cell(_Frozen):
    """One table cell; ``anchor`` links it to a statement of the page (a parameter)."""

    text: str
    anchor: str = ""
    code: bool = True
    """True when ``text`` is rulebook language (shown as code), False for prose (a reason)."""


class Row(_Frozen):
    """A table row with its own evidence (the row note), when it has one."""

    cells: tuple[Cell, ...]
    status: m.Status | None = None
    citation: str = ""


class Table(_Frozen):
    """A decision table of a statement: buckets, asset rows, ranges, rates, credits."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]

    @property
    def has_evidence(self) -> bool:
        """Whether any row carries its own status or citation (the column is shown then)."""
        return any(r.status is not None or r.citation for r in self.rows)


class Clause(_Frozen):
    """A labelled line: a condition (``applies to accounts where``) or a setting."""

    label: str
    text: str
    code: bool = True
    """True when ``text`` is rulebook language (an expression, a value), shown as code."""


class TestRef(_Frozen):
    """A rulebook test case whose decision exercised the statement."""

    file: str
    case: str
    passed: bool


class StatementDoc(_Frozen):
    """One statement (one dated version of an id) as the reader sees it."""

    id: str
    kind: m.StatementKind
    anchor: str
    origin: str
    inherited: bool
    overrides: bool
    """True when the rulebook that defines it replaced an inherited statement (``override``)."""
    citation: str
    status: m.Status | None
    effective: str
    value: str = ""
    clauses: tuple[Clause, ...] = ()
    tables: tuple[Table, ...] = ()
    accepts: tuple[Clause, ...] = ()
    uses: tuple[str, ...] = ()
    used_by: tuple[str, ...] = ()
    tests: tuple[TestRef, ...] = ()
    source: str = ""


class Section(_Frozen):
    """Statements under one heading of the source (``# ---- offsets ----``)."""

    title: str
    anchor: str
    statements: tuple[StatementDoc, ...]


class HeaderDoc(_Frozen):
    """The rulebook header and the files it was resolved from."""

    id: str
    title: str
    jurisdiction: str
    version: str
    effective: str
    citation: str
    extends: tuple[str, ...]
    accepts: tuple[Clause, ...]
    sources: tuple[SourceFile, ...]


class DiffDoc(_Frozen):
    """What a variant changes against one of its bases (from :mod:`marginlex.dsl.diff`)."""

    base: str
    changes: tuple[StatementChange, ...]


class TestsDoc(_Frozen):
    """The rulebook tests that ran for the page (empty when none were run)."""

    files: tuple[str, ...] = ()
    cases: int = 0
    passed: int = 0
    ran: bool = False
    errors: tuple[str, ...] = ()
    """Test files naming the rulebook that could not be read or run, with the reason."""


class RulebookDocument(_Frozen):
    """A whole rendered rulebook."""

    header: HeaderDoc
    sections: tuple[Section, ...]
    diffs: tuple[DiffDoc, ...] = ()
    tests: TestsDoc = TestsDoc()

    @property
    def statements(self) -> tuple[StatementDoc, ...]:
        """Every statement, in page order."""
        return tuple(s for section in self.sections for s in section.statements)
