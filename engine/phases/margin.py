"""Margin steps: pick one method per margin set and run its kernel on the set's positions.

A method applies to a margin set when its ``applies to`` holds for any account of the set;
the first method in rulebook order that applies is the set's maintenance method. Position
rows of the sets of one method are gathered once and handed to the kernel
(:mod:`~marginlex.engine.kernels.scenarios`, :mod:`~marginlex.engine.kernels.span`,
:mod:`~marginlex.engine.kernels.strategy`); the kernel's class-group and position columns are
the trace.

A range row is read against the instrument a position moves with: an option's underlying
(an option on a future is scanned at its future's range, not at an option product's), any
other instrument itself. A scenario-grid class group takes one range: the first range row,
in rulebook order, that any of its positions meets (a class group moves as one
underlying, so an option row without an index class does not widen a broad-index group to
the ``otherwise`` range). A SPAN row's own ``scan_range`` is likewise its underlying's for an
option.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.expressions import Subject
from marginlex.engine.evaluation import FRAME_COLUMNS
from marginlex.engine.kernels.grouping import group_by_set_and_label, sum_by_group
from marginlex.engine.kernels.pricing import OPTION_AT_WORST
from marginlex.engine.kernels.scenarios import GridParams, scenario_grid
from marginlex.engine.kernels.span import SpanParams, span_scan
from marginlex.engine.kernels.span_horizon import horizon_factor
from marginlex.engine.kernels.strategy import (
    LowPriceRates,
    OptionRates,
    StrategyParams,
    StrategyRow,
    expired_options,
    strategy_based,
)
from marginlex.engine.kernels.text import as_text
from marginlex.engine.phases.pairing import (
    NOT_PAIRED,
    BucketDv01,
    bucket_dv01,
    pairing_rule_of,
    position_sides,
    split_class_groups,
)
from marginlex.engine.phases.ranges import (
    first_row,
    first_row_per_group,
    moving_context,
    moving_instrument,
    regrouped,
)
from marginlex.engine.phases.span_charges import leg_windows, span_charges, tier_deltas
from marginlex.engine.phases.state import (
    FloatArray,
    IntArray,
    RunState,
    constant,
    empty_frame,
    labels,
)
from marginlex.engine.plan.citations import row_note_categories, row_notes, strategy_notes
from marginlex.engine.plan.context import EvaluationError
from marginlex.engine.plan.expressions import mask
from marginlex.engine.plan.steps import Plan, Step, StepKind

_INSTRUMENT_COLUMNS = (
    "product",
    "underlying",
    "class_group",
    "index_class",
    "multiplier",
    "price",
    "underlying_price",
    "strike",
    "implied_vol",
    "scan_range",
    "is_option",
    "residual_maturity",
)


@dataclass
class MethodResult:
    """What one method step produced for its sets.

    Attributes:
        step: the margin step.
        groups: class-group rows (grid and scan), columns as the ``class_groups`` trace
            plus ``margin_set`` (code) and ``product_key``; None for per-position methods.
        pnl: (class groups, points) P&L matrix matching ``groups``.
        positions: per position row of its sets: the ``positions`` trace columns plus
            ``margin_set`` (code) and ``row`` (position row in the book).
        set_requirement: per set code, the requirement before class-group credits.
        pairing: per class group, its clearing-house side and net DV01 per bucket of the
            DV01 pairing in force (:mod:`marginlex.engine.phases.pairing`); None when no
            set of a SPAN scan holds both sides.
        span_charges: a SPAN scan's charge rows, one per charge a class group was charged
            (:data:`marginlex.engine.phases.span_charges.CHARGE_COLUMNS`, with the row's
            ``citation`` and ``evidence``); None for other methods.
        tier_deltas: (class groups, tiers) net delta in each tier of months the SPAN
            credit rule's legs name (:func:`marginlex.engine.phases.span_charges.leg_windows`
            order); None when no leg names a tier.
    """

    step: Step
    groups: pd.DataFrame | None
    pnl: FloatArray | None
    positions: pd.DataFrame
    set_requirement: FloatArray
    tier_deltas: FloatArray | None = None
    pairing: BucketDv01 | None = None
    span_charges: pd.DataFrame | None = None


def _per_set(state: RunState, codes: IntArray, weights: FloatArray) -> FloatArray:
    """Sum of ``weights`` per set code."""
    return np.bincount(codes, weights=weights, minlength=state.n_sets).astype(np.float64)


def method_of_sets(state: RunState) -> IntArray:
    """Per set code, the index in ``plan.active(MARGIN)`` of its method (-1: none)."""
    chosen = np.full(state.n_sets, -1, dtype=np.int64)
    for number, step in enumerate(state.plan.active(StepKind.MARGIN)):
        assert isinstance(step.statement, m.Margin)
        applies = state.any_member(mask(step.statement.applies_to, state.ctx.accounts, state.plan))
        chosen = np.where((chosen < 0) & applies, number, chosen)
    return chosen


def position_frame(state: RunState, rows: IntArray) -> pd.DataFrame:
    """Kernel input columns for some position rows (gathered from the contexts)."""
    pos = state.ctx.positions
    inst_link = pos.links[1]
    inst = inst_link.ctx.own[Subject.INSTRUMENT]
    inst_rows = inst_link.index[rows]
    own = pos.own[Subject.POSITION]
    # Series.take keeps dtypes (categorical, Arrow strings): no per-row Python objects.
    out = {c: inst[c].take(inst_rows).reset_index(drop=True) for c in _INSTRUMENT_COLUMNS}
    out["instrument_id"] = own["instrument_id"].take(rows).reset_index(drop=True)
    out["account_id"] = own["account_id"].take(rows).reset_index(drop=True)
    frame = pd.DataFrame(out)
    frame["quantity"] = own["quantity"].to_numpy(np.float64)[rows]
    frame["market_value"] = own["market_value"].to_numpy(np.float64)[rows]
    is_call = (as_text(inst["option_type"]) == "call").to_numpy(dtype=bool)
    frame["is_call"] = is_call[inst_rows] & frame["is_option"].to_numpy(dtype=bool)
    frame["t"] = frame["residual_maturity"].to_numpy(np.float64)
    frame["margin_set"] = state.position_set[rows]
    frame["row"] = rows
    return frame


def _no_row(frame: pd.DataFrame, chosen: IntArray, step: Step) -> None:
    if (chosen < 0).any():
        missing = sorted(set(as_text(frame.loc[chosen < 0, "instrument_id"])))[:5]
        raise EvaluationError(
            f"rule `{step.rule_id}`: no range row matches {', '.join(missing)}; add a "
            "`range otherwise` row"
        )


def _contract_mask(
    state: RunState, rows: IntArray, minimum: m.ContractMinimum | None
) -> np.ndarray:
    if minimum is None:
        return np.zeros(len(rows), dtype=bool)
    return mask(minimum.where, state.ctx.positions, state.plan)[rows]


def _run_grid(state: RunState, step: Step, grid: m.ScenarioGrid, rows: IntArray) -> MethodResult:
    frame = position_frame(state, rows)
    chosen = first_row(state, rows, [r.when for r in grid.ranges], moving=True)
    _no_row(frame, chosen, step)
    up = np.array([state.plan.value(r.up) for r in grid.ranges])
    down = np.array([state.plan.value(r.down) for r in grid.ranges])
    frame["class_group"] = regrouped(frame["class_group"], grid, chosen)
    chosen = first_row_per_group(frame, chosen)
    frame["range_up"], frame["range_down"] = up[chosen], down[chosen]
    frame["n_points"] = grid.points
    frame["is_contract"] = _contract_mask(state, rows, grid.minimum)
    minimum = state.plan.value(grid.minimum.amount) if grid.minimum else 0.0
    rate = state.plan.value(grid.rate) if grid.rate else 0.0
    expired = expired_options(frame)  # no live option: no P&L, no contract minimum
    scanned = frame
    if expired.any():
        scanned = frame.assign(
            quantity=np.where(expired, 0.0, frame["quantity"].to_numpy(np.float64)),
            is_contract=frame["is_contract"].to_numpy(dtype=bool) & ~expired,
        )
    result = scenario_grid(scanned, GridParams(rate=rate, minimum_per_contract=minimum))
    groups = result.groups.assign(method=m.ScenarioGrid.__name__, worst_vol_move=np.nan)
    frame["range_row"] = chosen
    positions = frame.assign(
        pnl_at_worst=result.positions["pnl_at_worst"].to_numpy(),
        minimum=result.positions["minimum"].to_numpy(),
        **{c: result.positions[c].to_numpy() for c in OPTION_AT_WORST},
        **row_note_categories(step.statement, [r.note for r in grid.ranges], chosen),
    )
    codes = result.positions["group"].to_numpy(np.int64)
    done = _finish(
        state, step, groups=groups, pnl=result.group_pnl, positions=positions, codes=codes
    )
    return _named_expired(done, expired)


def _run_span(state: RunState, step: Step, scan: m.SpanScan, rows: IntArray) -> MethodResult:
    frame = position_frame(state, rows)
    pairing = pairing_rule_of(state.plan)
    sides = None
    if pairing is not None:  # each clearing house scans its own side of a paired set
        sides = position_sides(state, pairing, rows)
        frame["class_group"] = split_class_groups(frame["class_group"], sides, pairing)
    chosen = first_row(state, rows, [r.when for r in scan.ranges], moving=True)
    table = np.array([state.plan.value(r.range) for r in scan.ranges] + [np.nan])[chosen]
    inst = state.ctx.positions.links[1].ctx.own[Subject.INSTRUMENT]
    own = inst["scan_range"].to_numpy(np.float64)[moving_instrument(state)[rows]]
    use_own = ~np.isnan(own) if scan.prefer_instrument_range else np.zeros(len(own), bool)
    if ((chosen < 0) & ~use_own).any():
        _no_row(frame, np.where(use_own, 0, chosen), step)
    frame["scan_range"] = np.where(use_own, own, table) * _horizon(state, scan)
    frame["is_contract"] = _contract_mask(state, rows, scan.minimum)
    minimum = state.plan.value(scan.minimum.amount) if scan.minimum else 0.0
    # an option past its expiry is no longer an option (domain decision 38): no P&L at any
    # scenario, no delta in the calendar spreads or the inter-commodity legs, no short option
    # minimum; its row keeps its quantity and its mark stays in the value
    expired = expired_options(frame)
    scanned = frame
    if expired.any():
        scanned = frame.assign(
            quantity=np.where(expired, 0.0, frame["quantity"].to_numpy(np.float64)),
            is_contract=frame["is_contract"].to_numpy(dtype=bool) & ~expired,
        )
    params = SpanParams(
        scan_ranges={},
        vol_shift=state.plan.value(scan.vol_shift),
        vol_relative=scan.vol_floor is not None,
        vol_floor=state.plan.value(scan.vol_floor) if scan.vol_floor is not None else 0.0,
        extreme_multiple=state.plan.value(scan.extreme_multiple),
        extreme_fraction=state.plan.value(scan.extreme_cover),
        short_option_minimum=minimum,
    )
    result = span_scan(scanned, params)
    g = result.groups
    codes = result.positions["group"].to_numpy(np.int64)
    deltas = result.positions["delta"].to_numpy(np.float64)
    charges, charge_rows = span_charges(
        state, scan, rows, codes, len(g), deltas=deltas, rule_id=step.rule_id, expired=expired
    )
    notes = [t.note for t in scan.calendar.all_tiers] if scan.calendar is not None else []
    notes.append(scan.delivery.note if scan.delivery is not None else None)
    charge_rows = charge_rows.assign(
        **row_notes(step.statement, notes, charge_rows["row"].to_numpy(np.int64))
    )
    credit = credit_rule_of(state.plan, span=True)
    rule = credit.statement.rule if credit is not None else None  # type: ignore[union-attr]
    through = state.plan.through_contract_month
    windows = leg_windows(rule, through) if isinstance(rule, m.ClassGroupCredit) else []
    tiers = None
    if windows:
        tiers = tier_deltas(state, rows, codes, len(g), deltas=deltas, windows=windows)
    loss = g["scanning_risk"].to_numpy(np.float64) + charges
    som = g["short_option_minimum"].to_numpy(np.float64)
    groups = g.assign(
        charges=charges,
        requirement=np.maximum(loss, som),
        minimum_binds=som > loss,
        method=m.SpanScan.__name__,
        range_up=np.nan,
        range_down=np.nan,
        n_points=16,
        worst_point=g["worst_scenario"] - 1,
        worst_shock=g["worst_price_move"],
        worst_vol_move=g["worst_vol_move"],
        loss=loss,
        minimum=som,
    )
    frame["range_row"] = np.where(use_own, -2, chosen)
    frame["range_up"] = frame["range_down"] = frame["scan_range"]
    positions = frame.assign(
        pnl_at_worst=result.positions["pnl_at_worst"].to_numpy(),
        minimum=0.0,
        **{c: result.positions[c].to_numpy() for c in OPTION_AT_WORST},
        **row_note_categories(
            step.statement, [r.note for r in scan.ranges], frame["range_row"].to_numpy()
        ),
    )
    done = _finish(
        state, step, groups=groups, pnl=result.scenario_pnl, positions=positions, codes=codes
    )
    paired = None
    if pairing is not None and sides is not None and (sides != NOT_PAIRED).any():
        paired = bucket_dv01(state, pairing, rows, codes=codes, size=len(g), side=sides)
    done = replace(done, tier_deltas=tiers, pairing=paired, span_charges=charge_rows)
    return _named_expired(done, expired)


def _named_expired(done: MethodResult, expired: npt.NDArray[np.bool_]) -> MethodResult:
    """A scan's positions with its expired options named ``expired_option``."""
    if not expired.any():
        return done
    named = labels(np.where(expired, 0, 1), [StrategyRow.EXPIRED_OPTION.value, ""])
    return replace(done, positions=done.positions.assign(strategy_row=named))


