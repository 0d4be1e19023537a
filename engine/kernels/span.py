"""SPAN-style scan (CFTC rulebook; CME SPAN practice, 17 CFR 39.13(g)).

Sixteen scenarios per class group, numbered as in SPAN risk arrays:

| scenario | price move (x scan range) | volatility | weight |
|---|---|---|---|
| 1, 2 | 0 | up, down | 1 |
| 3, 4 / 5, 6 | +1/3 / -1/3 | up, down | 1 |
| 7, 8 / 9, 10 | +2/3 / -2/3 | up, down | 1 |
| 11, 12 / 13, 14 | +3/3 / -3/3 | up, down | 1 |
| 15 / 16 | +3 / -3 (extreme) | unchanged | ``extreme_fraction`` (0.33) |

Each position's scan range is the instrument's ``scan_range`` where the book gives one, else
the rulebook's value for its ``product``. An option's scan range is a move of its
*underlying*: the compile step should give option rows their underlying's ``scan_range``
(or the table must list the option product). Linear instruments (futures, cash Treasuries,
stock) lose quantity x multiplier x price x move; options are revalued with Black-Scholes at
the shocked underlying and volatility: implied vol +/- ``vol_shift`` absolute, floored at 0;
or, with ``vol_relative`` (CME's volatility scan range, a change relative to implied
volatility), implied vol x (1 +/- ``vol_shift``), floored at ``vol_floor``.
Rate 0 makes this Black-76 for options on futures. Scenario P&L is summed per (margin set,
class group) and weighted; the scanning risk is max(-worst weighted P&L, 0). The short option
minimum is ``short_option_minimum`` x multiplier per short option contract. The class-group
requirement before inter-commodity credits is max(scanning risk, short option minimum);
:func:`marginlex.engine.kernels.offsets.spread_credits` applies the credits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from marginlex.engine.kernels.grouping import (
    FloatArray,
    GroupIndex,
    group_by_set_and_label,
    sum_by_group,
)
from marginlex.engine.kernels.pricing import (
    OptionLegs,
    option_delta,
    option_values_at,
    revalue_options,
)

SPAN_COLUMNS = (
    "margin_set",
    "class_group",
    "product",
    "quantity",
    "multiplier",
    "price",
    "scan_range",
    "is_option",
    "is_call",
    "underlying_price",
    "strike",
    "implied_vol",
    "t",
)
"""Columns :func:`span_scan` reads; ``scan_range`` may be NaN (then the table applies). An
optional bool ``is_contract`` narrows the short option minimum to the rows it marks."""


class SpanParams(BaseModel):
    """Parameters of the SPAN-style scan.

    Attributes:
        scan_ranges: scan range (fraction of price) by ``product``, used where the
            instrument has no ``scan_range`` of its own.
        vol_shift: implied-volatility shift of scenarios 1-14: absolute (0.04 is 4 points),
            or relative to implied volatility with ``vol_relative`` (0.25: x 1.25, x 0.75).
        vol_relative: the shift is a share of implied volatility.
        vol_floor: the lowest shocked volatility when ``vol_relative`` (absolute shifts are
            floored at 0).
        extreme_multiple: the extreme moves, in scan ranges (3).
        extreme_fraction: share of an extreme-move loss that counts (0.33).
        short_option_minimum: USD per unit of multiplier per short option contract.
        initial_multiple: initial requirement / maintenance (1.10).
        rate: Black-Scholes rate.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    scan_ranges: Mapping[str, float]
    vol_shift: float = Field(ge=0.0)
    vol_relative: bool = False
    vol_floor: float = Field(default=0.0, ge=0.0)
    extreme_multiple: float = Field(default=3.0, gt=0.0)
    extreme_fraction: float = Field(ge=0.0, le=1.0)
    short_option_minimum: float = Field(ge=0.0)
    initial_multiple: float = Field(default=1.0, ge=1.0)
    rate: float = 0.0


@dataclass(frozen=True)
class Scenarios:
    """The 16 scenarios as arrays: price move (scan ranges), vol move sign, weight."""

    price_move: FloatArray
    vol_sign: FloatArray
    weight: FloatArray


