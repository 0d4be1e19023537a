"""The SPAN scan's charges per class group (calendar spreads and the delivery month), and
the net delta of each class group in the tiers of months its inter-commodity legs name.

Reads the scan's ``calendar spreads`` and ``delivery month`` clauses against the positions
of the scanned sets (:mod:`marginlex.engine.kernels.span_charges` computes them). A scan
without either clause (every rulebook recorded before them) charges nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.expressions import Subject
from marginlex.engine.kernels.grouping import sum_by_group
from marginlex.engine.kernels.span_charges import calendar_spreads, delivery_charges
from marginlex.engine.phases.ranges import moving_instrument
from marginlex.engine.phases.state import FloatArray, IntArray, RunState
from marginlex.engine.plan.expressions import mask

Window = tuple[float, float]
"""A tier of months: time to expiry above the first bound, at most the second (years)."""


def span_charges(
    state: RunState,
    scan: m.SpanScan,
    rows: IntArray,
    codes: IntArray,
    size: int,
    *,
    deltas: FloatArray,
) -> FloatArray:
    """Per class group, the calendar spread and delivery month charges of ``scan``.

    Args:
        state: the run.
        scan: the SPAN scan statement's method.
        rows: the position rows scanned.
        codes: class-group code per row (the scan's).
        size: number of class groups.
        deltas: per row, its contracts with an option counted by delta (the scan's).
    """
    total = np.zeros(size)
    pos = state.ctx.positions
    quantity = pos.own[Subject.POSITION]["quantity"].to_numpy(np.float64)[rows]
    link = pos.links[1]
    inst = link.ctx.own[Subject.INSTRUMENT]
    inst_rows = link.index[rows]
    if scan.calendar is not None:
        bounds = np.array(
            [state.plan.value(t.upper) if t.upper else np.inf for t in scan.calendar.tiers]
        )
        rates = np.array([state.plan.value(t.charge) for t in scan.calendar.tiers])
        counted = mask(scan.calendar.where, pos, state.plan)[rows]
        # by delta: an option counts quantity x delta at its underlying's expiry (CME)
        at = moving_instrument(state)[rows] if scan.calendar.by_delta else inst_rows
        expiry = inst["residual_maturity"].to_numpy(np.float64)[at]
        contracts = deltas if scan.calendar.by_delta else quantity
        spreads = calendar_spreads(
            codes, size, counted=counted, quantity=contracts, expiry=expiry, bounds=bounds
        )
        total += spreads @ rates
    if scan.delivery is not None:
        counted = mask(scan.delivery.where, pos, state.plan)[rows]
        month = inst["maturity"].to_numpy("datetime64[M]")[inst_rows]
        in_month = counted & (month == np.datetime64(state.plan.as_of, "M"))
        total += delivery_charges(
            codes, size, in_month, quantity, state.plan.value(scan.delivery.amount)
        )
    return total


def leg_window(tier: m.Expiring | None, value: Callable[[m.Quantity], float]) -> Window | None:
    """A leg's tier in years (``expiring after A within B``), None for the whole class group.

    >>> months = m.Quantity(amount=3, unit=m.Unit.MONTHS, text="3")
    >>> leg_window(m.Expiring(within=months), lambda q: q.base)
    (0.0, 0.25)
    """
    if tier is None:
        return None
    low = value(tier.after) if tier.after is not None else 0.0
    return (low, value(tier.within) if tier.within is not None else float("inf"))


def leg_windows(rule: m.ClassGroupCredit, value: Callable[[m.Quantity], float]) -> list[Window]:
    """The distinct tiers the rule's spread legs name, in the order first named."""
    sides = ((r.left_tier, r.right_tier) for r in rule.rows)
    found = (leg_window(tier, value) for pair in sides for tier in pair)
    return list(dict.fromkeys(w for w in found if w is not None))


def tier_deltas(
    state: RunState,
    rows: IntArray,
    codes: IntArray,
    size: int,
    *,
    deltas: FloatArray,
    windows: list[Window],
) -> FloatArray:
    """(class groups, windows): each class group's net delta (an option by its delta, as
    the scan counts it) of the positions whose moving instrument expires in each window;
    the loop is over the rulebook's tiers."""
    inst = state.ctx.positions.links[1].ctx.own[Subject.INSTRUMENT]
    expiry = inst["residual_maturity"].to_numpy(np.float64)[moving_instrument(state)[rows]]
    out = np.zeros((size, len(windows)))
    for k, (low, high) in enumerate(windows):
        inside = (expiry > low) & (expiry <= high)
        out[:, k] = sum_by_group(codes, np.where(inside, deltas, 0.0), size)
    return out