def _horizon(state: RunState, scan: m.SpanScan) -> float:
    """The scan ranges' factor for the scan's ``coverage C over L`` (1 at 99% over 1 day)."""
    cover = state.plan.value(scan.coverage) if scan.coverage is not None else None
    days = state.plan.value(scan.liquidation) if scan.liquidation is not None else None
    return horizon_factor(cover, days)


def _finish(
    state: RunState,
    step: Step,
    *,
    groups: pd.DataFrame,
    pnl: FloatArray,
    positions: pd.DataFrame,
    codes: IntArray,
) -> MethodResult:
    """Attach the credit key to class groups and total the requirement per set."""
    span = isinstance(step.statement.method, m.SpanScan)  # type: ignore[union-attr]
    key = _product_key(state, positions, codes, len(groups), span=span)
    groups = groups.assign(product_key=key)
    positions = positions.assign(strategy_row=constant(len(positions), ""), requirement=np.nan)
    total = _per_set(
        state,
        groups["margin_set"].to_numpy(np.int64),
        weights=groups["requirement"].to_numpy(np.float64),
    )
    return MethodResult(step, groups, pnl, positions, total)


def _product_key(
    state: RunState, frame: pd.DataFrame, codes: IntArray, size: int, *, span: bool
) -> np.ndarray:
    """Per class group, the value of its credit rule's key field (e.g. index_class), read
    like its range rows from the instrument each position moves with (an option's
    underlying): a class group is offset as the product it is scanned as."""
    credit = credit_rule_of(state.plan, span=span)
    if credit is None or not len(frame):
        return np.full(size, "", dtype=object)
    rule = credit.statement.rule  # type: ignore[union-attr]
    assert isinstance(rule, m.ClassGroupCredit)
    key = rule.key
    rows = frame["row"].to_numpy(np.int64)
    pos = state.ctx.positions
    if key.subject is Subject.INSTRUMENT:  # read per instrument, gather per position
        link = pos.links[1]
        col, rows = link.ctx.column(key.subject, key.name), moving_instrument(state)[rows]
    else:
        col = pos.column(key.subject, key.name)
    # Every key a row names, left legs and the right legs of spreads (`a with b`), in order.
    listed = list(dict.fromkeys(n.name for r in rule.rows for n in (r.left, r.right) if n))
    value_codes = as_text(col).map({k: i for i, k in enumerate(listed)})
    none = len(listed)  # the trailing "": no row of the table
    per_row = value_codes.fillna(none).to_numpy(np.int64)[rows]
    # A class group can mix keys (a Treasury future and the cash notes taken in with it):
    # it takes the first table row any of its positions has, whatever the row order.
    per_group = np.full(size, none, dtype=np.int64)
    np.minimum.at(per_group, codes, per_row)
    return np.asarray([*listed, ""], dtype=object)[per_group]