@dataclass(frozen=True)
class SpanResult:
    """Output of :func:`span_scan`.

    Attributes:
        groups: one row per (margin set, class group), sorted: ``margin_set``,
            ``class_group``, ``n_positions``, ``worst_scenario`` (1-16),
            ``worst_price_move`` (scan ranges, signed), ``worst_vol_move`` (-1, 0, +1),
            ``worst_weight``, ``worst_pnl`` (weighted), ``scanning_risk``,
            ``short_contracts``, ``short_option_minimum``, ``requirement``,
            ``minimum_binds``, ``direction`` (sign of the worst price move; used by
            spread credits), ``net_delta`` (contracts, options by delta: the
            inter-commodity spreads by priority).
        scenario_pnl: (groups, 16) weighted P&L per class group and scenario.
        positions: per input row: ``group``, ``delta`` (contracts), ``scan_range_used``,
            ``scan_range_from_instrument``, ``pnl_at_worst`` (weighted).
    """

    groups: pd.DataFrame
    scenario_pnl: FloatArray
    positions: pd.DataFrame


def scenarios(params: SpanParams) -> Scenarios:
    """The 16 SPAN scenarios for these parameters.

    >>> s = scenarios(SpanParams(scan_ranges={}, vol_shift=0.04, extreme_fraction=0.33,
    ...                          short_option_minimum=0.375))
    >>> s.price_move[[0, 2, 4, 14, 15]].tolist(), s.weight[-2:].tolist()
    ([0.0, 0.3333333333333333, -0.3333333333333333, 3.0, -3.0], [0.33, 0.33])
    """
    moves: list[float] = []
    for third in (0, 1, 2, 3):  # SPAN order: 0, +1/3, -1/3, +2/3, -2/3, +1, -1
        for sign in (1.0, -1.0) if third else (1.0,):
            moves += [sign * third / 3.0] * 2
    extreme = params.extreme_multiple
    return Scenarios(
        price_move=np.array([*moves, extreme, -extreme]),
        vol_sign=np.array([1.0, -1.0] * 7 + [0.0, 0.0]),
        weight=np.array([1.0] * 14 + [params.extreme_fraction] * 2),
    )


def scan_range_per_row(frame: pd.DataFrame, params: SpanParams) -> tuple[FloatArray, np.ndarray]:
    """Each row's scan range: its instrument's where given, else the product table's.

    Returns:
        (scan range per row, boolean "came from the instrument" per row).

    Raises:
        ValueError: a row has neither.
    """
    own = frame["scan_range"].to_numpy(np.float64)
    from_instrument = ~np.isnan(own)
    table = frame["product"].map(dict(params.scan_ranges)).to_numpy(np.float64, na_value=np.nan)
    used = np.where(from_instrument, own, table)
    lacking = np.isnan(used)
    if lacking.any():
        products = sorted(set(frame["product"][lacking].astype(str)))
        raise ValueError(
            f"no scan range for product(s) {', '.join(products)}: add them to the table"
        )
    return used, from_instrument


def _scenario_pnl(
    frame: pd.DataFrame, ranges: FloatArray, scen: Scenarios, params: SpanParams
) -> FloatArray:
    """Weighted points-major (16, N) P&L per row."""
    is_option = frame["is_option"].to_numpy(dtype=bool)
    units = frame["quantity"].to_numpy(np.float64) * frame["multiplier"].to_numpy(np.float64)
    moves = scen.price_move[:, None] * ranges[None, :]
    exposure = np.where(is_option, 0.0, units * frame["price"].to_numpy(np.float64))
    pnl = moves * exposure[None, :]
    opt = np.flatnonzero(is_option)
    if opt.size:
        legs = OptionLegs.from_frame(frame, opt, units)
        vol_moves = scen.vol_sign * params.vol_shift
        pnl[:, opt] = revalue_options(
            legs,
            moves[:, opt],
            vol_moves=vol_moves,
            rate=params.rate,
            vol_relative=params.vol_relative,
            vol_floor=params.vol_floor,
        )
    return np.asarray(pnl * scen.weight[:, None], dtype=np.float64)


