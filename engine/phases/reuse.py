"""Phase-level reuse: evaluate a plan that differs little from the previous one.

The attribution walk (:mod:`marginlex.engine.variants.attribution`) evaluates hybrid rulebooks that
differ from the previous one in one statement. A phase whose inputs are unchanged (its
steps, the parameters they name, and the results of the phases it reads) computes the
same columns again, so :func:`marginlex.engine.evaluate.evaluate` can take them from the
previous run instead (:class:`Reuse`). The phases read each other as in :data:`READS`;
every phase also reads the book's contexts, which do not change between the two runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pydantic import BaseModel

from marginlex.dsl.format.expressions import credit_pair
from marginlex.dsl.model import rulebook as m
from marginlex.engine.phases.margin import MethodResult, credit_rule_of
from marginlex.engine.phases.pairing import pairing_rule_of
from marginlex.engine.phases.sets import reads_merged
from marginlex.engine.phases.state import BoolArray, FloatArray, IntArray, RunState
from marginlex.engine.plan.steps import Phase, Plan

# Per phase, the phases whose results it reads (through RunState, its arguments, or the
# account context's ``eligible`` columns, which any rule of a later phase may name).
READS: dict[Phase, frozenset[Phase]] = {
    Phase.SCOPE: frozenset(),
    Phase.ELIGIBILITY: frozenset({Phase.SCOPE}),
    Phase.MARGIN_SETS: frozenset({Phase.SCOPE, Phase.ELIGIBILITY}),
    Phase.SEGREGATION: frozenset({Phase.MARGIN_SETS, Phase.ELIGIBILITY}),
    Phase.MARGIN: frozenset({Phase.MARGIN_SETS, Phase.ELIGIBILITY}),
    # Initial multiples are read by the decision step only, which always runs.
    Phase.INITIAL: frozenset({Phase.MARGIN_SETS, Phase.ELIGIBILITY}),
    Phase.OFFSET: frozenset({Phase.MARGIN, Phase.MARGIN_SETS, Phase.ELIGIBILITY}),
    # A lot ``not counted there`` by a segregation constraint is valued at nothing.
    Phase.HAIRCUT: frozenset({Phase.MARGIN_SETS, Phase.ELIGIBILITY, Phase.SEGREGATION}),
    Phase.CONCENTRATION: frozenset(
        {Phase.HAIRCUT, Phase.OFFSET, Phase.MARGIN_SETS, Phase.ELIGIBILITY}
    ),
    # Minimum equities, like initial multiples, are read by the decision step only.
    Phase.MINIMUM_EQUITY: frozenset({Phase.MARGIN_SETS, Phase.ELIGIBILITY}),
    # Concentration add-ons read the margin phase's positions, in the decision step.
    Phase.CONCENTRATION_ADD_ON: frozenset({Phase.MARGIN, Phase.MARGIN_SETS, Phase.ELIGIBILITY}),
}
ALL_PHASES = frozenset(Phase)


@dataclass
class PhaseOutputs:
    """What the phases hand each other outside :class:`RunState`.

    Attributes:
        eligible_by_rule: the account context's ``eligible`` columns after eligibility.
        chosen: per set code, the margin step number applied (-1: none).
        methods: the margin steps' results.
        maintenance: per set code, the requirement after offsets.
        lots: per lot row, the haircut columns.
        value, cap_rule, cap_scale: per lot row, after concentration limits.
        caps: per lot row, the figures of the cap that cut it
            (:data:`marginlex.engine.phases.collateral.CAP_COLUMNS`).
    """

    eligible_by_rule: dict[str, BoolArray] = field(default_factory=dict)
    chosen: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    methods: list[MethodResult] = field(default_factory=list)
    maintenance: FloatArray = field(default_factory=lambda: np.zeros(0))
    lots: pd.DataFrame = field(default_factory=pd.DataFrame)
    value: FloatArray = field(default_factory=lambda: np.zeros(0))
    cap_rule: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    cap_scale: FloatArray = field(default_factory=lambda: np.zeros(0))
    caps: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class Reuse:
    """A previous run of the same book and contexts, and the phases to run again.

    :func:`marginlex.engine.evaluate.evaluate_run` returns one with every phase to run
    again; :func:`reuse_from` narrows it to what a new plan changes. The other phases'
    results are taken as they are.
    """

    state: RunState
    outputs: PhaseOutputs
    recompute: frozenset[Phase]


def _names(node: object) -> set[str]:
    """The parameters a statement names (in values and in expressions)."""
    if isinstance(node, m.ParamRef):
        return {node.name}
    if isinstance(node, BaseModel):
        return set().union(*(_names(getattr(node, f)) for f in type(node).model_fields))
    if isinstance(node, tuple | list):
        return set().union(*(_names(x) for x in node))
    return set()


def _credit_keys(plan: Plan) -> tuple[object, ...]:
    """What the margin phase reads of the offset phase's steps: the class-group credit
    rules' key fields and rows' legs (the margin methods tag class groups with the keys,
    and a SPAN scan counts the delta of each tier of months a leg names)."""
    keys: list[object] = []
    for span in (False, True):  # the rule of the grid and the rule of SPAN scans
        credit = credit_rule_of(plan, span=span)
        if credit is None:
            continue
        rule = credit.statement.rule  # type: ignore[union-attr]
        assert isinstance(rule, m.ClassGroupCredit)
        keys.append((rule.key.subject, rule.key.name, tuple(credit_pair(r) for r in rule.rows)))
    pairing = pairing_rule_of(plan)  # splits the class groups of the sets it pairs
    if pairing is not None:
        keys.append(pairing.statement.rule.model_dump_json())  # type: ignore[union-attr]
    return tuple(keys)


def _inputs(plan: Plan, phase: Phase) -> tuple[object, ...]:
    steps = tuple(s for s in plan.steps if s.phase is phase)
    if phase is Phase.ELIGIBILITY and any(reads_merged(s.statement) for s in steps):
        # `account.merged_regimes` reads the sets the margin-set statements would form
        steps += tuple(s for s in plan.steps if s.phase is Phase.MARGIN_SETS)
    names = sorted(set().union(*(_names(s.statement) for s in steps)))
    extra = _credit_keys(plan) if phase is Phase.MARGIN else ()
    return steps, tuple((n, plan.parameters.get(n, np.nan)) for n in names), extra


def phases_to_recompute(before: Plan, after: Plan) -> frozenset[Phase]:
    """The phases whose results may differ between two plans of the same book and date.

    A phase is run again when its steps (skipped ones included) or the values of the
    parameters they name differ, or when a phase it reads (:data:`READS`) is run again.

    >>> from marginlex.dsl.loader import load_rulebook
    >>> from marginlex.engine.plan.compile import compile_plan
    >>> import datetime as dt
    >>> sec = compile_plan(load_rulebook("sec"), dt.date(2026, 3, 31))
    >>> sorted(p.name for p in phases_to_recompute(sec, sec))
    []
    """
    if before.as_of != after.as_of:
        return ALL_PHASES
    return with_readers({p for p in Phase if _inputs(before, p) != _inputs(after, p)})


def phase_inputs(plan: Plan) -> tuple[tuple[object, ...], ...]:
    """What each phase reads of a plan, in :class:`Phase` order: two plans of one book and
    date whose inputs to a phase (and to the phases it reads) are equal get equal results.

    >>> from marginlex.dsl.loader import load_rulebook
    >>> from marginlex.engine.plan.compile import compile_plan
    >>> import datetime as dt
    >>> len(phase_inputs(compile_plan(load_rulebook("sec"), dt.date(2026, 3, 31))))
    11
    """
    return tuple(_inputs(plan, p) for p in Phase)


def with_readers(redo: set[Phase]) -> frozenset[Phase]:
    """``redo`` with every phase that reads one of them, directly or not (:data:`READS`).

    >>> sorted(p.name for p in with_readers({Phase.HAIRCUT}))
    ['CONCENTRATION', 'HAIRCUT']
    """
    out = set(redo)
    for phase in Phase:  # phases are listed in execution order: one pass closes the set
        if READS[phase] & out:
            out.add(phase)
    return frozenset(out)


def reuse_from(previous: Reuse, plan: Plan) -> Reuse:
    """What evaluating ``plan`` can take from a previous run (as
    :func:`marginlex.engine.evaluate.evaluate_run` returns it)."""
    return Reuse(previous.state, previous.outputs, phases_to_recompute(previous.state.plan, plan))


def carry_over(reuse: Reuse, state: RunState) -> PhaseOutputs:
    """Copy the results of the phases not run again into a fresh state; return the others.

    Arrays are shared, not copied: no phase writes into an array it did not create.
    """
    old, keep = reuse.state, ALL_PHASES - reuse.recompute
    frames: dict[Phase, tuple[str, ...]] = {
        Phase.ELIGIBILITY: ("eligibility",),
        Phase.MARGIN_SETS: ("sets", "set_edges"),
        Phase.SEGREGATION: ("segregation",),
        Phase.OFFSET: ("offsets", "class_groups", "positions", "pairing_split", "span_charges"),
        Phase.CONCENTRATION: ("lots",),
    }
    for phase in keep & frames.keys():
        state.frames.update({name: old.frames[name] for name in frames[phase]})
    if Phase.SCOPE in keep:
        state.in_scope = old.in_scope
    if Phase.ELIGIBILITY in keep:
        state.eligible, state.failed_mask = old.eligible, old.failed_mask
        state.failed_names = list(old.failed_names)
    if Phase.MARGIN_SETS in keep:
        state.set_ids, state.account_set = old.set_ids, old.account_set
        state.position_set, state.joined_by = old.position_set, old.joined_by
        state.lot_set, state.joined_rules = old.lot_set, list(old.joined_rules)
    if Phase.SEGREGATION in keep:
        state.breach_rules = old.breach_rules
    prev = reuse.outputs
    return PhaseOutputs(
        eligible_by_rule=dict(prev.eligible_by_rule) if Phase.ELIGIBILITY in keep else {},
        chosen=prev.chosen,
        methods=list(prev.methods),
        maintenance=prev.maintenance,
        lots=prev.lots,
        value=prev.value,
        cap_rule=prev.cap_rule,
        cap_scale=prev.cap_scale,
        caps=prev.caps,
    )