def credit_rule_of(plan: Plan, *, span: bool = False) -> Step | None:
    """The class-group credit step a method's class groups take, if any: for a SPAN scan
    the first per-leg rule in force (``credit each leg ...``), else, and for every other
    method, the first point-by-point rule (``credit between class groups ...``)."""
    credits = [
        s
        for s in plan.active(StepKind.OFFSET)
        if isinstance(s.statement.rule, m.ClassGroupCredit)  # type: ignore[union-attr]
    ]
    per_leg = [s for s in credits if s.statement.rule.per_leg]  # type: ignore[union-attr]
    netted = [s for s in credits if not s.statement.rule.per_leg]  # type: ignore[union-attr]
    if span and per_leg:
        return per_leg[0]
    return netted[0] if netted else None


def _strategy_params(state: RunState, method: m.StrategyBased) -> StrategyParams:
    rate = {r.leg: state.plan.value(r.rate) for r in method.rows}
    floor = {r.leg: state.plan.value(r.floor) if r.floor else 0.0 for r in method.rows}
    leg = m.StrategyLeg
    return StrategyParams(
        long_equity_rate=rate.get(leg.LONG_STOCK, 0.0),
        short_equity_rate=rate.get(leg.SHORT_STOCK, 0.0),
        long_option_rate=rate.get(leg.LONG_OPTION, 1.0),
        equity_option=OptionRates(
            underlying_rate=rate.get(leg.SHORT_EQUITY_OPTION, 0.0),
            minimum_rate=floor.get(leg.SHORT_EQUITY_OPTION, 0.0),
        ),
        broad_index_option=OptionRates(
            underlying_rate=rate.get(leg.SHORT_INDEX_OPTION, 0.0),
            minimum_rate=floor.get(leg.SHORT_INDEX_OPTION, 0.0),
        ),
        # The rulebook has no row for other products held in a strategy-based account
        # (Treasuries, futures): they take the long-stock rate, on |notional|.
        other_rate=rate.get(leg.LONG_STOCK, 0.0),
        spread_rate=rate.get(leg.OPTION_SPREAD),
        straddle_rate=rate.get(leg.SHORT_STRADDLE),
        held_in_cash=method.held_in_cash,
        short_equity_per_share=_short_stock_per_share(state, method),
        short_equity_low_price=_short_stock_low_price(state, method),
    )