def span_scan(frame: pd.DataFrame, params: SpanParams) -> SpanResult:
    """Scan every class group over the 16 scenarios.

    Args:
        frame: one row per position with :data:`SPAN_COLUMNS`.
        params: scan parameters.

    Returns:
        Class-group results, the weighted scenario P&L matrix and per-position trace.

    Raises:
        ValueError: a column is missing or a row has no scan range.
    """
    missing = [c for c in SPAN_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"SPAN input lacks columns: {', '.join(missing)}")
    scen = scenarios(params)
    ranges, from_instrument = scan_range_per_row(frame, params)
    index = group_by_set_and_label(frame["margin_set"].to_numpy(), frame["class_group"])
    pnl = _scenario_pnl(frame, ranges, scen, params)
    group_pnl = sum_by_group(index.codes, pnl, index.size)
    groups = _group_figures(frame, index, group_pnl, scen, params)
    groups.insert(0, "class_group", pd.Series(index.label))
    groups.insert(0, "margin_set", index.margin_set)
    worst = groups["worst_scenario"].to_numpy(np.int64) - 1
    deltas = contract_deltas(frame)
    groups["net_delta"] = sum_by_group(index.codes, deltas, index.size)
    positions = pd.DataFrame(
        {
            "group": index.codes,
            "delta": deltas,
            "scan_range_used": ranges,
            "scan_range_from_instrument": from_instrument,
            "pnl_at_worst": pnl[worst[index.codes], np.arange(len(frame))],
        },
        index=frame.index,
    )
    at = worst[index.codes]  # each row's worst scenario
    vol_moves = scen.vol_sign[at] * params.vol_shift
    options = option_values_at(
        frame,
        scen.price_move[at] * ranges,
        vol_moves,
        params.rate,
        vol_relative=params.vol_relative,
        vol_floor=params.vol_floor,
    )
    return SpanResult(groups=groups, scenario_pnl=group_pnl, positions=positions.join(options))


def contract_deltas(frame: pd.DataFrame) -> FloatArray:
    """Each row's delta in contracts, signed: a future's (or any linear row's) quantity; an
    option's quantity x its delta (:func:`marginlex.engine.kernels.pricing.option_delta`, at
    the underlying's price and the option's implied volatility).

    >>> frame = pd.DataFrame({"quantity": [2.0, -4.0], "is_option": [False, True],
    ...     "is_call": [False, True], "underlying_price": [0.0, 100.0], "strike": [0.0, 100.0],
    ...     "implied_vol": [0.0, 0.2], "t": [0.0, 1.0]})
    >>> contract_deltas(frame).round(4).tolist()
    [2.0, -2.1593]
    """
    quantity = frame["quantity"].to_numpy(np.float64)
    is_option = frame["is_option"].to_numpy(dtype=bool)
    delta = option_delta(
        frame["underlying_price"].to_numpy(np.float64),
        frame["strike"].to_numpy(np.float64),
        frame["t"].to_numpy(np.float64),
        frame["implied_vol"].to_numpy(np.float64),
        frame["is_call"].to_numpy(dtype=bool),
    )
    return np.asarray(quantity * np.where(is_option, delta, 1.0), dtype=np.float64)


def _group_figures(
    frame: pd.DataFrame,
    index: GroupIndex,
    group_pnl: FloatArray,
    scen: Scenarios,
    params: SpanParams,
) -> pd.DataFrame:
    codes, size = index.codes, index.size
    worst = np.argmin(group_pnl, axis=1) if size else np.zeros(0, np.int64)
    worst_pnl = group_pnl[np.arange(size), worst]
    risk = np.maximum(-worst_pnl, 0.0)
    quantity = frame["quantity"].to_numpy(np.float64)
    short_option = frame["is_option"].to_numpy(dtype=bool) & (quantity < 0)
    if "is_contract" in frame.columns:  # the minimum's `for position where` (the rulebook's)
        short_option &= frame["is_contract"].to_numpy(dtype=bool)
    short_contracts = sum_by_group(codes, np.abs(quantity) * short_option, size)
    per_row_min = (
        params.short_option_minimum * frame["multiplier"].to_numpy(np.float64) * np.abs(quantity)
    )
    som = sum_by_group(codes, per_row_min * short_option, size)
    return pd.DataFrame(
        {
            "n_positions": np.bincount(codes, minlength=size).astype(np.int64),
            "worst_scenario": worst.astype(np.int64) + 1,
            "worst_price_move": scen.price_move[worst],
            "worst_vol_move": scen.vol_sign[worst],
            "worst_weight": scen.weight[worst],
            "worst_pnl": worst_pnl,
            "scanning_risk": risk,
            "short_contracts": short_contracts,
            "short_option_minimum": som,
            "requirement": np.maximum(risk, som),
            "minimum_binds": som > risk,
            "direction": np.sign(scen.price_move[worst]) * (risk > 0),
        }
    )


def initial_from_maintenance(maintenance: FloatArray, params: SpanParams) -> FloatArray:
    """Initial requirement = ``initial_multiple`` x maintenance (1.10 for a speculator).

    >>> p = SpanParams(scan_ranges={}, vol_shift=0.0, extreme_fraction=0.33,
    ...                short_option_minimum=0.0, initial_multiple=1.1)
    >>> initial_from_maintenance(np.array([1000.0]), p).tolist()
    [1100.0]
    """
    return np.asarray(maintenance * params.initial_multiple, dtype=np.float64)
