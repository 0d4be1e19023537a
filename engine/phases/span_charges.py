"""The SPAN scan's charges per class group (calendar spreads and the delivery month), and
the net delta of each class group in the tiers of months its inter-commodity legs name.

Reads the scan's ``calendar spreads`` and ``delivery month`` clauses against the positions
of the scanned sets (:mod:`marginlex.engine.kernels.span_charges` computes them). A scan
without either clause (every rulebook recorded before them) charges nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.expressions import Subject
from marginlex.engine.evaluation import SPAN_CHARGE_FIGURES
from marginlex.engine.kernels.grouping import sum_by_group
from marginlex.engine.kernels.span_charges import BoolArray, calendar_ladder, delivery_charges
from marginlex.engine.phases.ranges import moving_instrument
from marginlex.engine.phases.state import FloatArray, IntArray, RunState
from marginlex.engine.plan.expressions import mask

Window = tuple[float, float]
"""A tier of months: time to expiry above the first bound, at most the second (years); a
bound in months or years is the last day of that contract month from the as-of month
(:meth:`~marginlex.engine.plan.steps.Plan.through_contract_month`)."""


CHARGE_COLUMNS = ("group", "row", *SPAN_CHARGE_FIGURES)
"""One row per charge a class group was charged (:func:`span_charges`): ``group`` (its
row), ``row`` (the tier's index among the clause's tiers and then each ``when`` case's;
the delivery charge's is the number of tiers), ``charge``
(``calendar`` or ``delivery``), ``tier`` (``up to 3 months``, ``otherwise``, ``delivery
month``), the rate (by parameter id, or the rule's slot) and its value, ``count`` (spreads
formed in the tier, or gross contracts in the delivery month), the long and short contracts
of the tier and nearer ones (netted per expiry; the delivery month's gross), the options'
contracts counted by delta among them (net), and ``amount`` = count x rate."""


def span_charges(
    state: RunState,
    scan: m.SpanScan,
    rows: IntArray,
    codes: IntArray,
    size: int,
    *,
    deltas: FloatArray,
    rule_id: str = "",
    expired: BoolArray | None = None,
) -> tuple[FloatArray, pd.DataFrame]:
    """Per class group, the calendar spread and delivery month charges of ``scan``, and the
    rows they add up from (:data:`CHARGE_COLUMNS`; the loop is over the rulebook's tiers).

    Args:
        state: the run.
        scan: the SPAN scan statement's method.
        rows: the position rows scanned.
        codes: class-group code per row (the scan's).
        size: number of class groups.
        deltas: per row, its contracts with an option counted by delta (the scan's).
        rule_id: the scan's rule, to name a rate written in the rule.
        expired: per row, an option past its expiry, which no charge counts (its delta in
            ``deltas`` is 0 already).
    """
    total = np.zeros(size)
    parts: list[pd.DataFrame] = []
    pos = state.ctx.positions
    quantity = pos.own[Subject.POSITION]["quantity"].to_numpy(np.float64)[rows]
    if expired is not None:
        quantity = np.where(expired, 0.0, quantity)
    link = pos.links[1]
    inst = link.ctx.own[Subject.INSTRUMENT]
    inst_rows = link.index[rows]
    tiers = scan.calendar.all_tiers if scan.calendar is not None else ()
    if scan.calendar is not None:
        amounts, rows_of = _calendar_charges(
            state,
            scan.calendar,
            rows,
            codes,
            size,
            quantity=quantity,
            deltas=deltas,
            rule_id=rule_id,
        )
        total += amounts
        parts += rows_of
    if scan.delivery is not None:
        counted = mask(scan.delivery.where, pos, state.plan)[rows]
        month = inst["maturity"].to_numpy("datetime64[M]")[inst_rows]
        in_month = counted & (month == np.datetime64(state.plan.as_of, "M"))
        amount = state.plan.value(scan.delivery.amount)
        total += delivery_charges(codes, size, in_month, quantity, amount)
        long_in = sum_by_group(codes, np.where(in_month, np.maximum(quantity, 0.0), 0.0), size)
        short_in = sum_by_group(codes, np.where(in_month, np.maximum(-quantity, 0.0), 0.0), size)
        gross = long_in + short_in
        (hit,) = np.nonzero(gross > 0)
        rate_id = _rate_id(scan.delivery.amount, f"{rule_id}.delivery")
        parts.append(
            _charge_rows(
                hit,
                len(tiers),
                "delivery",
                "delivery month",
                rate_id=rate_id,
                rate=amount,
                count=gross[hit],
            ).assign(long_contracts=long_in[hit], short_contracts=short_in[hit])
        )
    if not parts:
        return total, pd.DataFrame({c: [] for c in CHARGE_COLUMNS})
    return total, pd.concat(parts, ignore_index=True).reindex(columns=list(CHARGE_COLUMNS))


def _calendar_charges(
    state: RunState,
    cal: m.CalendarSpreads,
    rows: IntArray,
    codes: IntArray,
    size: int,
    *,
    quantity: FloatArray,
    deltas: FloatArray,
    rule_id: str,
) -> tuple[FloatArray, list[pd.DataFrame]]:
    """Per class group, the calendar spread charge of ``cal``, and its charge rows (the loop
    is over the rulebook's tables and tiers)."""
    total = np.zeros(size)
    parts: list[pd.DataFrame] = []
    pos = state.ctx.positions
    link = pos.links[1]
    inst = link.ctx.own[Subject.INSTRUMENT]
    inst_rows = link.index[rows]
    counted = mask(cal.where, pos, state.plan)[rows]
    # by delta: an option counts quantity x delta at its underlying's expiry (CME)
    moving = moving_instrument(state)[rows]
    at = moving if cal.by_delta else inst_rows
    expiry = inst["residual_maturity"].to_numpy(np.float64)[at]
    # a contract the clause counts without an expiry (a perpetual: its maturity is
    # optional) is farther than every dated month, in the last tier
    expiry = np.where(counted & np.isnan(expiry), np.inf, expiry)
    contracts = deltas if cal.by_delta else quantity
    # each class group's table: 0 the clause's own tiers, c the c-th `when` case's
    table = _table_of_groups(state, cal, counted=counted, rows=rows, codes=codes, size=size)
    # tiers count contract months from the as-of month (decision 49)
    through = state.plan.through_contract_month
    first = 0  # the charge rows number the tiers of every table in turn
    for t, written in enumerate(cal.tables):  # the rulebook's tables
        bounds = np.array([through(x.upper) if x.upper else np.inf for x in written])
        rates = np.array([state.plan.value(x.charge) for x in written])
        mine = counted & (table[codes] == t)
        spreads, longs, shorts = calendar_ladder(
            codes, size, counted=mine, quantity=contracts, expiry=expiry, bounds=bounds
        )
        total += spreads @ rates
        # the options among them: net contracts by delta, per tier and the nearer ones
        tier = np.searchsorted(bounds, expiry, side="left")
        option = mine & (moving != inst_rows) & (tier < len(bounds)) & ~np.isnan(expiry)
        cell = codes * len(bounds) + np.minimum(tier, len(bounds) - 1)
        options = np.bincount(
            cell[option], weights=contracts[option], minlength=size * len(bounds)
        ).reshape(size, len(bounds))
        options = np.cumsum(options, axis=1)
        for k, x in enumerate(written):  # the table's tiers
            (hit,) = np.nonzero(spreads[:, k] > 0)
            label = f"up to {x.upper.written}" if x.upper is not None else "otherwise"
            slot = f"calendar[{label}]" if t == 0 else f"calendar.when[{t}][{label}]"
            rate_id = _rate_id(x.charge, f"{rule_id}.{slot}")
            parts.append(
                _charge_rows(
                    hit,
                    first + k,
                    "calendar",
                    label,
                    rate_id=rate_id,
                    rate=rates[k],
                    count=spreads[hit, k],
                ).assign(
                    long_contracts=longs[hit, k],
                    short_contracts=shorts[hit, k],
                    option_contracts=options[hit, k],
                )
            )
        first += len(written)
    return total, parts


def _table_of_groups(
    state: RunState,
    cal: m.CalendarSpreads,
    *,
    counted: BoolArray,
    rows: IntArray,
    codes: IntArray,
    size: int,
) -> IntArray:
    """Per class group, the tiers it takes (:attr:`m.CalendarSpreads.tables`): c for the
    first ``when`` case that every one of its counted positions meets, else 0, the clause's
    own (the loop is over the rulebook's cases, last first, so that the first one met wins).

    CME sets the intra-commodity spread charge per combined commodity, the class group. A
    class group mixing contracts a case takes with others (nano and standard BTC futures
    under one underlying) keeps the clause's tiers: one nano contract never lowers the
    charge of the others' spreads (give the nano contracts a class group of their own to
    charge them apart)."""
    table = np.zeros(size, dtype=np.int64)
    pos = state.ctx.positions
    held = np.bincount(codes[counted], minlength=size)
    for c in range(len(cal.cases), 0, -1):
        meets = counted & mask(cal.cases[c - 1].when, pos, state.plan)[rows]
        every = (np.bincount(codes[meets], minlength=size) == held) & (held > 0)
        table[every] = c
    return table


def _rate_id(value: m.Quantity | m.ParamRef, slot: str) -> str:
    """A rate by its parameter id (``param.NAME``), or by the rule's slot when written in it."""
    return f"param.{value.name}" if isinstance(value, m.ParamRef) else slot


def _charge_rows(
    groups: IntArray,
    row: int,
    charge: str,
    tier: str,
    *,
    rate_id: str,
    rate: float,
    count: FloatArray,
) -> pd.DataFrame:
    n = len(groups)
    return pd.DataFrame(
        {
            "group": groups.astype(np.int64),
            "row": np.full(n, row, dtype=np.int64),
            "charge": np.full(n, charge, dtype=object),
            "tier": np.full(n, tier, dtype=object),
            "rate_id": np.full(n, rate_id, dtype=object),
            "rate": np.full(n, rate),
            "count": count,
            "option_contracts": np.full(n, np.nan),
            "amount": count * rate,
        }
    )


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