def _short_stock_row(method: m.StrategyBased) -> m.StrategyRow | None:
    return next((r for r in method.rows if r.leg == m.StrategyLeg.SHORT_STOCK), None)


def _short_stock_per_share(state: RunState, method: m.StrategyBased) -> float:
    """The ``short_stock`` row's ``at least N USD per share`` (none written: 0, the rate alone)."""
    row = _short_stock_row(method)
    return state.plan.value(row.per_share) if row and row.per_share is not None else 0.0


def _short_stock_low_price(state: RunState, method: m.StrategyBased) -> LowPriceRates | None:
    """The ``short_stock`` row's ``, under N USD a share R at least N USD per share``, if any."""
    row = _short_stock_row(method)
    tier = row.low_price if row else None
    if tier is None:
        return None
    return LowPriceRates(
        under=state.plan.value(tier.under),
        rate=state.plan.value(tier.rate),
        per_share=state.plan.value(tier.per_share) if tier.per_share is not None else 0.0,
    )


def _underlying_index_class(state: RunState, frame: pd.DataFrame, rows: IntArray) -> pd.DataFrame:
    """An option whose own ``index_class`` is blank takes its underlying's: an option on a
    broad-based index moves with that index (the grid's range rows and the concentration
    filter read it there, :func:`moving_instrument`), so the strategy-based method prices it
    at the broad-index rates too (``short_index_option``), not at the equity rates."""
    own = frame["index_class"]
    blank = (own.isna() | (as_text(own) == "")).to_numpy(dtype=bool)
    if not blank.any():
        return frame
    inst = state.ctx.positions.links[1].ctx.own[Subject.INSTRUMENT]
    under = inst["index_class"].take(moving_instrument(state)[rows]).reset_index(drop=True)
    return frame.assign(index_class=own.astype(object).where(~blank, under.astype(object)))


