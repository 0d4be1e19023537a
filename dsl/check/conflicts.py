"""What the SMT solver finds in one period's rules: conflicts, gaps and dead rules.

The engine picks the first match in rulebook order in four places: the margin method of a
margin set, the haircut schedule of a lot, the range row of an instrument and the rate row
of a position; scopes are joined with "or"; only the first class-group credit rule in force
is used. Over the conditions as z3 formulas (:mod:`.smt`), :class:`Analysis` finds, each
with a concrete witness from the solver's model:

- an alternative that overlaps an earlier one it is not more general than (a more specific
  row before a general one, such as ``otherwise`` last, is the first-match idiom and fine),
- an alternative that can never be chosen (every match takes an earlier one),
- an account in scope with no margin method, an instrument no range row matches,
- scopes deciding the same account, an eligibility rule no account can pass (naming the
  requirements that conflict), a credit rule the engine never uses.

Where each finding is reported, and ``accept``, are :mod:`.checks_smt`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from marginlex.dsl.check.expressions import locate
from marginlex.dsl.check.smt import Z3, Untranslatable, World
from marginlex.dsl.diagnostics import Code
from marginlex.dsl.format.expressions import quantity
from marginlex.dsl.format.expressions import value as format_value
from marginlex.dsl.format.rows import row_key
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.resolve import ResolvedRulebook


@dataclass(frozen=True)
class Finding:
    """One finding before it is placed: its statements, the affected one first."""

    code: Code
    message: str
    hint: str
    span: m.Span
    statements: tuple[m.StatementBase, ...]


@dataclass(frozen=True)
class Choice:
    """One alternative of a first-match list: a statement or a row of one."""

    name: str  # ``cftc_span`` or ``the row at line 40``, as messages print it
    statement: m.StatementBase
    span: m.Span
    condition: m.Node | None
    row: m.TableRow | None = None  # the table row it is, for a row of a method's table


def _unreachable_hint(later: Choice, taker: Choice | None) -> str:
    """What to do about a choice that never applies. A row an `extend margin` adds goes after
    the inherited rows (docs/language.md), so it cannot be moved before an inherited row that
    takes its matches: that row can be replaced, or the statement overridden."""
    inherited = later.statement.span.file
    if (
        later.row is None
        or taker is None
        or taker.row is None
        or later.span.file == inherited
        or taker.span.file != inherited
    ):
        return (
            "remove it, narrow the earlier condition, or move it before the one that takes"
            " its matches"
        )
    kind = "margin"  # the only statements whose rows this pass reads (Analysis.rows)
    written = ("range " if isinstance(taker.row, m.RangeRow | m.ScanRow) else "") + row_key(
        taker.row
    )
    return (
        f"`extend {kind}` cannot put a row before an inherited one (added rows go after them):"
        f" remove it, change the row that takes its matches (`replace row {written} ...`), or write"
        f" `override {kind} {later.statement.id}` to order the rows yourself"
    )


def _named(s: m.StatementBase, here: m.Span) -> str:
    return f"`{s.id}` ({locate(s.span, here)})"


class Analysis:
    """The analyses of one period's rules, with one z3 world."""

    def __init__(self, rules: ResolvedRulebook, here: m.Span) -> None:
        self.rules, self.here = rules, here
        params = {p.id: p.value.base for p in rules.of_kind(m.Parameter)}
        eligibilities = {e.id: e for e in rules.of_kind(m.Eligibility)}
        self.w = World(params, eligibilities)
        self.scopes = rules.of_kind(m.Scope)
        self.scope = self.w.z3.Or(*(self.w.condition(s.where) for s in self.scopes))
        if not self.scopes:
            self.scope = self.w.z3.BoolVal(True)

    def findings(self) -> Iterator[Finding]:
        """Every finding, analysis by analysis (one that cannot be translated is skipped)."""
        for analysis in (
            self.scope_overlaps,
            self.never_eligible,
            self.methods,
            self.haircuts,
            self.rows,
            self.credits,
        ):
            try:
                yield from list(analysis())
            except (Untranslatable, self.w.z3.Z3Exception):
                continue  # a condition the other passes report (or the solver cannot take)

    # ---- first match --------------------------------------------------------------------
    def first_match(
        self, choices: list[Choice], within: Z3, noun: str, codes: tuple[Code, Code]
    ) -> Iterator[Finding]:
        """Alternatives that can never be chosen (``codes[1]``) or overlap an earlier one they
        are not more general than (``codes[0]``), among what ``within`` (the scope) allows:
        the scope rules are then among the statements of each finding."""
        for f in self._first_match(choices, within, noun, codes):
            scopes = tuple(self.scopes) if within is self.scope else ()
            yield replace(f, statements=(*f.statements, *scopes))

    def _first_match(
        self, choices: list[Choice], within: Z3, noun: str, codes: tuple[Code, Code]
    ) -> Iterator[Finding]:
        z3, w = self.w.z3, self.w
        conds = [w.condition(c.condition) for c in choices]
        # "no earlier alternative matches" and "some earlier one does", each grown by one
        # term per alternative: a table of n rows is n queries of constant size to build,
        # where writing out the j earlier conditions for each row made 500 rows 4 s of CPU
        none_before, any_before = z3.BoolVal(True), z3.BoolVal(False)
        for j in range(len(choices)):
            yield from self._first_match_at(
                (choices, conds, j), (none_before, any_before), within, noun, codes
            )
            none_before = z3.And(none_before, z3.Not(conds[j]))
            any_before = z3.Or(any_before, conds[j])

    def _first_match_at(
        self,
        at: tuple[list[Choice], list[Z3], int],
        before: tuple[Z3, Z3],
        within: Z3,
        noun: str,
        codes: tuple[Code, Code],
    ) -> Iterator[Finding]:
        """The finding of alternative ``j`` (``at``: the alternatives, their conditions and
        ``j``), given that none of the earlier ones matches, and that one of them does."""
        choices, conds, j = at
        none_before, any_before = before
        w, later = self.w, choices[j]
        if not w.satisfiable([within, conds[j], none_before]):
            yield self._shadowed(choices, conds, j, within=within, noun=noun, code=codes[1])
            return
        if not j or not w.satisfiable([within, conds[j], any_before]):
            return  # exclusive of every earlier alternative: the common case, one query
        z3 = w.z3
        for i in range(j):
            both = w.solve([within, conds[i], conds[j]])
            if both is None or not w.satisfiable([within, conds[i], z3.Not(conds[j])]):
                continue
            shown = w.witness(both, [conds[i], conds[j]], noun)
            yield Finding(
                codes[0],
                f"{shown} matches both {later.name} and {choices[i].name}, which comes"
                " first and wins",
                "make the conditions exclusive, put the more specific one first, or accept"
                " the overlap with its reason",
                later.span,
                (later.statement, choices[i].statement),
            )
            break

    def _shadowed(
        self, choices: list[Choice], conds: list[Z3], j: int, *, within: Z3, noun: str, code: Code
    ) -> Finding:
        later = choices[j]
        model = self.w.solve([within, conds[j]])
        if model is None:
            what = f"no {noun.split(' ', 1)[1]} matches {later.name}"
            taker: Choice | None = None
        else:
            i = next(i for i in range(j) if self.w.holds(model, conds[i]))
            taker = choices[i]
            shown = self.w.witness(model, [conds[j]], noun)
            what = f"{later.name} never applies: {shown} matches it but takes {taker.name}"
            what += " (as does every match)"
        others = (taker.statement,) if taker is not None else ()
        return Finding(
            code, what, _unreachable_hint(later, taker), later.span, (later.statement, *others)
        )

    def gap(self, within: Z3, choices: list[Choice]) -> Any | None:
        """A model of something ``within`` that no choice matches (None: they cover it)."""
        z3 = self.w.z3
        conds = [self.w.condition(c.condition) for c in choices]
        return self.w.solve([within, *(z3.Not(c) for c in conds)])

    # ---- analyses ----------------------------------------------------------------------
    def scope_overlaps(self) -> Iterator[Finding]:
        """Two scope rules deciding one account."""
        w = self.w
        conds = [w.condition(s.where) for s in self.scopes]
        for j, later in enumerate(self.scopes):
            for i in range(j):
                model = w.solve([conds[i], conds[j]])
                if model is not None:
                    shown = w.witness(model, [conds[i], conds[j]], "an account")
                    yield Finding(
                        Code.SCOPE_OVERLAP,
                        f"{shown} is decided by both `{later.id}` and"
                        f" {_named(self.scopes[i], self.here)}",
                        "scopes are joined with `or`: make them exclusive, or merge them into one",
                        later.span,
                        (later, self.scopes[i]),
                    )
                    break

    def never_eligible(self) -> Iterator[Finding]:
        """Eligibility rules no account in scope can pass, with the requirements in conflict."""
        z3, w = self.w.z3, self.w
        for rule in self.rules.of_kind(m.Eligibility):
            solver = z3.Solver()
            solver.add(*w.axioms())
            reqs = {f"r{k}": r for k, r in enumerate(rule.requirements)}
            for name, req in reqs.items():
                solver.assert_and_track(w.requirement(req), name)
            solver.assert_and_track(self.scope, "scope")
            if solver.check() != z3.unsat:
                continue
            core = {str(c) for c in solver.unsat_core()}
            conflicting = [r for k, r in reqs.items() if k in core]
            if conflicting:  # else the scope alone decides no account: not this rule's fault
                yield self._conflict(rule, conflicting, "scope" in core)

    def _conflict(self, rule: m.Eligibility, reqs: list[m.Requirement], scoped: bool) -> Finding:
        names = [f"`{r.name}` ({locate(r.span, self.here)})" for r in reqs]
        where = " in scope" if scoped else ""
        if len(names) == 1:
            why = f"requirement {names[0]} can never pass{where}"
        else:
            why = f"requirements {', '.join(names[:-1])} and {names[-1]} cannot all pass{where}"
        span = reqs[-1].span if reqs else rule.span
        return Finding(
            Code.NEVER_ELIGIBLE,
            f"no account can pass eligibility `{rule.id}`: {why}",
            "a requirement that only applies sometimes needs `when ...`; check the values",
            span,
            (rule,),
        )

    def methods(self) -> Iterator[Finding]:
        """Margin methods: shadowed, overlapping, and accounts in scope with none."""
        margins = self.rules.of_kind(m.Margin)
        main = [s for s in margins if not isinstance(s.method, m.REQUIREMENT_MODIFIERS)]
        choices = [Choice(_named(s, self.here), s, s.span, s.applies_to) for s in main]
        codes = (Code.METHOD_OVERLAP, Code.METHOD_NEVER_APPLIES)
        yield from self.first_match(choices, self.scope, "an account", codes)
        for s in (s for s in margins if isinstance(s.method, m.REQUIREMENT_MODIFIERS)):
            if self.w.solve([self.scope, self.w.condition(s.applies_to)]) is None:
                yield Finding(
                    Code.METHOD_NEVER_APPLIES,
                    f"{_named(s, self.here)} never applies: no account in scope matches it",
                    "check its `applies to` against the rulebook's scope",
                    s.span,
                    (s, *self.scopes),
                )
        model = self.gap(self.scope, choices)
        if model is not None and self.scopes and main:
            conds = [self.w.condition(s.where) for s in self.scopes]
            shown = self.w.witness(
                model, conds + [self.w.condition(s.applies_to) for s in main], "an account"
            )
            first = main[0] if main else self.scopes[0]
            yield Finding(
                Code.METHOD_GAP,
                f"{shown} is in scope but no margin method applies to it: its requirement"
                " would be zero",
                "add a method for it (a last method without `applies to` catches every"
                " account), or narrow the scope",
                first.span,
                (first, *main, *self.scopes),
            )

    def haircuts(self) -> Iterator[Finding]:
        """Haircut schedules claiming the same lots (the first in rulebook order takes them)."""
        policy = self.rules.haircut_policy
        choices = [Choice(_named(h, self.here), h, h.span, h.where) for h in policy]
        codes = (Code.HAIRCUT_OVERLAP, Code.HAIRCUT_OVERLAP)
        yield from self.first_match(choices, self.scope, "a collateral lot", codes)

    def rows(self) -> Iterator[Finding]:
        """Range and rate rows of each method: overlaps, unreachable rows and gaps."""
        for s in self.rules.of_kind(m.Margin):
            method = s.method
            rows: tuple[m.RangeRow | m.ScanRow | m.RateRow, ...] = ()
            if isinstance(method, m.ScenarioGrid | m.SpanScan):
                rows = method.ranges
            elif isinstance(method, m.Rates):
                rows = method.rows
            elif isinstance(method, m.StrategyBased):
                rows = method.others
            noun = (
                "a position" if isinstance(method, m.Rates | m.StrategyBased) else ("an instrument")
            )
            choices = [
                Choice(f"the row at {locate(r.span, self.here)}", s, r.span, r.when, r)
                for r in rows
            ]
            codes = (Code.ROW_OVERLAP, Code.ROW_UNREACHABLE)
            # Range rows read the instrument alone; rate rows the position and its account.
            within = self.scope if noun == "a position" else self._without_own_range(method)
            yield from self.first_match(choices, within, noun, codes)
            if isinstance(method, m.ScenarioGrid | m.SpanScan | m.Rates):
                # a table of no rows too (an override without them, or an `extend` dropping
                # each): checked clean, and the run stopped at "no range row matches SPY"
                yield from self._row_gap(s, within, noun, choices)

    def _without_own_range(self, method: m.MarginMethod) -> Z3:
        """The instruments a method's range rows decide: those without a ``scan_range`` of
        their own when a SPAN scan prefers it, else all."""
        if isinstance(method, m.SpanScan) and method.prefer_instrument_range:
            scan_range = m.FieldRef(subject=m.Subject.INSTRUMENT, name="scan_range")
            return self.w.z3.Not(self.w.present(scan_range))
        return self.w.z3.BoolVal(True)

    def _row_gap(
        self, s: m.Margin, within: Z3, noun: str, choices: list[Choice]
    ) -> Iterator[Finding]:
        """Something no row matches: a grid or scan stops the run, a rate table charges 0%."""
        model = self.gap(within, choices)
        if model is None:
            return
        conds = [self.w.condition(c.condition) for c in choices]
        shown = self.w.witness(model, conds, noun)
        own_range = isinstance(s.method, m.SpanScan) and s.method.prefer_instrument_range
        extra = " and no scan_range of its own" if own_range else ""
        rates = isinstance(s.method, m.Rates)
        effect = "its rate would be 0%" if rates else "the run stops there"
        yield Finding(
            Code.ROW_GAP,
            f"{shown}{extra} matches no {'rate' if rates else 'range'} row of `{s.id}`: {effect}",
            f"add a last row `{'' if rates else 'range '}otherwise ...`",
            choices[-1].span if choices else s.method.span,
            (s,),
        )

    def _rate(self, value: m.Value) -> str:
        """``90%``, or ``90% (pm_offset_high_cap_broad)`` for a parameter."""
        if isinstance(value, m.ParamRef) and value.name in self.rules.parameters:
            return f"{quantity(self.rules.quantity(value))} ({value.name})"
        return format_value(value)

    def credits(self) -> Iterator[Finding]:
        """Credit rules after the first in force of their kind: the engine never uses them.

        A per-leg rule (SPAN scans) and a point-by-point rule (the other methods) are two
        kinds: one of each is used."""
        offsets = self.rules.of_kind(m.Offset)
        for per_leg in (False, True):
            rules = [
                o
                for o in offsets
                if isinstance(o.rule, m.ClassGroupCredit) and o.rule.per_leg is per_leg
            ]
            for later in rules[1:]:
                yield self._credit_conflict(rules[0], later)

    def _credit_conflict(self, first: m.Offset, later: m.Offset) -> Finding:
        w = self.w
        a, b = first.rule, later.rule
        assert isinstance(a, m.ClassGroupCredit) and isinstance(b, m.ClassGroupCredit)
        shown = ""
        for ra in a.rows:
            for rb in b.rows:
                ca = w.condition(m.Compare(op=m.CmpOp.EQ, left=a.key, right=ra.left))
                cb = w.condition(m.Compare(op=m.CmpOp.EQ, left=b.key, right=rb.left))
                model = w.solve([ca, cb])
                if model is not None and not shown:
                    seen = w.witness(model, [ca, cb], "an instrument")
                    shown = (
                        f": a class group of {seen} gets {self._rate(ra.rate)} from"
                        f" `{first.id}`, not {self._rate(rb.rate)}"
                    )
        return Finding(
            Code.CREDIT_CONFLICT,
            f"credit rule `{later.id}` is never used: only the first credit rule in force,"
            f" {_named(first, self.here)}, is applied{shown}",
            "keep one `credit between class groups` rule (`remove` the other), or merge their rows",
            later.span,
            (later, first),
        )
