"""Mutation testing of rulebooks: change each figure in turn, and see whether a test notices.

A **figure** is a quantity written in a statement of the resolved rulebook: a parameter's
value, a rate or range of a table row, a bucket's bound, a minimum, a number inside a
condition (``instrument.residual_maturity < 3 years``). Each figure gives up to three
**mutants**, each one figure changed on the model (never the text): ×10, ÷10, and the same
figure of the neighbouring row of its table (the next row; the previous one for the last
row). A mutant equal to the original (0 × 10, a neighbour with the same value) is not made.

A mutant is **killed** when the checker refuses the changed figure (a rate of 150%, a
bucket out of order: ``marginlex check`` would not let it be written) or some test that
evaluates the rulebook fails under it: an expectation differs, or compilation or evaluation
refuses it. The tests are expected to pass
on the rulebook as written (``marginlex test`` runs them first): a mutant whose decisions
are all as before cannot fail one, and is not checked further. The tests' books are built
once, and each mutant's evaluation reuses the phases the changed figure cannot reach
(:mod:`marginlex.engine.phases.reuse`), so a shipped rulebook's mutants run in seconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict

from marginlex.dsl.check.tables import table_diagnostics, value_diagnostics
from marginlex.dsl.diagnostics import Severity
from marginlex.dsl.format.expressions import quantity
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book
from marginlex.engine.evaluate import evaluate_run
from marginlex.engine.phases.reuse import Reuse, reuse_from
from marginlex.engine.plan.compile import CompileError, compile_plan
from marginlex.engine.plan.context import EvaluationError
from marginlex.engine.variants.rulebook_tests import (
    Expectation,
    _load,
    build_book,
    check_expectation,
    find_test_files,
    read_test_file,
)

Path_ = tuple[str | int, ...]
_TABLES = ("buckets", "rows", "ranges", "others")


class Mutant(BaseModel):
    """One figure of one statement, changed one way."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_id: str
    row: str
    figure: str
    mutation: str
    statement: int
    paths: tuple[tuple[str | int, ...], ...]
    amount: float
    line: int
    file: str = ""  # the file the statement is written in (a base's, for an inherited one)


class MutantResult(BaseModel):
    """A mutant and what became of it (``killed_by``: the first test that failed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mutant: Mutant
    killed: bool
    killed_by: str = ""


class MutationReport(BaseModel):
    """Every mutant of one rulebook and its fate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rulebook_id: str
    tests: int
    results: tuple[MutantResult, ...]
    file: str = ""  # the rulebook's own file: its statements' survivors are listed first

    @property
    def survivors(self) -> tuple[MutantResult, ...]:
        """The mutants no test caught: those of the rulebook's own file first (a variant's
        own figures, among hundreds of its bases'), then in rulebook order."""
        left = [r for r in self.results if not r.killed]
        return tuple(sorted(left, key=lambda r: r.mutant.file != self.file))

    @property
    def own_survivors(self) -> int:
        """How many survivors are figures of the rulebook's own file."""
        return sum(r.mutant.file == self.file for r in self.survivors)

    @property
    def kill_rate(self) -> float:
        """Share of mutants killed, in percent (100 when there are none)."""
        if not self.results:
            return 100.0
        return 100.0 * (len(self.results) - len(self.survivors)) / len(self.results)


def _walk(node: Any, path: Path_) -> Iterator[tuple[Path_, m.Quantity]]:
    if isinstance(node, m.Quantity):
        yield path, node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _walk(getattr(node, name), (*path, name))
    elif isinstance(node, tuple):
        for i, item in enumerate(node):
            yield from _walk(item, (*path, i))


def _at(node: Any, path: Path_) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, tuple) or step >= len(node):
                return None
            node = node[step]
        else:
            node = getattr(node, step, None)
    return node


def replace_at(node: Any, path: Path_, new: Any) -> Any:
    """A copy of ``node`` with the value at ``path`` replaced (frozen models are copied)."""
    if not path:
        return new
    step, rest = path[0], path[1:]
    if isinstance(step, int):
        return tuple(replace_at(x, rest, new) if i == step else x for i, x in enumerate(node))
    return node.model_copy(update={step: replace_at(getattr(node, step), rest, new)})