def _stock_lots(state: RunState, frame: pd.DataFrame) -> pd.DataFrame | None:
    """Cover rows for the collateral lots of stock (``STOCK`` or ``ETF`` lots that name their
    ``instrument_id``) margining an account of these sets: a security held in the account
    serves in lieu of the required margin for a short call (12 CFR 220.4(b)(4)(ii)), as a
    long position in it does. Shares = market value / (price x multiplier). None without
    such a lot. A cash account's lots count nothing (decision 37) and cover nothing here."""
    lots = state.book.collateral
    if "instrument_id" not in lots.columns or not lots["instrument_id"].notna().any():
        return None
    sets = np.unique(frame["margin_set"].to_numpy(np.int64))
    inst = state.book.instruments.set_index("instrument_id")
    named = lots["instrument_id"].notna().to_numpy()
    stock = as_text(lots["asset"]).isin(["STOCK", "ETF"]).to_numpy(dtype=bool)
    here = np.isin(state.lot_set, sets) & (state.lot_set >= 0)
    keep = np.flatnonzero(named & stock & here & (lots["market_value"].to_numpy() > 0))
    if not len(keep):
        return None
    ids = as_text(lots["instrument_id"]).to_numpy(dtype=object)[keep]
    price = inst["price"].reindex(ids).to_numpy(np.float64)
    mult = np.nan_to_num(inst["multiplier"].reindex(ids).to_numpy(np.float64), nan=1.0)
    product = as_text(inst["product"].reindex(ids)).to_numpy(dtype=object)
    ok = (price > 0) & np.isin(product, ["stock", "etf"])
    keep, ids, price, mult, product = keep[ok], ids[ok], price[ok], mult[ok], product[ok]
    if not len(keep):
        return None
    accounts = state.graph.lot_columns()["margined_account_id"].to_numpy(dtype=object)[keep]
    value = lots["market_value"].to_numpy(np.float64)[keep]
    n = len(keep)
    return pd.DataFrame(
        {
            "margin_set": state.lot_set[keep],
            "account_id": accounts,
            "instrument_id": ids,
            "underlying": pd.Series([None] * n, dtype=object),
            "product": product,
            "index_class": pd.Series([None] * n, dtype=object),
            "quantity": value / (price * mult),
            "multiplier": mult,
            "price": price,
            "underlying_price": np.nan,
            "strike": np.nan,
            "t": np.nan,
            "is_option": False,
            "is_call": False,
            "other_rate": np.nan,
            "cover_only": True,
        }
    )


