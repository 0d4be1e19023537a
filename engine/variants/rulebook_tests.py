"""Rulebook tests: a small book, an as-of date and expected decision fields, in TOML.

A test file ``*.test.toml`` sits beside the rulebooks (the shipped ones in
``rulebooks/tests/``). Top-level keys: ``rulebook`` (an id, or a ``.mlx`` path relative to
the test file), ``as_of`` (a date), optional ``description``; arrays of tables
``[[parties]]``, ``[[accounts]]``, ``[[relations]]``, ``[[instruments]]``, ``[[positions]]``,
``[[collateral]]`` with the book-format columns (``docs/book-format.md``; ``agreements`` may
be a list; a party's ``name`` defaults to its id, ``ecp`` to false, ``options_approval`` to
none); and ``[[expect]]`` tables, one per checked decision:

```toml
[[expect]]
name = "uncovered writer with $248,260 equity is eligible"
account = "A01"            # the decision of the margin set holding this account
rulebook = "harmonized"    # optional: another rulebook than the file's
eligible = true
failed_requirements = []   # order does not matter
requirement = 21053.37     # money to the cent
call = 0
status = "ok"
```

Fields that can be expected: ``decided`` (false: the account is out of scope),
``margin_set_id``, ``account_ids``, ``eligible``, ``failed_requirements``,
``method_rule_id``, ``requirement``, ``initial``, ``initial_rule_id`` ("" when no initial
multiple applies), ``equity``, ``value``, ``excess``,
``call``, ``status``, ``segregation_violations``. The fragment goes through the same
validation as any book. :func:`run_tests` evaluates each file's rulebooks once and checks
every expectation; coverage is computed by :mod:`marginlex.engine.variants.coverage`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from marginlex.dsl.claims import RULEBOOK_ENCODING, not_utf8_text, undecodable_at
from marginlex.dsl.diagnostics import RulebookError, did_you_mean
from marginlex.dsl.loader import load_rulebook, shipped_dir
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book, load_book
from marginlex.engine.book.memory import read_small_file
from marginlex.engine.book.problems import FIRST_DATA_ROW, BookError, BookProblem, Severity
from marginlex.engine.book.schema import FILES
from marginlex.engine.book.spellings import number_hint
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.outcomes import DecisionStatus
from marginlex.engine.run import run_rulebook
from marginlex.engine.variants.coverage import RulebookCoverage, coverage
from marginlex.engine.variants.decision_trace import render_trace
from marginlex.engine.variants.fragment_columns import unknown_columns
from marginlex.engine.variants.properties import KINDS, PropertyResult, PropertySpec
from marginlex.engine.variants.toml_lines import entry_line, locate

SUFFIX = ".test.toml"
MONEY = ("requirement", "initial", "equity", "value", "excess", "call")
LISTS = ("account_ids", "failed_requirements", "segregation_violations")
_COLUMN = {"requirement": "maintenance"}
_DEFAULTS = {"parties": {"ecp": False, "options_approval": "none"}}


class RulebookTestError(ValueError):
    """A test file that cannot be read or run (with the file and what is wrong)."""


class Expectation(BaseModel):
    """One ``[[expect]]`` table: the decision of the set holding ``account``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account: str
    name: str = ""
    rulebook: str | None = None
    decided: StrictBool = True  # `decided = 0` and `eligible = "off"` were read as false
    margin_set_id: str | None = None
    account_ids: list[str] | None = None
    eligible: StrictBool | None = None
    failed_requirements: list[str] | None = None
    method_rule_id: str | None = None
    requirement: float | None = None
    initial: float | None = None
    initial_rule_id: str | None = None
    equity: float | None = None
    value: float | None = None
    excess: float | None = None
    call: float | None = None
    status: DecisionStatus | None = None
    segregation_violations: list[str] | None = None

    @field_validator(*MONEY, mode="before")
    @classmethod
    def _money_not_a_truth_value(cls, value: Any) -> Any:
        # `requirement = true` was 1.00 and `call = false` 0.00
        if isinstance(value, bool):
            raise ValueError(f"{str(value).lower()} is not an amount: write a number, e.g. 0")
        return value


