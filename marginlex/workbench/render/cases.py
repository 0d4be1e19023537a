"""The index of the rulebook test cases behind a rendered rulebook (no engine import: a
page rendered without tests never loads the engine)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from marginlex.workbench.render.document import TestRef, TestsDoc


class CaseRun(BaseModel):
    """One test case that ran: its file as shown, its name, its rulebook, whether it passed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    name: str
    rulebook: str
    passed: bool


class FileError(BaseModel):
    """A test file that could not be read or run, and the rulebooks it names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    message: str
    names: tuple[str, ...]

    def concerns(self, rulebook_id: str) -> bool:
        """Whether the file names the rulebook (or names one by path, which may be it)."""
        return rulebook_id in self.names or any(n.endswith(".mlx") for n in self.names)


class CaseIndex(BaseModel):
    """The test cases that ran, and by rulebook id and statement id the cases covering it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ran: bool = False
    cases: tuple[CaseRun, ...] = ()
    """Every case that ran."""
    by_statement: dict[str, dict[str, tuple[TestRef, ...]]] = {}
    errors: tuple[FileError, ...] = ()

    def tests_of(self, rulebook_id: str, statement_id: str) -> tuple[TestRef, ...]:
        """The cases covering one statement of one rulebook."""
        return self.by_statement.get(rulebook_id, {}).get(statement_id, ())

    def summary(self, rulebook_id: str) -> TestsDoc:
        """The files and counts of the cases that ran under ``rulebook_id``."""
        mine = [c for c in self.cases if c.rulebook == rulebook_id]
        files = tuple(dict.fromkeys(c.file for c in mine))
        passed = sum(c.passed for c in mine)
        errors = tuple(e.message for e in self.errors if e.concerns(rulebook_id))
        return TestsDoc(files=files, cases=len(mine), passed=passed, ran=self.ran, errors=errors)