def _run_strategy(
    state: RunState,
    step: Step,
    method: m.StrategyBased,
    rows: IntArray,
) -> MethodResult:
    frame = _underlying_index_class(state, position_frame(state, rows), rows)
    chosen = first_row(state, rows, [r.when for r in method.others])
    other = np.array([state.plan.value(r.rate) for r in method.others] + [np.nan])[chosen]
    frame = frame.assign(other_rate=other)
    lots = None if method.held_in_cash else _stock_lots(state, frame)
    if lots is None:
        result = strategy_based(frame, _strategy_params(state, method))
    else:  # the lots' rows only cover: the positions' rows are the result
        both = pd.concat([frame.assign(cover_only=False), lots], ignore_index=True)
        result = strategy_based(both, _strategy_params(state, method)).iloc[: len(frame)]
        result.index = frame.index
    positions = frame.assign(
        range_row=-1,
        range_up=np.nan,
        range_down=np.nan,
        pnl_at_worst=np.nan,
        minimum=np.nan,
        **dict.fromkeys(OPTION_AT_WORST, np.nan),
        strategy_row=result["strategy_row"].array,
        requirement=result["requirement"].to_numpy(np.float64),
        **strategy_notes(step.statement, method, frame, result["strategy_row"], chosen),
    )
    total = _per_set(
        state,
        frame["margin_set"].to_numpy(np.int64),
        weights=positions["requirement"].to_numpy(np.float64),
    )
    return MethodResult(step, None, None, positions, total)


def _run_rates(state: RunState, step: Step, method: m.Rates, rows: IntArray) -> MethodResult:
    """Each position charged its first matching row's rate x |notional| (quantity x price x
    multiplier): a security's market value, a future's contract value (its market value is
    0, settled daily, so a rate of market value would charge a future nothing)."""
    frame = position_frame(state, rows)
    chosen = first_row(state, rows, [r.when for r in method.rows])
    rates = np.array([state.plan.value(r.rate) for r in method.rows] + [0.0])[chosen]
    notional = (
        frame["quantity"].to_numpy(np.float64)
        * frame["multiplier"].to_numpy(np.float64)
        * frame["price"].to_numpy(np.float64)
    )
    requirement = rates * np.abs(notional)
    if any(r.of_underlying is not None for r in method.rows):
        requirement = _of_underlying(
            state, method, frame, chosen, rates=rates, requirement=requirement
        )
    positions = frame.assign(
        range_row=chosen,
        range_up=np.nan,
        range_down=np.nan,
        pnl_at_worst=np.nan,
        minimum=np.nan,
        **dict.fromkeys(OPTION_AT_WORST, np.nan),
        strategy_row=constant(len(frame), ""),
        requirement=requirement,
        **row_note_categories(step.statement, [r.note for r in method.rows], chosen),
    )
    total = _per_set(state, frame["margin_set"].to_numpy(np.int64), weights=requirement)
    return MethodResult(step, None, None, positions, total)