class TestFile(BaseModel):
    """A parsed test file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rulebook: str
    as_of: dt.date
    description: str = ""
    parties: list[dict[str, Any]] = []
    accounts: list[dict[str, Any]] = []
    relations: list[dict[str, Any]] = []
    instruments: list[dict[str, Any]] = []
    positions: list[dict[str, Any]] = []
    collateral: list[dict[str, Any]] = []
    expect: list[Expectation] = []
    property: list[PropertySpec] = []

    @field_validator("as_of", mode="before")
    @classmethod
    def _a_date_not_a_number(cls, value: Any) -> Any:
        # pydantic reads a number as Unix time: `as_of = 1782777600` was 2026-06-30, `0`
        # 1970-01-01, and `20260630` "a datetime with a time"
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"{value!r} is a number, not a date: write it as YYYY-MM-DD")
        return value

    @model_validator(mode="after")
    def _checks_something(self) -> TestFile:
        if not self.expect and not self.property:  # it would pass whatever the rulebook says
            raise ValueError(
                "the file checks nothing: add an [[expect]] table (an account and the figures "
                "its decision must show) or a [[property]]"
            )
        return self


class Mismatch(BaseModel):
    """One expected field that differs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    expected: str
    actual: str


class CaseResult(BaseModel):
    """The outcome of one expectation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    name: str
    rulebook: str
    account: str
    margin_set_id: str
    mismatches: tuple[Mismatch, ...] = ()
    error: str = ""
    trace: str = ""

    @property
    def passed(self) -> bool:
        """No mismatch and no error."""
        return not self.mismatches and not self.error


class TestReport(BaseModel):
    """Every case of every file, and the coverage of every rulebook tested."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cases: tuple[CaseResult, ...]
    coverage: tuple[RulebookCoverage, ...]
    properties: tuple[PropertyResult, ...] = ()

    @property
    def failed(self) -> tuple[CaseResult, ...]:
        """The cases that did not pass."""
        return tuple(c for c in self.cases if not c.passed)

    @property
    def failed_properties(self) -> tuple[PropertyResult, ...]:
        """The properties whose outcome is not the expected one."""
        return tuple(p for p in self.properties if not p.ok)


def find_test_files(paths: list[Path] | None = None) -> list[Path]:
    """The ``*.test.toml`` files named or found under folders (default: shipped rulebooks)."""
    found: list[Path] = []
    for p in paths or [shipped_dir()]:
        if p.is_dir():
            found += sorted(p.rglob(f"*{SUFFIX}"))
        elif p.suffix == ".mlx" and p.is_file():  # the rulebook, where its tests were meant
            beside = p.with_name(p.name.removesuffix(".mlx") + SUFFIX)
            hint = f"{beside}" + (" beside it" if beside.exists() else ", a file to write")
            raise RulebookTestError(
                f"{p}: a rulebook, not a rulebook test file: `marginlex test` runs the tests "
                f"written for it (files ending in {SUFFIX}), e.g. {hint}"
            )
        elif p.is_file() or p.exists():  # a device or a pipe: read_test_file says so, unread
            found.append(p)
        else:
            raise RulebookTestError(f"{p}: no such file or folder (test files end in {SUFFIX})")
    return found


MAX_TEST_FILE_BYTES = 10_000_000
"""A test file is a hand-written book and its expected figures: one this large is not one."""


