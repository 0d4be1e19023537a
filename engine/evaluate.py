"""Evaluate a plan on a book as of a date: one margin decision per margin set.

The phases run in order over whole columns (no Python loop per account, position, lot or
class group): scope, eligibility, margin sets, segregation, margin methods, offsets,
initial, haircuts, concentration, decision. Each phase writes trace columns tagged with
the rule id and citation that produced them (:class:`~marginlex.engine.evaluation.Evaluation`).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from marginlex.dsl.model.expressions import Subject
from marginlex.engine.book.load import Book
from marginlex.engine.evaluation import DECISION_COLUMNS, FRAME_COLUMNS, TAKES_IN, Evaluation
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.kernels.money import round_cents
from marginlex.engine.kernels.text import as_text
from marginlex.engine.phases.collateral import run_concentration, run_haircuts
from marginlex.engine.phases.decision import DecisionParams, decide
from marginlex.engine.phases.margin import (
    MethodResult,
    concentration_add_ons,
    initial_multiple,
    method_of_sets,
    minimum_equity,
    run_methods,
)
from marginlex.engine.phases.offsets import run_offsets
from marginlex.engine.phases.reuse import ALL_PHASES, PhaseOutputs, Reuse, carry_over
from marginlex.engine.phases.segregation import run_segregation
from marginlex.engine.phases.sets import run_eligibility, run_margin_sets, run_scope
from marginlex.engine.phases.state import (
    FloatArray,
    IntArray,
    RunState,
    empty_frame,
    join_per_group,
)
from marginlex.engine.plan.context import Contexts, build_contexts
from marginlex.engine.plan.steps import Phase, Plan, StepKind


def evaluate(
    plan: Plan,
    book: Book,
    as_of: dt.date | None = None,
    graph: AccountGraph | None = None,
    *,
    contexts: Contexts | None = None,
    reuse: Reuse | None = None,
    trace: bool = True,
) -> Evaluation:
    """Decide every margin set of a book under a compiled rulebook.

    Args:
        plan: the compiled rulebook (:func:`marginlex.engine.plan.compile.compile_plan`).
        book: the book (:func:`marginlex.engine.book.load.load_book`).
        as_of: the as-of date; must be the plan's (default: the plan's).
        graph: the book's account graph, when the caller already built it.
        contexts: the book's row contexts for this date, when the caller already built
            them (:func:`marginlex.engine.plan.context.build_contexts`; their ``eligible``
            columns are reset here).
        reuse: a previous run on the same contexts, whose unchanged phases are taken as
            they are (:mod:`marginlex.engine.phases.reuse`); the result is the same.
        trace: False to skip the trace-only frames (``eligibility``, ``class_groups`` and
            ``positions`` are empty, the lots' ``candidates`` blank): the same decisions for
            callers that read only them (``stress``).

    Returns:
        The decisions and their trace frames.

    Raises:
        ValueError: ``as_of`` differs from the date the plan was compiled for.
        marginlex.engine.plan.context.EvaluationError: a rule names something a row lacks.

    >>> from marginlex.dsl.loader import load_rulebook
    >>> from marginlex.engine.book.load import load_demo_book
    >>> from marginlex.engine.plan.compile import compile_plan
    >>> book = load_demo_book()
    >>> result = evaluate(compile_plan(load_rulebook("sec"), book.as_of), book)
    >>> result.decisions.loc[0, "decision_id"]
    'sec:ms:A01_ALICE_PM'
    """
    return evaluate_run(plan, book, as_of, graph, contexts=contexts, reuse=reuse, trace=trace)[0]


def evaluate_run(
    plan: Plan,
    book: Book,
    as_of: dt.date | None = None,
    graph: AccountGraph | None = None,
    *,
    contexts: Contexts | None = None,
    reuse: Reuse | None = None,
    trace: bool = True,
) -> tuple[Evaluation, Reuse]:
    """:func:`evaluate`, also returning what the next run may reuse (all phases marked
    to run again until :func:`marginlex.engine.phases.reuse.reuse_from` says otherwise)."""
    day = as_of or plan.as_of
    if day != plan.as_of:
        raise ValueError(
            f"the plan was compiled for {plan.as_of.isoformat()}, not "
            f"{day.isoformat()}: compile it again for that date"
        )
    if reuse is not None and (reuse.state.book is not book or reuse.state.plan.as_of != day):
        raise ValueError("a run can only reuse a run of the same book and as-of date")
    g = graph or AccountGraph(book)
    ctx = reuse.state.ctx if reuse is not None else contexts or build_contexts(book, day, g)
    state = RunState(plan, book, g, ctx, trace=trace)
    out = carry_over(reuse, state) if reuse is not None else PhaseOutputs()
    _run_phases(state, out, reuse.recompute if reuse is not None else ALL_PHASES)
    _set_ids_on_eligibility(state)
    decisions = _decisions(state, out.chosen, out.maintenance, out.value, out.methods)
    evaluation = Evaluation(
        plan=plan,
        as_of=day,
        book_name=book.name,
        book_sha256=book.sha256,
        n_accounts=state.ctx.accounts.n,
        out_of_scope=int((~state.in_scope).sum()),
        decisions=decisions,
        frames={name: state.frames[name].reset_index(drop=True) for name in FRAME_COLUMNS},
    )
    return evaluation, Reuse(state, out, ALL_PHASES)


def _run_phases(state: RunState, out: PhaseOutputs, redo: frozenset[Phase]) -> None:
    """Run the phases in ``redo`` in order; the others' results are already in place."""
    eligible = state.ctx.accounts.eligible
    eligible.clear()  # filled by this run's eligibility phase, or by the reused one's
    if Phase.SCOPE in redo:
        run_scope(state)
    if Phase.ELIGIBILITY in redo:
        run_eligibility(state)
        out.eligible_by_rule = dict(eligible)
    eligible.update(out.eligible_by_rule)
    if Phase.MARGIN_SETS in redo:
        run_margin_sets(state)
    if Phase.SEGREGATION in redo:
        run_segregation(state)
    if Phase.MARGIN in redo:
        out.chosen = method_of_sets(state)
        out.methods = run_methods(state, out.chosen)
    if Phase.OFFSET in redo:
        out.maintenance = run_offsets(state, out.methods)
    if Phase.HAIRCUT in redo:
        out.lots = run_haircuts(state)
    if Phase.CONCENTRATION in redo:
        concentrated = run_concentration(state, out.lots, out.maintenance)
        out.value, out.cap_rule, out.cap_scale, out.caps = concentrated
        _lot_trace(state, out, out.lots)


def _lot_trace(state: RunState, out: PhaseOutputs, lots: pd.DataFrame) -> None:
    """The ``lots`` frame: each lot's haircut columns, its value and any cap that cut it."""
    value, cap_rule, cap_scale, caps = out.value, out.cap_rule, out.cap_scale, out.caps
    placed = state.lot_set >= 0
    own = state.ctx.lots.own[Subject.COLLATERAL]
    # text columns as they are (Arrow), not through Python objects
    frame = lots.assign(
        margin_set_id="",
        lot_id=own["id"].set_axis(lots.index),
        account_id=own["account_id"].set_axis(lots.index),
        asset=as_text(own["asset"]).set_axis(lots.index),
        market_value=own["market_value"].to_numpy(np.float64),
        cap_rule_id=cap_rule,
        cap_scale=cap_scale,
        **{c: caps[c].to_numpy() for c in caps.columns},
        value=value,
    )
    frame = frame[placed]
    frame["margin_set_id"] = state.set_column(state.lot_set[placed])
    state.frames["lots"] = frame[list(FRAME_COLUMNS["lots"])]


def _set_ids_on_eligibility(state: RunState) -> None:
    frame = state.frames["eligibility"]
    # The frame is one block of in-scope accounts (in account order) per requirement.
    scoped = state.account_set[state.in_scope]
    blocks = len(frame) // len(scoped) if len(scoped) else 0
    # A new frame, not a column written into this one: a later run may reuse it.
    frame = frame.assign(margin_set_id=state.set_column(np.tile(scoped, blocks)))
    state.frames["eligibility"] = frame[list(FRAME_COLUMNS["eligibility"])]


def _per_set_text(state: RunState, codes: IntArray, texts: np.ndarray) -> np.ndarray:
    """Join texts per set with ";" (sorted); a set with one text keeps it without a join."""
    return join_per_group(codes, texts, state.n_sets)


def _failed_text(state: RunState) -> np.ndarray:
    scoped = state.account_set >= 0
    bits = np.zeros(state.n_sets, dtype=np.int64)
    np.bitwise_or.at(bits, state.account_set[scoped], state.failed_mask[scoped])
    codes, inverse = np.unique(bits, return_inverse=True)
    names = state.failed_names
    texts = [";".join(n for i, n in enumerate(names) if int(c) >> i & 1) for c in codes]
    return np.asarray(texts, dtype=object)[inverse]


def _raise_to_minimums(
    state: RunState, maintenance: FloatArray, haircuts: FloatArray
) -> FloatArray:
    """The requirement raised where a set's ``minimum equity`` asks more; the sets raised
    are written to the ``minimums`` frame (rule, minimum, haircuts, requirement before).

    The minimum is of equity (FINRA 4210(a)(5): securities and cash at market), while a
    requirement is compared with the value (collateral after haircuts): the requirement is
    raised to the minimum less the haircuts of the collateral the value counts, so that a
    call is what the equity lacks (collateral the value counts at 0, refused or not counted
    there, counts for no equity either)."""
    minimum, rule = minimum_equity(state)
    floor = minimum - haircuts
    raised = floor > maintenance  # NaN: no minimum applies
    codes = np.flatnonzero(raised)
    citations = {s.rule_id: s.citation for s in state.plan.active(StepKind.MINIMUM_EQUITY)}
    which, names = pd.factorize(rule[codes].astype(str))
    per_rule = np.asarray([citations[n] for n in names.tolist()], dtype=object)  # a rule or two
    state.frames["minimums"] = pd.DataFrame(
        {
            "margin_set_id": state.set_column(codes),
            "rule_id": pd.Categorical(np.asarray(names, dtype=object)[which]),
            "citation": pd.Categorical(per_rule[which]),
            "minimum": minimum[codes],
            "haircuts": haircuts[codes],
            "requirement_before": maintenance[codes],
        }
    )
    return np.where(raised, floor, maintenance)


def _clearing_split(state: RunState, initial: FloatArray, maintenance: FloatArray) -> pd.DataFrame:
    """Per set a DV01 pairing applied to: each clearing house's requirement and the
    carrying firm's, what the customer's initial requirement asks beyond both (to the cent:
    the carrier's is the initial less the houses' rounded amounts). A set no initial rule
    applies to (a hedger's: CME's hedge initial is the maintenance) asks its maintenance,
    as its decision says ("initial = maintenance"), so the carrier's share is the
    maintenance less the houses' (was NaN: its explain read "carrying firm 0.00 = initial
    0.00 - CME 4,400.00 - FICC 5,880.00")."""
    split = state.frames.get("pairing_split")
    if split is None or split.empty:
        return empty_frame(FRAME_COLUMNS["clearing_split"])
    initial = np.where(np.isnan(initial), round_cents(np.maximum(maintenance, 0.0)), initial)
    sets = split["margin_set"].to_numpy(np.int64)
    # money to the cent (book format), the carrier's the rest, so that the three add up
    first = round_cents(split["first_requirement"].to_numpy(np.float64))
    second = round_cents(split["second_requirement"].to_numpy(np.float64))
    out = split.assign(
        margin_set_id=state.set_column(sets),
        first_requirement=first,
        second_requirement=second,
        initial=initial[sets],
        carrier_requirement=round_cents(initial[sets] - first - second),
    )
    return out[list(FRAME_COLUMNS["clearing_split"])].reset_index(drop=True)


def _decisions(
    state: RunState,
    chosen: IntArray,
    maintenance: FloatArray,
    lot_value: FloatArray,
    results: list[MethodResult],
) -> pd.DataFrame:
    n = state.n_sets
    scoped = state.account_set >= 0
    codes = state.account_set[scoped]
    placed_lots = state.lot_set >= 0
    placed_pos = state.position_set >= 0
    lots_mv = state.ctx.lots.own[Subject.COLLATERAL]["market_value"].to_numpy(np.float64)
    pos_mv = state.ctx.positions.own[Subject.POSITION]["market_value"].to_numpy(np.float64)
    collateral_mv = np.bincount(
        state.lot_set[placed_lots], weights=lots_mv[placed_lots], minlength=n
    )
    position_value = np.bincount(
        state.position_set[placed_pos], weights=pos_mv[placed_pos], minlength=n
    )
    # the book's equity: collateral plus positions at market (the decision's `equity`)
    equity = np.asarray(collateral_mv + position_value, dtype=np.float64)
    add_on, state.frames["add_ons"] = concentration_add_ons(state, results, equity)
    collateral_value = np.bincount(
        state.lot_set[placed_lots], weights=lot_value[placed_lots], minlength=n
    )
    # the haircuts of the collateral the value counts (a lot it counts at 0, refused or
    # not counted there, is no equity either)
    counted = placed_lots & (lot_value > 0)
    haircuts = np.bincount(
        state.lot_set[counted], weights=lots_mv[counted] - lot_value[counted], minlength=n
    ).astype(np.float64)
    maintenance = _raise_to_minimums(state, np.maximum(maintenance, 0.0) + add_on, haircuts)
    sets = pd.DataFrame(
        {
            "margin_set": np.arange(n),
            "collateral_market_value": collateral_mv,
            "collateral_value": collateral_value,
            "position_value": position_value,
            "requirement": np.maximum(maintenance, 0.0),
            "breach": state.breach_rules.to_numpy() != "",
        }
    )
    multiple, initial_rule, restores = initial_multiple(state)
    initial = round_cents(np.maximum(maintenance, 0.0) * multiple)
    sets["restore_to"] = np.where(restores, initial, np.nan)
    state.frames["clearing_split"] = _clearing_split(state, initial, maintenance)
    figures = decide(sets, DecisionParams())
    takers = state.frames["sets"]
    takers = takers[takers["role"] == TAKES_IN]
    take_codes = np.searchsorted(state.set_ids, takers["margin_set_id"].to_numpy(str))
    methods = np.array([s.rule_id for s in state.plan.active(StepKind.MARGIN)] + [""], dtype=object)
    not_eligible = np.bincount(codes, weights=(~state.eligible[scoped]).astype(float), minlength=n)
    out = pd.DataFrame(
        {
            "decision_id": (
                state.plan.rulebook_id + ":" + pd.Series(state.set_ids, dtype="str")
            ).to_numpy(dtype=object),
            "rulebook_id": state.plan.rulebook_id,
            "margin_set_id": state.set_ids,
            "account_ids": _per_set_text(state, codes, state.account_ids.to_numpy()[scoped]),
            "takes_in_from": _per_set_text(state, take_codes, takers["account_id"].to_numpy()),
            "eligible": not_eligible == 0,
            "failed_requirements": _failed_text(state),
            "method_rule_id": methods[np.where(chosen >= 0, chosen, len(methods) - 1)],
            "maintenance": figures["requirement"].to_numpy(),
            "initial": initial,
            "initial_rule_id": initial_rule,
            "equity": figures["equity"].to_numpy(),
            "value": figures["value"].to_numpy(),
            "excess": figures["excess"].to_numpy(),
            "call": figures["call"].to_numpy(),
            "status": as_text(figures["status"]).to_numpy(),
            "segregation_violations": state.breach_rules.to_numpy(dtype=object),
            "n_positions": np.bincount(state.position_set[placed_pos], minlength=n),
            "n_lots": np.bincount(state.lot_set[placed_lots], minlength=n),
        }
    )
    return out[list(DECISION_COLUMNS)]