def _of_underlying(
    state: RunState,
    method: m.Rates,
    frame: pd.DataFrame,
    chosen: IntArray,
    *,
    rates: FloatArray,
    requirement: FloatArray,
) -> FloatArray:
    """The positions whose row reads ``of underlying less out of the money``: rate x the
    underlying's value (its price x quantity x multiplier) less the out-of-the-money amount,
    at least ``floor`` x the underlying's value and ``per_share`` x the shares delivered (SEC
    Rule 15c3-1's strategy-based deduction for a short option); every other position keeps
    rate x |notional|. A short call struck at 105 on XYZ at 100, x 100: 15% x 10,000 - 500
    = 1,000, at least 7.5% x 10,000 = 750 and 2.50 x 100 = 250: 1,000.
    """
    basis = [r.of_underlying for r in method.rows] + [None]
    value = state.plan.value
    floors = np.array([value(b.floor) if b and b.floor else 0.0 for b in basis])[chosen]
    shares_min = np.array([value(b.per_share) if b and b.per_share else 0.0 for b in basis])
    of_under = np.array([b is not None for b in basis])[chosen]
    shares = np.abs(frame["quantity"].to_numpy(np.float64)) * frame["multiplier"].to_numpy(
        np.float64
    )
    spot = np.nan_to_num(frame["underlying_price"].to_numpy(np.float64))
    strike = np.nan_to_num(frame["strike"].to_numpy(np.float64))
    call = frame["is_call"].to_numpy(dtype=bool)
    under = spot * shares
    otm = np.where(call, np.maximum(strike - spot, 0.0), np.maximum(spot - strike, 0.0)) * shares
    charge = np.maximum.reduce(
        [rates * under - otm, floors * under, shares_min[chosen] * shares, np.zeros(len(frame))]
    )
    return np.where(of_under, charge, requirement)


_METHODS = {
    m.ScenarioGrid: _run_grid,
    m.SpanScan: _run_span,
    m.StrategyBased: _run_strategy,
    m.Rates: _run_rates,
}


def run_methods(state: RunState, chosen: IntArray) -> list[MethodResult]:
    """Run each margin method on the positions of the sets it was chosen for."""
    results = []
    placed = state.position_set >= 0
    method = np.full(len(placed), -1, dtype=np.int64)  # -1: in no set (also when none exists)
    method[placed] = chosen[state.position_set[placed]]
    for number, step in enumerate(state.plan.active(StepKind.MARGIN)):
        assert isinstance(step.statement, m.Margin)
        rows = np.flatnonzero(method == number)
        runner = _METHODS[type(step.statement.method)]
        results.append(runner(state, step, step.statement.method, rows))  # type: ignore[operator]
    return results


def minimum_equity(state: RunState) -> tuple[FloatArray, np.ndarray]:
    """Per set code, the largest ``minimum equity`` amount that applies (NaN: none) and the
    rule that states it; a statement applies to a set when it applies to one of its accounts."""
    floor = np.full(state.n_sets, np.nan)
    rule = np.full(state.n_sets, "", dtype=object)
    for step in state.plan.active(StepKind.MINIMUM_EQUITY):  # a rule or two
        assert isinstance(step.statement, m.Margin)
        method = step.statement.method
        assert isinstance(method, m.MinimumEquity)
        amount = state.plan.value(method.amount)
        applies = state.any_member(mask(step.statement.applies_to, state.ctx.accounts, state.plan))
        raises = applies & ~(floor >= amount)  # NaN compares False: a first minimum applies
        floor = np.where(raises, amount, floor)
        rule = np.where(raises, step.rule_id, rule)
    return floor, rule