def _row_label(statement: m.Statement, path: Path_) -> str:
    """The table row a figure is in (``under 9 months``, ``UST_BILL``, ``row 2``), or ''.

    Rows are named as row coverage names them (:mod:`marginlex.engine.variants.rows`).
    """
    for k, step in enumerate(path[:-1]):
        if step in _TABLES and isinstance(path[k + 1], int):
            row: Any = _at(statement, path[: k + 2])
            if isinstance(row, m.Bucket):
                word = "up to" if row.inclusive else "under"
                return f"{word} {quantity(row.upper)}" if row.upper else "otherwise"
            for name in ("asset", "leg", "left"):
                if hasattr(row, name):
                    value = getattr(row, name)
                    if value is None:
                        return "otherwise"
                    return value.value if isinstance(value, Enum) else str(value.name)
            otherwise = " (otherwise)" if getattr(row, "when", 0) is None else ""
            return f"row {int(path[k + 1]) + 1}{otherwise}"
    return ""


def _neighbour(statement: m.Statement, path: Path_) -> m.Quantity | None:
    for k in range(len(path) - 2, -1, -1):
        if path[k] in _TABLES and isinstance(path[k + 1], int):
            table = _at(statement, path[: k + 1])
            i = int(path[k + 1])
            j = i + 1 if i + 1 < len(table) else i - 1
            other = _at(statement, (*path[: k + 1], j, *path[k + 2 :])) if j >= 0 else None
            return other if isinstance(other, m.Quantity) else None
    return None


def _changed(q: m.Quantity, amount: float) -> m.Quantity:
    return q.model_copy(update={"amount": amount, "text": f"{amount:,.10g}"})


def mutants(rulebook: ResolvedRulebook) -> list[Mutant]:
    """Every mutant of a resolved rulebook, in rulebook order (deterministic).

    >>> from marginlex.dsl.loader import load_rulebook
    >>> first = mutants(load_rulebook("sec"))[0]
    >>> first.rule_id, first.figure, first.mutation
    ('pm_min_equity', '100,000 USD', '×10 → 1,000,000 USD')
    """
    out: list[Mutant] = []
    for number, s in enumerate(rulebook.statements):
        # `up and down 10%` is one figure in two slots: mutate them together.
        slots: dict[m.Span, list[Path_]] = {}
        found = list(_walk(s, ()))
        for path, q in found:
            slots.setdefault(q.span, []).append(path)
        for path, q in found:
            if slots[q.span][0] != path:
                continue
            ways = [("×10", q.amount * 10), ("÷10", q.amount / 10)]
            near = _neighbour(s, path)
            if near is not None and near.unit is q.unit:
                ways.append(("neighbour row's", near.amount))
            for name, amount in ways:
                if amount == q.amount:
                    continue
                out.append(
                    Mutant(
                        rule_id=s.id,
                        row=_row_label(s, path),
                        figure=quantity(q),
                        mutation=f"{name} → {quantity(_changed(q, amount))}",
                        statement=number,
                        paths=tuple(slots[q.span]),
                        amount=amount,
                        line=q.span.line,
                        file=Path(q.span.file).name if q.span.file else "",
                    )
                )
    return out


def mutate(rulebook: ResolvedRulebook, mutant: Mutant) -> ResolvedRulebook:
    """The rulebook with the mutant's figure changed (a copy; the original is untouched)."""
    changed = rulebook.statements[mutant.statement]
    for path in mutant.paths:
        changed = replace_at(changed, path, _changed(_at(changed, path), mutant.amount))
    statements = tuple(
        changed if i == mutant.statement else s for i, s in enumerate(rulebook.statements)
    )
    return rulebook.model_copy(update={"statements": statements})


