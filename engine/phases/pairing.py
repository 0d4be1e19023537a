"""Clearing-house cross-margining by DV01 (``pair dv01 of CME position where A against FICC
position where B``): the CME-FICC arrangement's pairing of Treasury futures against cash
Treasuries within maturity buckets.

In a margin set holding positions of both sides, each side is scanned in class groups of its
own, named for its clearing house (``UST_10Y@CME``, ``UST_10Y@FICC``): each clearing house
margins its own positions (:func:`split_class_groups`, in the margin phase). The offset phase
then pairs them (:func:`pairing_credits`):

- a position's **DV01** is the instrument's ``dv01`` (USD per basis point per unit) times its
  signed quantity; a position without a ``dv01``, or whose ``instrument.tenor`` is missing,
  is not paired;
- its **bucket** is the first whose bound its ``instrument.tenor`` (the deliverable's
  residual maturity for a future) does not exceed (bounds inclusive, read on the calendar
  from the as-of date: ``within 3 years`` is the same day three years later), else the
  ``otherwise`` bucket;
- a class group can hedge the other side with its **net DV01** ``N`` (the sum over its
  buckets) and no more: DV01 netted inside it (a calendar spread of futures in two buckets)
  hedges nothing of the other house's. Its bucket legs carry ``N``, spread over the buckets
  whose DV01 has the sign of ``N`` in proportion to their DV01 (:func:`hedging_dv01`; a
  class group all in one bucket keeps that bucket's DV01); the buckets of the other sign
  carry none;
- each leg's risk is the class group's **scanning risk per DV01** ``w = scanning risk /
  |N|`` (the SPAN scanning risk: calendar-spread and delivery-month charges are never
  credited away) times the DV01 it carries, so a class group's legs together carry its
  scanning risk once;
- the rows, in the table's order (their priority), pair a first-side bucket with a
  second-side bucket of opposite DV01 (a long future against short notes, or short futures
  against long notes): ``matched = min(|DV01 a|, |DV01 b|)``, consumed from both legs; a
  class group whose net DV01 does not oppose the other side's matches nothing;
- each leg is credited ``rate x matched x w`` (the rate times the risk it matches); ``1 -
  rate`` is the disallowance. A class group matches at most ``|N|``, so its credit is at
  most the highest rate times its scanning risk.

The pairing takes its credit before the SPAN inter-commodity credits, which see only the
risk the pairing left unmatched. Vectorized over class groups; the loops are over the
rulebook's buckets and rows (:func:`marginlex.engine.kernels.span_spreads.priority_spreads`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.expressions import Subject
from marginlex.engine.kernels.grouping import sum_by_group
from marginlex.engine.kernels.span_spreads import SpreadLegs, SpreadRow, priority_spreads
from marginlex.engine.phases.state import FloatArray, IntArray, RunState, constant
from marginlex.engine.plan.expressions import mask
from marginlex.engine.plan.steps import Plan, Step, StepKind

NOT_PAIRED = -1
"""The side of a position no pairing takes (or of a set without both sides)."""


def pairing_rule_of(plan: Plan) -> Step | None:
    """The first DV01 pairing in force (a SPAN scan's class groups take it), if any."""
    for step in plan.active(StepKind.OFFSET):
        if isinstance(step.statement.rule, m.Dv01Pairing):  # type: ignore[union-attr]
            return step
    return None


def _rule(step: Step) -> m.Dv01Pairing:
    rule = step.statement.rule  # type: ignore[union-attr]
    assert isinstance(rule, m.Dv01Pairing)
    return rule


def position_sides(state: RunState, step: Step, rows: IntArray) -> IntArray:
    """Per position row: 0 for the first side, 1 for the second, ``NOT_PAIRED`` for
    neither or when its set does not hold both sides (a position matching both conditions
    is of the first side)."""
    rule = _rule(step)
    pos = state.ctx.positions
    first = mask(rule.first, pos, state.plan)[rows]
    second = mask(rule.second, pos, state.plan)[rows] & ~first
    sets = state.position_set[rows]
    both = (np.bincount(sets[first], minlength=state.n_sets) > 0) & (
        np.bincount(sets[second], minlength=state.n_sets) > 0
    )
    side = np.where(first, 0, np.where(second, 1, NOT_PAIRED))
    return np.where(both[sets], side, NOT_PAIRED).astype(np.int64)


def split_class_groups(class_group: pd.Series, side: IntArray, step: Step) -> pd.Series:
    """Class groups of paired positions renamed for their clearing house
    (``UST_10Y@CME``); the others unchanged.

    >>> from marginlex.dsl.loader import load_rulebook
    >>> from marginlex.engine.plan.compile import compile_plan
    >>> import datetime as dt
    >>> plan = compile_plan(load_rulebook("cftc"), as_of=dt.date(2026, 6, 30))
    >>> step = pairing_rule_of(plan)
    >>> split_class_groups(pd.Series(["UST_10Y", "UST_10Y", "SPX"]), np.array([0, 1, -1]),
    ...     step).tolist()
    ['UST_10Y@CME', 'UST_10Y@FICC', 'SPX']
    """
    (paired,) = np.nonzero(side != NOT_PAIRED)
    if not len(paired):
        return class_group
    rule = _rule(step)
    houses = np.array([f"@{rule.first_house.name}", f"@{rule.second_house.name}"], dtype=object)
    out = class_group.copy()  # only the paired rows (cross-margin sets) are renamed
    out.iloc[paired] = class_group.iloc[paired].to_numpy(dtype=object) + houses[side[paired]]
    return out


@dataclass(frozen=True)
class BucketDv01:
    """Per class group of a SPAN result: its side (``NOT_PAIRED`` for none) and its net
    DV01 in each of the pairing's buckets (class groups, buckets)."""

    side: IntArray
    dv01: FloatArray


def bucket_dv01(
    state: RunState, step: Step, rows: IntArray, *, codes: IntArray, size: int, side: IntArray
) -> BucketDv01:
    """Each class group's side and net DV01 per bucket (loops over the rule's buckets)."""
    rule = _rule(step)
    link = state.ctx.positions.links[1]
    inst = link.ctx.own[Subject.INSTRUMENT]
    at = link.index[rows]
    tenor = inst["tenor"].to_numpy(np.float64)[at]
    dv01 = pd.to_numeric(inst["dv01"], errors="coerce").to_numpy(np.float64)[at]
    quantity = state.ctx.positions.own[Subject.POSITION]["quantity"].to_numpy(np.float64)[rows]
    exposure = np.where(np.isnan(dv01) | np.isnan(tenor), 0.0, dv01 * quantity)
    paired = side != NOT_PAIRED
    group_side = np.full(size, NOT_PAIRED, dtype=np.int64)
    group_side[codes[paired]] = side[paired]
    out = np.zeros((size, len(rule.buckets)))
    low = -np.inf
    for k, bucket in enumerate(rule.buckets):  # the rulebook's buckets
        high = np.inf if bucket.within is None else state.plan.from_as_of(bucket.within)
        inside = paired & (tenor > low) & (tenor <= high)
        out[:, k] = sum_by_group(codes, np.where(inside, exposure, 0.0), size)
        low = high
    return BucketDv01(side=group_side, dv01=out)


def hedging_dv01(dv01: FloatArray) -> FloatArray:
    """Per class group (rows) and bucket (columns), the DV01 it may pair: its net DV01,
    spread over the buckets whose DV01 has the net's sign, in proportion to their DV01.

    Short 10 ZN in the intermediate bucket (-700) and long 11 in the long bucket (+748) net
    to +48: the long bucket carries it all, the intermediate bucket nothing (its -700 is
    hedged inside the class group, by the calendar spread). Three buckets -100, -700, +680
    net to -120, carried 15 and 105 by the two short buckets. A class group all in one
    bucket keeps its DV01.

    >>> hedging_dv01(np.array([[0.0, -700.0, 748.0], [-100.0, -700.0, 680.0],
    ...     [0.0, -700.0, 0.0], [0.0, 50.0, -50.0]])).tolist()
    [[0.0, 0.0, 48.0], [-15.0, -105.0, 0.0], [0.0, -700.0, 0.0], [0.0, 0.0, 0.0]]
    """
    net = dv01.sum(axis=1)
    carrying = np.where(np.sign(dv01) == np.sign(net)[:, None], dv01, 0.0)
    total = carrying.sum(axis=1)[:, None]
    share = np.divide(carrying, total, out=np.zeros(dv01.shape), where=total != 0)
    out: FloatArray = share * net[:, None]  # a bucket carrying it all: exactly the net
    return out + 0.0  # no -0.0


@dataclass(frozen=True)
class PairingCredits:
    """Per class group of a SPAN result: ``credit`` (the pairing's) and ``matched`` (the
    scanning risk it matched); per (row, set): the DV01, risk (of which ``row_first``
    the first side's) and credit each row matched and gave, the whole risk of the legs it
    took from, and the credits earlier rows gave those legs."""

    credit: FloatArray
    matched: FloatArray
    row_dv01: FloatArray
    row_matched: FloatArray
    row_first: FloatArray
    row_credit: FloatArray
    row_risk: FloatArray
    row_earlier: FloatArray


def pairing_credits(
    state: RunState, step: Step, risk: FloatArray, margin_set: IntArray, buckets: BucketDv01
) -> PairingCredits:
    """The pairing's credits, from each class group's scanning ``risk`` (loss less charges)."""
    rule = _rule(step)
    n_buckets = len(rule.buckets)
    groups = np.nonzero(buckets.side != NOT_PAIRED)[0]
    net = buckets.dv01.sum(axis=1)
    weight = np.divide(risk, np.abs(net), out=np.zeros(len(risk)), where=net != 0)
    group = np.repeat(groups, n_buckets)
    bucket = np.tile(np.arange(n_buckets), len(groups))
    delta = hedging_dv01(buckets.dv01)[group, bucket]
    legs = SpreadLegs(
        margin_set=margin_set[group],
        key=buckets.side[group] * n_buckets + bucket,
        delta=delta,
        risk=weight[group] * np.abs(delta),
    )
    index = {b.name: k for k, b in enumerate(rule.buckets)}
    rows = [
        SpreadRow(
            a=index[r.first.name],
            b=n_buckets + index[r.second.name],
            rate=state.plan.value(r.rate),
        )
        for r in rule.rows
    ]
    out = priority_spreads(legs, rows, state.n_sets)
    size = len(risk)
    credit = np.bincount(group, weights=out.credit, minlength=size).astype(np.float64)
    matched = np.bincount(group, weights=out.delta_spread * weight[group], minlength=size)
    return PairingCredits(
        credit=credit,
        matched=matched.astype(np.float64),
        row_dv01=out.formed,
        row_matched=out.row_matched,
        row_first=out.row_matched_a,
        row_credit=out.row_credit,
        row_risk=out.row_risk,
        row_earlier=out.row_earlier,
    )


def pairing_rows(
    state: RunState, step: Step, found: PairingCredits, effect: FloatArray, raw: FloatArray
) -> pd.DataFrame:
    """One ``offsets`` row per (set, pairing row) that matched DV01, its credit scaled so
    that a set's rows add up to the requirement the pairing took off (``effect`` per set:
    less than the credits ``raw`` only where a class group's minimum binds). A row's legs'
    risk is what its legs had left after the credits of earlier rows (a leg shared with an
    earlier row is not counted whole again), so that the risk it leaves is what the
    decision's class groups keep of it. A row also
    says what recomputes its credit: the DV01 it matched, and each leg's scanning risk per
    DV01 and credit (``rate x DV01 matched x risk per DV01``, before any minimum); a side
    of several class groups shows their risk per DV01 weighted by the DV01 each gave."""
    rule = _rule(step)
    row, sets = np.nonzero(found.row_dv01 > 0)
    scale = np.divide(effect, raw, out=np.zeros(len(raw)), where=raw > 0)
    houses = (rule.first_house.name, rule.second_house.name)
    names = [f"{houses[0]} {r.first.name} with {houses[1]} {r.second.name}" for r in rule.rows]
    credit = found.row_credit[row, sets] * scale[sets]
    rates = np.array([state.plan.value(r.rate) for r in rule.rows])
    matched = found.row_matched[row, sets]
    # the risk its legs had left: less what earlier rows credited them (scaled as credits)
    legs = found.row_risk[row, sets] - found.row_earlier[row, sets] * scale[sets]
    dv01 = found.row_dv01[row, sets]
    first = found.row_first[row, sets]
    second = matched - first
    return pd.DataFrame(
        {
            "margin_set": sets,
            "margin_set_id": state.set_column(sets),
            "product_group": pd.Categorical.from_codes(
                row, categories=pd.Index(names, dtype="str")
            ),
            **state.step_columns(step, len(row)),
            "offset_rate": rates[row],
            "n_class_groups": np.full(len(row), 2, dtype=np.int64),
            "worst_point": np.full(len(row), -1, dtype=np.int64),
            "losses_at_worst": legs,
            "gains_at_worst": matched,
            "netted_loss": legs - credit,
            "class_group_requirements": legs,
            "minimum": np.zeros(len(row)),
            "requirement": legs - credit,
            "credit": credit,
            "paired_credit": np.zeros(len(row)),
            "dv01_matched": dv01,
            "first_risk_per_dv01": first / dv01,
            "first_credit": rates[row] * first,
            "second_risk_per_dv01": second / dv01,
            "second_credit": rates[row] * second,
        }
    )


def clearing_split(
    state: RunState,
    step: Step,
    margin_set: IntArray,
    *,
    buckets: BucketDv01,
    found: PairingCredits,
    after: FloatArray,
) -> pd.DataFrame:
    """Per set the pairing applied to: each clearing house's requirement (the sum of its
    class groups' requirements after credits) and net DV01, and the DV01 paired."""
    rule = _rule(step)
    n = state.n_sets
    side, net = buckets.side, buckets.dv01.sum(axis=1)

    def per_set(k: int, values: FloatArray) -> FloatArray:
        weights = np.where(side == k, values, 0.0)
        return np.bincount(margin_set, weights=weights, minlength=n).astype(np.float64)

    sets = np.unique(margin_set[side != NOT_PAIRED])
    return pd.DataFrame(
        {
            "margin_set": sets,
            **state.step_columns(step, len(sets)),
            "first_house": constant(len(sets), rule.first_house.name),
            "first_dv01": per_set(0, net)[sets],
            "first_requirement": per_set(0, after)[sets],
            "second_house": constant(len(sets), rule.second_house.name),
            "second_dv01": per_set(1, net)[sets],
            "second_requirement": per_set(1, after)[sets],
            "dv01_paired": found.row_dv01.sum(axis=0)[sets],
        }
    )
