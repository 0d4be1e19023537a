"""Compile a resolved rulebook to a :class:`~marginlex.engine.plan.steps.Plan` for one date.

Compilation orders the statements by phase, resolves parameters in force on the as-of date
to base units, keeps statements not in force as skipped steps, and refuses, with the rule
id and its location, the few constructs the evaluator does not implement.
"""

from __future__ import annotations

import datetime as dt

from marginlex.dsl.check.reasons import render
from marginlex.dsl.check.supported import unsupported_span_values
from marginlex.dsl.diagnostics import Code
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.plan.citations import governed_citation
from marginlex.engine.plan.steps import Plan, Step, StepKind

_SET_RULES = (m.Separate, m.MergeAccounts, m.TakeIn, m.GiveUp)


class CompileError(ValueError):
    """A rulebook construct the evaluator cannot run (with where it is written)."""


def step_kind(statement: m.Statement) -> StepKind | None:
    """The kind of step a statement compiles to (None for parameters and removals)."""
    if isinstance(statement, m.Offset):
        return StepKind.MARGIN_SETS if isinstance(statement.rule, _SET_RULES) else StepKind.OFFSET
    if isinstance(statement, m.Margin):
        if isinstance(statement.method, m.MinimumEquity):
            return StepKind.MINIMUM_EQUITY
        if isinstance(statement.method, m.ConcentrationAddOn):
            return StepKind.CONCENTRATION_ADD_ON
        is_initial = isinstance(statement.method, m.InitialMultiple)
        return StepKind.INITIAL if is_initial else StepKind.MARGIN
    kinds: dict[type, StepKind] = {
        m.Scope: StepKind.SCOPE,
        m.Eligibility: StepKind.ELIGIBILITY,
        m.Segregation: StepKind.SEGREGATION,
        m.Haircut: StepKind.HAIRCUT,
        m.Concentration: StepKind.CONCENTRATION,
    }
    return kinds.get(type(statement))


def _where(statement: m.StatementBase) -> str:
    span = statement.span
    return f"{span.file}:{span.line}:{span.column}: rule `{statement.id}`"


def _refuse_unsupported(
    statement: m.Statement, parameters: dict[str, float], in_force: tuple[m.Parameter, ...]
) -> None:
    """Raise CompileError for constructs the evaluator does not implement."""
    problem = None
    for clause, q, code in unsupported_span_values(statement, in_force):
        why = "no normal quantile" if code is Code.UNSUPPORTED else "below the regulatory minimum"
        problem = f"a SPAN {clause} of {q.amount:g} {q.unit.value} ({why}) [{code.value}]"
    if isinstance(statement, m.Offset):
        rule = statement.rule
        if isinstance(rule, m.Netting) and _rate(rule.rate, parameters) not in (1.0, None):
            problem = "netting within a class group at a rate other than 100%"
        if isinstance(rule, m.ClassGroupCredit) and any(r.right for r in rule.rows):
            if not rule.per_leg:
                problem = "credits between pairs of class-group keys (`a with b`) netted "
                problem += "point by point (write `credit each leg`, SPAN's spreads)"
            elif not all(r.right for r in rule.rows):
                problem = "a `credit each leg` table mixing spreads (`a with b`) and single keys"
    if isinstance(statement, m.Margin):
        if isinstance(statement.method, m.SpanScan) and statement.method.steps != 3:
            problem = "a SPAN scan in other than 3 steps (the 16 standard scenarios)"
        minimum = getattr(statement.method, "minimum", None)
        if minimum is not None and not minimum.times_multiplier:
            problem = "a per-contract minimum not times multiplier"
    body = getattr(statement, "body", None)
    if isinstance(body, m.MaturityBuckets) and any(
        isinstance(b.outcome, m.Ineligible) for b in body.buckets
    ):
        problem = "an `ineligible` row inside maturity buckets"
    if problem is not None:
        raise CompileError(f"{_where(statement)}: the evaluator does not support {problem}")


def _rate(value: m.Value, parameters: dict[str, float]) -> float | None:
    """A rate written in the rule or named by a parameter (None: a parameter not in force)."""
    if isinstance(value, m.ParamRef):
        return parameters.get(value.name)
    return value.base


def _step(
    statement: m.Statement,
    kind: StepKind,
    as_of: dt.date,
    origin: str,
    in_force: dict[str, m.Parameter],
) -> Step:
    eff = statement.effective
    values = {name: p.value for name, p in in_force.items()}
    overrides = {name: p for name, p in in_force.items() if p.override}
    reasons = (
        tuple(render(r.reason, values) for r in statement.requirements)
        if isinstance(statement, m.Eligibility)
        else ()
    )
    return Step(
        rule_id=statement.id,
        kind=kind,
        citation=governed_citation(statement, overrides),
        status=statement.status,
        effective_from=eff.start if eff else None,
        effective_until=eff.until if eff else None,
        in_force=eff is None or eff.covers(as_of),
        origin=origin,
        statement=statement,
        reasons=reasons,
    )


def _refuse_out_of_force(rulebook: ResolvedRulebook, as_of: dt.date) -> None:
    """Raise CompileError when the rulebook itself (its header) is not in force on ``as_of``.

    Deciding under a rulebook before it takes effect, or after it ends, would apply rules
    that did not bind anyone on that date; the user must pick another date or version.
    """
    eff = rulebook.header.effective
    if eff is None or eff.covers(as_of):
        return
    start = f" from {eff.start.isoformat()}" if eff.start else ""
    until = f" until {eff.until.isoformat()}" if eff.until else ""
    raise CompileError(
        f"rulebook `{rulebook.id}` is in force{start}{until}, not on "
        f"{as_of.isoformat()}: choose an as-of date in that range (--as-of), or a rulebook "
        "version in force on that date"
    )


def compile_plan(rulebook: ResolvedRulebook, as_of: dt.date) -> Plan:
    """Compile a resolved rulebook for one as-of date.

    Args:
        rulebook: the effective rulebook (``marginlex.dsl.loader.load_rulebook``).
        as_of: the date decisions are made as of.

    Returns:
        The plan: steps in phase order (rulebook order within a phase), skipped steps
        kept with ``in_force`` False, parameters in force in base units.

    Raises:
        CompileError: the rulebook is not in force on ``as_of`` (its header's effective
            range), or a statement uses a construct the evaluator does not implement.

    >>> from marginlex.dsl.loader import load_rulebook
    >>> plan = compile_plan(load_rulebook("sec"), dt.date(2026, 6, 30))
    >>> [s.kind.value for s in plan.steps][:3]
    ['scope', 'eligibility', 'margin_sets']
    """
    _refuse_out_of_force(rulebook, as_of)
    steps: list[Step] = []
    in_force = {
        p.id: p
        for p in rulebook.statements
        if isinstance(p, m.Parameter) and (p.effective is None or p.effective.covers(as_of))
    }
    parameters = {name: p.value.base for name, p in in_force.items()}
    for statement in rulebook.statements:
        kind = step_kind(statement)
        if kind is None:
            continue
        _refuse_unsupported(statement, parameters, tuple(in_force.values()))
        origin = rulebook.origins.get(statement.id, rulebook.id)
        steps.append(_step(statement, kind, as_of, origin, in_force))
    ordered = sorted(enumerate(steps), key=lambda pair: (pair[1].phase, pair[0]))
    return Plan(
        rulebook_id=rulebook.id,
        title=rulebook.header.title,
        version=rulebook.header.version or "",
        as_of=as_of,
        parameters=parameters,
        steps=tuple(s for _, s in ordered),
    )