def read_test_file(path: Path) -> TestFile:
    """Parse and validate one test file; an error names the file, line and column."""
    try:
        data = read_small_file(path, MAX_TEST_FILE_BYTES)
        text = data.decode(RULEBOOK_ENCODING)
        raw = tomllib.loads(text)
        test = TestFile.model_validate(raw)
    except OSError as exc:
        raise RulebookTestError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        line, column = undecodable_at(data, exc)
        said = not_utf8_text(data, exc)
        raise RulebookTestError(f"{path}:{line}:{column}: {said}; save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulebookTestError(_toml_syntax(path, str(exc))) from None
    except RecursionError:  # arrays or tables nested hundreds deep
        raise RulebookTestError(f"{path}: cannot read the TOML: nested too deeply") from None
    except ValidationError as exc:
        raise RulebookTestError("\n".join(_problem(path, text, e) for e in exc.errors())) from None
    tables = {spec.stem: getattr(test, spec.stem) for spec in FILES}
    unknown = unknown_columns(path, text, tables) + _unknown_accounts(path, text, test)
    if unknown:
        raise RulebookTestError("\n".join(unknown))
    return test


def _unknown_accounts(path: Path, text: str, test: TestFile) -> list[str]:
    """Each ``[[expect]]`` naming an account the file does not hold, at its ``account =``
    line ("decided: expected true" said less)."""
    known = [str(a.get("account_id")) for a in test.accounts]
    found = []
    for i, e in enumerate(test.expect):
        if e.account not in known:
            where = locate(text, ("expect", i, "account"))
            prefix = f"{path}:{where[0]}:{where[1]}" if where else str(path)
            found.append(
                f"{prefix}: expect.{i}.account: {e.account!r} is not in this file's accounts "
                f"({', '.join(known) or 'none'})"
            )
    return found


def _toml_syntax(path: Path, message: str) -> str:
    at = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if at is None:
        return f"{path}: {message}"
    return f"{path}:{at.group(1)}:{at.group(2)}: {message[: at.start()]}"


def _problem(path: Path, text: str, error: Any) -> str:
    """One validation error as ``file:line:col: key.path: what`` with a did-you-mean."""
    loc = tuple(error["loc"])
    if loc[:1] == ("property",) and len(loc) > 2 and loc[2] in KINDS:
        loc = loc[:2] + loc[3:]  # the `kind` tag pydantic adds is no key of the file
    if error["type"] == "union_tag_invalid":
        return _bad_kind(path, text, loc, error)
    where = locate(text, loc) if loc else None
    if where is None and len(loc) >= 2 and isinstance(loc[1], int):  # a key left out: its entry
        line = entry_line(text, str(loc[0]), loc[1])
        where = None if line is None else (line, 1)
    prefix = f"{path}:{where[0]}:{where[1]}" if where else str(path)
    what = _what(error)
    message = f"{prefix}: {'.'.join(map(str, loc))}: {what}" if loc else f"{prefix}: {what}"
    if error["type"] == "extra_forbidden" and isinstance(loc[-1], str):
        model = {"expect": Expectation}.get(str(loc[0]), TestFile)
        fields = model.model_fields if len(loc) == 1 or loc[0] == "expect" else _property_keys()
        hint = did_you_mean(loc[-1], fields)
        message += f"; {hint}" if hint else ""
    return message


_NUMBER_PARSING = ("float_parsing", "decimal_parsing", "int_parsing")


def _what(error: Any) -> str:
    """What is wrong, in the words of the file: a key it does not know or leaves out, a figure
    in quotes (how to write it, as a book's cells are told), else pydantic's message.

    >>> _what({"type": "extra_forbidden", "msg": "Extra inputs are not permitted"})
    'unknown key'
    >>> said = _what({"type": "decimal_parsing", "msg": "...", "input": "100,000.00"})
    >>> for part in said.split(", "):
    ...     print(part)
    the text '100,000.00' where a number is expected: write it without quotes
    and leave out the thousands separators: 100000.00
    """
    given = error.get("input")
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "required, and left out"
    if error["type"] in _NUMBER_PARSING and isinstance(given, str):
        hint = number_hint(given.strip())
        how = f", and {hint.removeprefix(': ')}" if hint else ""
        return f"the text {given!r} where a number is expected: write it without quotes{how}"
    return str(error["msg"]).removeprefix("Value error, ")


def _bad_kind(path: Path, text: str, loc: tuple[Any, ...], error: Any) -> str:
    """A ``[[property]]`` whose ``kind`` is not in the catalogue, at the ``kind =`` line."""
    loc = (*loc, "kind")
    where = locate(text, loc)
    prefix = f"{path}:{where[0]}:{where[1]}" if where else str(path)
    given = str(error.get("ctx", {}).get("tag", ""))
    hint = did_you_mean(given, KINDS)
    known = ", ".join(KINDS)
    return (
        f"{prefix}: {'.'.join(map(str, loc))}: unknown property kind `{given}` (known: {known})"
        + (f"; {hint}" if hint else "")
    )


def _property_keys() -> list[str]:
    from marginlex.engine.variants import properties as p  # noqa: PLC0415

    kinds = (p.Monotone, p.CollateralNeverCreatesCall, p.HarmonizedBound, p.Dominates)
    return sorted({f for k in kinds for f in k.model_fields})


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(map(str, value))
    return "" if value is None else str(value)


def build_book(test: TestFile, path: Path) -> Book:
    """Write the fragment as a book folder and load it (validated like any book)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        meta = {"as_of": test.as_of.isoformat(), "currency": "USD", "name": path.name}
        (folder / "book.json").write_text(json.dumps(meta), encoding="utf-8")
        for spec in FILES:
            rows = getattr(test, spec.stem)
            defaults = {"name": None, **_DEFAULTS.get(spec.stem, {})}
            filled = [{**defaults, **r} for r in rows]
            for r in filled:
                if spec.stem == "parties" and r["name"] is None:
                    r["name"] = r.get("party_id")
            frame = pd.DataFrame(
                {c: [_cell(r.get(c)) for r in filled] for c in spec.names}, dtype="str"
            )
            try:
                frame.to_csv(folder / f"{spec.stem}.csv", index=False)
            except OSError as exc:  # a full disk, a file-size limit
                raise RulebookTestError(
                    f"{path}: cannot write its book fragment to a temporary folder "
                    f"({folder / spec.stem}.csv): {exc.strerror or exc}"
                ) from exc
        try:
            return load_book(folder)
        except BookError as exc:
            text = path.read_text(encoding=RULEBOOK_ENCODING)  # read once already: a small file
            found = [_fragment_problem(path, text, p) for p in exc.problems]
            raise RulebookTestError(
                f"{path}: the book fragment is not valid:\n" + "\n".join(found)
            ) from None


def _fragment_problem(path: Path, text: str, problem: BookProblem) -> str:
    """A problem of the book a test file writes, at the entry of the file that holds it
    (``bad.test.toml:15: positions[2]: instrument_id: ...``), not at the row of the CSV
    file the fragment was written to and that nobody sees."""
    stem = problem.file.rsplit(".", 1)[0]
    message = problem.message
    for spec in FILES:  # "(not in instruments.csv)": the file's own table
        message = message.replace(f"{spec.stem}.csv", spec.stem)
    column = "" if problem.column in ("-", "") else f" {problem.column}:"
    warning = "warning: " if problem.severity is Severity.WARNING else ""
    if problem.row < FIRST_DATA_ROW:  # the table, or book.json's fields
        return f"{path}: {stem}:{column} {warning}{message}"
    index = problem.row - FIRST_DATA_ROW
    line = entry_line(text, stem, index)
    where = f"{path}:{line}" if line is not None else str(path)
    return f"{where}: {stem}[{index + 1}]:{column} {warning}{message}"


def _load(name: str, near: Path) -> ResolvedRulebook:
    """The rulebook a test file names: a file beside it, else an id, looked up among the
    files beside it too (a desk's own variant) and the shipped rulebooks."""
    local = near / name
    try:
        return load_rulebook(local if local.is_file() else name, near=[near])
    except RulebookError as exc:  # each where it is, with its hint (the messages alone before)
        shown = "\n".join(d.render() for d in exc.diagnostics)
        raise RulebookTestError(f"rulebook `{name}` does not load:\n{shown}") from None


def _actual(row: pd.Series, field: str) -> Any:
    value = row[_COLUMN.get(field, field)]
    if field in LISTS:
        return sorted(x for x in str(value).split(";") if x)
    return value


def _same(field: str, expected: Any, actual: Any) -> bool:
    if field in MONEY:
        missing = actual is None or (isinstance(actual, float) and math.isnan(actual))
        return not missing and abs(float(actual) - float(expected)) < 0.005
    if field in LISTS:
        return bool(sorted(expected) == actual)
    return bool(expected == actual) if isinstance(expected, bool) else str(expected) == str(actual)


def check_expectation(e: Expectation, evaluation: Evaluation) -> tuple[str, list[Mismatch]]:
    """The margin set id of the expectation's decision and the fields that differ."""
    d = evaluation.decisions
    hit = d[d["account_ids"].str.split(";").apply(lambda ids: e.account in ids)]
    if hit.empty:
        if e.decided:
            return "", [Mismatch(field="decided", expected="true", actual="false")]
        return "", []
    row = hit.iloc[0]
    if not e.decided:
        return str(row["margin_set_id"]), [
            Mismatch(field="decided", expected="false", actual="true")
        ]
    wanted = e.model_dump(exclude={"account", "name", "rulebook", "decided"}, exclude_none=True)
    bad = [
        Mismatch(field=f, expected=_show(f, v), actual=_show(f, _actual(row, f)))
        for f, v in wanted.items()
        if not _same(f, v, _actual(row, f))
    ]
    return str(row["margin_set_id"]), bad


def _show(field: str, value: Any) -> str:
    if (
        field in MONEY
        and value is not None
        and not (isinstance(value, float) and math.isnan(value))
    ):
        return f"{float(value):,.2f}"
    return json.dumps(value, default=str) if isinstance(value, list) else str(value)


def _run_file(
    path: Path, runs: dict[str, tuple[ResolvedRulebook, list[Evaluation]]]
) -> list[CaseResult]:
    test = read_test_file(path)
    if not test.expect:  # a file of properties only
        return []
    book = build_book(test, path)
    evaluations: dict[str, Evaluation] = {}
    results: list[CaseResult] = []
    for e in test.expect:
        name = e.rulebook or test.rulebook
        if name not in evaluations:
            rulebook = _load(name, path.parent)
            evaluations[name] = run_rulebook(rulebook, book, test.as_of)
            runs.setdefault(rulebook.id, (rulebook, []))[1].append(evaluations[name])
        evaluation = evaluations[name]
        set_id, bad = check_expectation(e, evaluation)
        trace = render_trace(evaluation, set_id) if bad and set_id else ""
        results.append(
            CaseResult(
                file=str(path),
                name=e.name or f"{e.account} under {name}",
                rulebook=evaluation.rulebook_id,
                account=e.account,
                margin_set_id=set_id,
                mismatches=tuple(bad),
                trace=trace,
            )
        )
    return results


Runs = dict[str, tuple[ResolvedRulebook, list[Evaluation]]]
"""By rulebook id: the rulebook and the evaluations its tests ran."""


def run_file(path: Path) -> tuple[list[CaseResult], Runs]:
    """One test file's cases, and the rulebooks and evaluations behind them (what the
    rendered rulebooks use to say which tests cover a statement). Raises
    :class:`RulebookTestError` when the file cannot be read or run."""
    runs: Runs = {}
    return _run_file(path, runs), runs


def run_tests(paths: list[Path] | None = None, properties: bool = True) -> TestReport:
    """Run every test file under the paths and compute rule coverage.

    Args:
        paths: test files or folders (default: the shipped rulebooks' folder).
        properties: also check the files' ``[[property]]`` laws on generated books.

    Returns:
        Every case, and the coverage of each rulebook some test evaluated. A file that
        cannot be read or run gives one failed case with the error.
    """
    from marginlex.engine.variants.property_runs import run_properties  # noqa: PLC0415

    runs: dict[str, tuple[ResolvedRulebook, list[Evaluation]]] = {}
    cases: list[CaseResult] = []
    props: list[PropertyResult] = []
    for path in find_test_files(paths):
        try:
            cases += _run_file(path, runs)
            if properties:
                props += run_properties(path)
        except (RulebookTestError, ValueError, KeyError) as exc:
            cases.append(
                CaseResult(
                    file=str(path),
                    name=path.name,
                    rulebook="",
                    account="",
                    margin_set_id="",
                    error=str(exc),
                )
            )
    covered = tuple(coverage(rb, evs) for rb, evs in runs.values())
    return TestReport(cases=tuple(cases), coverage=covered, properties=tuple(props))