def concentration_add_ons(
    state: RunState, results: list[MethodResult], equity: FloatArray
) -> tuple[FloatArray, pd.DataFrame]:
    """Per set code, the ``concentration add`` charged (0: none), and one ``add_ons`` row per
    class group charged.

    A class group's value is the sum of its positions' absolute market values in the set;
    it is concentrated when that is above ``share`` of the set's ``equity`` (every class
    group of value is, when the equity is nil or negative), and charged ``rate`` of it. The
    first statement in force that applies to one of the set's accounts decides the set.
    Only the positions of the sets a statement applies to, and that it counts, are grouped.
    The ``for position where`` filter reads an option's instrument fields from the
    instrument it moves with (its underlying), as range rows do: an option on an ETF is an
    ETF position, not a single name. The ``share`` column is the class group's measured
    share of equity (NaN where the equity is nil or negative).
    """
    total = np.zeros(state.n_sets)
    decided = np.zeros(state.n_sets, dtype=bool)
    rows = [empty_frame(FRAME_COLUMNS["add_ons"])]
    for step in state.plan.active(StepKind.CONCENTRATION_ADD_ON):  # a rule or two
        assert isinstance(step.statement, m.Margin)
        method = step.statement.method
        assert isinstance(method, m.ConcentrationAddOn)
        applies = state.any_member(mask(step.statement.applies_to, state.ctx.accounts, state.plan))
        applies &= ~decided
        decided |= applies
        frame = _counted_positions(state, results, applies, method.where)
        if frame is None:
            continue
        index = group_by_set_and_label(
            frame["margin_set"].to_numpy(np.int64), as_text(frame["class_group"])
        )
        value = np.abs(frame["market_value"].to_numpy(np.float64))
        gross = sum_by_group(index.codes, value, index.size)
        owner = np.asarray(index.margin_set, dtype=np.int64)
        rate, share = state.plan.value(method.rate), state.plan.value(method.share)
        hit = (gross > 0) & (gross > share * equity[owner])
        add_on = rate * gross[hit]
        total += np.bincount(owner[hit], weights=add_on, minlength=state.n_sets)
        rows.append(
            pd.DataFrame(
                {
                    "margin_set_id": state.set_column(owner[hit]),
                    "rule_id": step.rule_id,
                    "citation": step.citation,
                    "class_group": pd.Series(index.label, dtype="str")[hit].to_numpy(),
                    "class_group_value": gross[hit],
                    "equity": equity[owner[hit]],
                    "share": _measured_share(gross[hit], equity[owner[hit]]),
                    "rate": rate,
                    "add_on": add_on,
                }
            )
        )
    found = [r for r in rows[1:] if len(r)]
    return total, pd.concat(found, ignore_index=True) if found else rows[0]


def _measured_share(value: FloatArray, equity: FloatArray) -> FloatArray:
    """A class group's value as a share of its set's equity (NaN where equity is not > 0).

    >>> _measured_share(np.array([81_900.0, 5.0]), np.array([111_900.0, 0.0])).round(4)
    array([0.7319,    nan])
    """
    positive = equity > 0
    return np.where(positive, value / np.where(positive, equity, 1.0), np.nan)


def _counted_positions(
    state: RunState, results: list[MethodResult], applies: np.ndarray, where: m.Expr | None
) -> pd.DataFrame | None:
    """The method results' positions in the sets ``applies`` marks that ``where`` counts
    (``margin_set``, ``class_group``, ``market_value``); None when there are none."""
    if not applies.any():
        return None
    counted = mask(where, moving_context(state), state.plan)  # an option as its underlying
    pieces = []
    for result in results:  # one per margin method
        pos = result.positions
        if not len(pos):
            continue
        sets, rows = pos["margin_set"].to_numpy(np.int64), pos["row"].to_numpy(np.int64)
        keep = applies[sets] & counted[rows]
        if keep.any():
            pieces.append(pos.loc[keep, ["margin_set", "class_group", "market_value"]])
    return pd.concat(pieces, ignore_index=True) if pieces else None


def initial_multiple(state: RunState) -> tuple[FloatArray, np.ndarray, np.ndarray]:
    """Per set code, the initial/maintenance multiple (NaN: none), the rule id, and whether a
    call restores the initial requirement (``, calls restore initial``)."""
    multiple = np.full(state.n_sets, np.nan)
    rule = np.full(state.n_sets, "", dtype=object)
    restores = np.zeros(state.n_sets, dtype=bool)
    for step in state.plan.active(StepKind.INITIAL):
        assert isinstance(step.statement, m.Margin)
        method = step.statement.method
        assert isinstance(method, m.InitialMultiple)
        applies = state.any_member(
            mask(step.statement.applies_to, state.ctx.accounts, state.plan)
        ) & np.isnan(multiple)
        multiple = np.where(applies, state.plan.value(method.multiple), multiple)
        rule = np.where(applies, step.rule_id, rule)
        restores = np.where(applies, method.calls_restore_initial, restores)
    return multiple, rule, restores
