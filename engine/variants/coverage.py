"""Rule coverage of rulebook tests: which rules no test exercised.

**Exercised** means the rule left evidence in the decision records of some test:

- any rule: its id is on a trace row of a decision (``rule_id`` of any trace frame,
  ``netting_rule_id``, ``cap_rule_id``, a lot's ``schedule`` or ``candidates``) or in a
  decision column (``method_rule_id``, ``initial_rule_id``, ``segregation_violations``);
- an **eligibility requirement** (``rule.requirement``): it applied to some account and
  *both* outcomes were seen, passed and failed (a requirement never seen failing is not
  covered: no test shows that it bites);
- rules that leave no row of their own when they hold are covered by the decision they
  shape: a **scope** rule when a test decided an account under it; ``sets each account
  alone`` when a test decided a one-account set; ``merged accounts must ...`` segregation
  constraints (one owner, merged carrier) when a test decided a set of several accounts
  or one that takes in another account's positions (the sets they are checked on), or
  showed a violation. Other segregation constraints are covered only by a violation.

Each table row, range row and bucket is an item of its own (``rule_id[row]``, kind
``row``): see :mod:`marginlex.engine.variants.rows` for when a row counts as exercised.

Parameters are not rules: they are covered through the rules that use them.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from pydantic import BaseModel, ConfigDict

from marginlex.dsl.diff import statements_using, uses_parameter
from marginlex.dsl.format.rows import row_key
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.dsl.resolve.rows import table_rows as resolved_rows
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.variants.rows import row_coverage

_MERGED_CONSTRAINTS = (m.SingleOwner, m.MergedCarrier)


class CoverageItem(BaseModel):
    """One rule (``id``) or eligibility requirement (``rule.requirement``).

    ``own`` is True when the rulebook itself defines the rule or overrides a parameter it
    uses (what a variant's own tests should exercise).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    item: str
    kind: str
    origin: str
    own: bool = False
    exercised: bool
    detail: str


class RulebookCoverage(BaseModel):
    """The coverage of one rulebook by the tests that evaluated it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rulebook_id: str
    items: tuple[CoverageItem, ...]

    @property
    def rules(self) -> tuple[CoverageItem, ...]:
        """The rule and requirement items (table rows are counted apart)."""
        return tuple(i for i in self.items if i.kind != "row")

    @property
    def rows(self) -> tuple[CoverageItem, ...]:
        """The table row, range row and bucket items."""
        return tuple(i for i in self.items if i.kind == "row")

    @property
    def percent(self) -> float:
        """Share of rules and requirements exercised, in percent (100 when there is none)."""
        return _percent(self.rules)

    @property
    def rows_percent(self) -> float:
        """Share of table rows exercised, in percent (100 when there is none)."""
        return _percent(self.rows)

    @property
    def missing(self) -> tuple[CoverageItem, ...]:
        """The items no test exercised."""
        return tuple(i for i in self.items if not i.exercised)


def _percent(items: tuple[CoverageItem, ...]) -> float:
    if not items:
        return 100.0
    return 100.0 * sum(i.exercised for i in items) / len(items)


def _split(values: Iterable[object]) -> set[str]:
    out: set[str] = set()
    for v in values:
        for part in str(v).split(";"):
            name = part.split("=", 1)[0].strip()
            if name and name != "nan":
                out.add(name)
    return out


def _traced(e: Evaluation) -> set[str]:
    seen: set[str] = set()
    for frame in e.frames.values():
        for col in (
            "rule_id",
            "netting_rule_id",
            "cap_rule_id",
            "schedule",
            "candidates",
            "joined_by",
        ):
            if col in frame.columns:
                seen |= _split(frame[col].dropna().unique())
    d = e.decisions
    for col in ("method_rule_id", "initial_rule_id", "segregation_violations"):
        seen |= _split(d[col].dropna().unique())
    return seen


def _requirement_outcomes(e: Evaluation) -> dict[str, set[bool]]:
    frame = e.frames["eligibility"]
    applied = frame[frame["applies"].astype(bool)]
    keys = applied["rule_id"].astype(str) + "." + applied["requirement"].astype(str)
    grouped = pd.Series(applied["passed"].astype(bool).to_numpy(), index=keys.to_numpy())
    return {str(k): set(v.tolist()) for k, v in grouped.groupby(level=0)}


class _Evidence:
    def __init__(self) -> None:
        self.traced: set[str] = set()
        self.outcomes: dict[str, set[bool]] = {}
        self.decided = False
        self.single_sets = False
        self.merged_sets = False

    def add(self, e: Evaluation) -> None:
        self.traced |= _traced(e)
        for key, seen in _requirement_outcomes(e).items():
            self.outcomes.setdefault(key, set()).update(seen)
        d = e.decisions
        self.decided |= len(d) > 0
        several = d["account_ids"].str.contains(";", regex=False) | (d["takes_in_from"] != "")
        self.merged_sets |= bool(several.any())
        self.single_sets |= bool((~several).any())


def _rule_detail(s: m.Statement, ev: _Evidence) -> str | None:
    """Why the rule counts as exercised, or None."""
    if s.id in ev.traced:
        return "on a trace row"
    if isinstance(s, m.Scope) and ev.decided:
        return "decided an account"
    if isinstance(s, m.Offset) and isinstance(s.rule, m.Separate) and ev.single_sets:
        return "decided a one-account set"
    merged = isinstance(s, m.Segregation) and isinstance(s.constraint, _MERGED_CONSTRAINTS)
    return "checked on a merged set" if merged and ev.merged_sets else None


def _rule_item(s: m.Statement, ev: _Evidence) -> CoverageItem:
    detail = _rule_detail(s, ev)
    return CoverageItem(
        item=s.id,
        kind=s.kind.value,
        origin="",
        exercised=detail is not None,
        detail=detail or "no test left a trace",
    )


def _requirement_item(rule: m.Eligibility, req: m.Requirement, ev: _Evidence) -> CoverageItem:
    key = f"{rule.id}.{req.name}"
    seen = ev.outcomes.get(key, set())
    text = {
        frozenset({True, False}): "passed and failed",
        frozenset({True}): "only passed",
        frozenset({False}): "only failed",
    }.get(frozenset(seen), "never applied")
    return CoverageItem(
        item=key, kind="requirement", origin="", exercised=len(seen) == 2, detail=text
    )


def coverage(rulebook: ResolvedRulebook, evaluations: Iterable[Evaluation]) -> RulebookCoverage:
    """The rule coverage of one rulebook by the evaluations of its tests.

    Args:
        rulebook: the resolved rulebook.
        evaluations: every evaluation the tests ran under it.

    Returns:
        One item per statement (parameters excepted), per eligibility requirement and per
        table row.
    """
    ev = _Evidence()
    evaluations = list(evaluations)
    for e in evaluations:
        ev.add(e)
    items: list[CoverageItem] = []
    written = {sid for sid, origin in rulebook.origins.items() if origin == rulebook.id}
    mine = [p.id for p in rulebook.of_kind(m.Parameter) if p.id in written]
    own = set(written)
    reading = {sid for name in mine for sid in statements_using(rulebook, name)}
    own |= reading
    extended = extended_parts(rulebook)
    own_rows = _own_rows(rulebook, extended)
    for s in dict((s.id, s) for s in rulebook.statements).values():
        if isinstance(s, m.Parameter):
            continue
        found = [_rule_item(s, ev)]
        marks = [s.id in own]
        if isinstance(s, m.Eligibility):
            found += [_requirement_item(s, r, ev) for r in s.requirements]
            # a base's rule that reads a parameter this file sets: its requirements that
            # read it are this file's to test, not every requirement of the rule
            # a requirement an `extend` line of this file leaves alone is the base's
            marks += [
                (r.name in extended[s.id] if s.id in extended else s.id in written)
                or any(uses_parameter(r, name) for name in mine)
                for r in s.requirements
            ]
        origin = rulebook.origins.get(s.id, rulebook.id)
        items += [
            i.model_copy(update={"origin": origin, "own": mark})
            for i, mark in zip(found, marks, strict=True)
        ]
    at: dict[str, int] = {}  # each rule's next row, to read its own-row flags in order
    for rule_id, row, exercised in row_coverage(rulebook, evaluations):
        origin = rulebook.origins.get(rule_id, rulebook.id)
        detail = "decided on a trace row" if exercised else "no trace row shows it deciding"
        k = at[rule_id] = at.get(rule_id, -1) + 1
        flags = own_rows.get(rule_id)
        items.append(
            CoverageItem(
                item=f"{rule_id}[{row}]",
                kind="row",
                origin=origin,
                # an extended table's own rows: those its lines add or replace, or every
                # row when the rule reads a parameter this file sets (as requirements do)
                own=(flags[k] or rule_id in reading)
                if flags is not None and k < len(flags)
                else rule_id in own,
                exercised=exercised,
                detail=detail,
            )
        )
    return RulebookCoverage(rulebook_id=rulebook.id, items=tuple(items))


def extended_parts(rulebook: ResolvedRulebook) -> dict[str, set[str]]:
    """Each statement this rulebook's own file only extends (it neither defines nor
    overrides it): the names of the requirements and the keys of the rows that its
    ``extend`` lines add or replace (what a drop leaves is the base's).

    >>> from marginlex.dsl.loader import load_rulebook
    >>> extended_parts(load_rulebook("harmonized"))
    {}
    """
    mine = next((b for b in reversed(rulebook.sources) if b.id == rulebook.id), None)
    if mine is None:
        return {}
    restated = {s.id for s in mine.statements if not isinstance(s, m.Extension)}
    parts: dict[str, set[str]] = {}
    for s in mine.statements:
        if isinstance(s, m.Extension) and s.id not in restated:
            parts.setdefault(s.id, set()).update(
                c.name if isinstance(c, m.RequirementChange) else c.key
                for c in s.changes
                if c.edit is not m.RequirementEdit.DROP
            )
    return parts


def _own_rows(rulebook: ResolvedRulebook, extended: dict[str, set[str]]) -> dict[str, list[bool]]:
    """For each table an ``extend`` line of this file changes, whether each row (in table
    order) is one it adds or replaces."""
    return {
        s.id: [row_key(r) in extended[s.id] for r in resolved_rows(s)]
        for s in dict((s.id, s) for s in rulebook.statements).values()
        if s.id in extended
    }