@dataclass
class _Suite:
    """One test file's book, as-of date, expectations on this rulebook, and base run."""

    name: str
    book: Book
    as_of: dt.date
    expect: list[Expectation]
    reuse: Reuse
    decisions: pd.DataFrame


def _suites(rulebook: ResolvedRulebook, paths: list[Path] | None) -> list[_Suite]:
    """The test files that evaluate ``rulebook`` (by id), each built and run once."""
    suites: list[_Suite] = []
    for path in find_test_files(paths):
        test = read_test_file(path)
        names = {e.rulebook or test.rulebook for e in test.expect}
        mine = [n for n in names if _load(n, path.parent).id == rulebook.id]
        if not mine:
            continue
        expect = [e for e in test.expect if (e.rulebook or test.rulebook) in mine]
        book = build_book(test, path)
        base, reuse = evaluate_run(compile_plan(rulebook, test.as_of), book, test.as_of)
        suites.append(_Suite(path.name, book, test.as_of, expect, reuse, base.decisions))
    return suites


def _kill(rulebook: ResolvedRulebook, suites: list[_Suite]) -> str:
    """The first test that fails under the (mutated) rulebook, or ''."""
    for suite in suites:
        try:
            plan = compile_plan(rulebook, suite.as_of)
            reuse = reuse_from(suite.reuse, plan)
            evaluation, _ = evaluate_run(plan, suite.book, suite.as_of, reuse=reuse)
        except (CompileError, EvaluationError, ValueError, KeyError) as exc:
            return f"{suite.name}: refused ({str(exc)[:80]})"
        if evaluation.decisions.equals(suite.decisions):
            continue  # every decision as before: the (passing) expectations still pass
        for e in suite.expect:
            _, bad = check_expectation(e, evaluation)
            if bad:
                return f"{suite.name}: {e.name or e.account} ({bad[0].field})"
    return ""


def _refused(rulebook: ResolvedRulebook, mutant: Mutant) -> str:
    """The checker's first error on the mutated figure ('' when it takes it): a rate of
    150% or a bucket out of order is refused before any test runs, so no test has to."""
    statement = rulebook.statements[mutant.statement]
    params = {p.id: p for p in rulebook.of_kind(m.Parameter)}
    # a parameter's figure is checked where it is used: every statement
    checked = rulebook.statements if isinstance(statement, m.Parameter) else (statement,)
    haircuts = {h.id for h in rulebook.of_kind(m.Haircut)}
    found = [
        d
        for d in (*value_diagnostics(checked, params), *table_diagnostics(checked, haircuts))
        if d.severity is Severity.ERROR
    ]
    return f"marginlex check: {found[0].code.value} {found[0].message}" if found else ""


def tested_rulebooks(paths: list[Path] | None = None) -> list[ResolvedRulebook]:
    """The rulebooks the test files evaluate, each once (by id), in the order first met."""
    found: dict[str, ResolvedRulebook] = {}
    for path in find_test_files(paths):
        test = read_test_file(path)
        for name in dict.fromkeys(e.rulebook or test.rulebook for e in test.expect):
            rulebook = _load(name, path.parent)
            found.setdefault(rulebook.id, rulebook)
    return list(found.values())


def run_mutants(rulebook: ResolvedRulebook, paths: list[Path] | None = None) -> MutationReport:
    """Make every mutant of ``rulebook`` and run the tests that evaluate it on each.

    Args:
        rulebook: the resolved rulebook to mutate.
        paths: test files or folders (default: the shipped rulebooks' folder).

    Returns:
        Each mutant, killed or not, and the number of test files used.
    """
    suites = _suites(rulebook, paths)
    results = []
    for mutant in mutants(rulebook):
        changed = mutate(rulebook, mutant)
        by = _refused(changed, mutant) or (_kill(changed, suites) if suites else "")
        results.append(MutantResult(mutant=mutant, killed=bool(by), killed_by=by))
    own = Path(rulebook.header.span.file).name if rulebook.header.span.file else ""
    return MutationReport(
        rulebook_id=rulebook.id, tests=len(suites), results=tuple(results), file=own
    )
