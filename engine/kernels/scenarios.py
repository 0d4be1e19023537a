"""Scenario-grid revaluation (portfolio margin, FINRA 4210(g)(2) style).

Each position has its own range (``range_up``, ``range_down``, fractions of the underlying
price) and point count ``n_points`` (even): n/2 points equidistant up to ``+range_up`` and
n/2 down to ``-range_down``. Point columns run from the largest fall to the largest rise:
for +/-15% at 10 points, column 0 is -15%, column 4 is -3%, column 5 is +3%, column 9 is
+15%; for +6/-8 they are -8, -6.4, -4.8, -3.2, -1.6, +1.2, +2.4, +3.6, +4.8, +6%.

Stocks, ETFs and futures move linearly: P&L = quantity x multiplier x price x move. Options
are revalued with Black-Scholes at the shocked underlying (volatility unchanged):
(model value shocked - model value now) x quantity x multiplier. P&L is summed per
(margin set, class group) at every point (100% netting within a class group); the
class-group loss is max(-min point P&L, 0) at its worst point; the minimum is
``minimum_per_contract`` x multiplier per listed option, unlisted derivative or future
contract (absolute quantity), capped at market value (quantity x multiplier x price) for a
long option or unlisted derivative (``product`` sbs); the class-group requirement is
max(loss, minimum).

Every position of one class group must share its range and point count (they are set by
the class group's underlying); the kernel refuses mixed groups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from marginlex.dsl.model.domain import FUTURE_PRODUCTS, OPTION_PRODUCTS, OptionType, Product
from marginlex.engine.kernels.grouping import (
    FloatArray,
    IntArray,
    first_by_group,
    group_by_set_and_label,
    sum_by_group,
    uniform_within_groups,
)
from marginlex.engine.kernels.pricing import OptionLegs, option_values_at, revalue_options
from marginlex.engine.kernels.text import as_text

GRID_COLUMNS = (
    "margin_set",
    "class_group",
    "quantity",
    "multiplier",
    "price",
    "product",
    "is_option",
    "is_call",
    "is_contract",
    "underlying_price",
    "strike",
    "implied_vol",
    "t",
    "range_up",
    "range_down",
    "n_points",
)
"""Columns :func:`scenario_grid` reads (book-format names plus derived ones)."""


class GridRange(BaseModel):
    """One scenario range: +up / -down as fractions, at ``points`` equidistant points."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    up: float = Field(ge=0.0)
    down: float = Field(ge=0.0)
    points: int = Field(ge=2)

    @model_validator(mode="after")
    def _even(self) -> GridRange:
        if self.points % 2:
            raise ValueError(f"a scenario grid needs an even number of points, got {self.points}")
        return self


class GridParams(BaseModel):
    """Parameters of the scenario-grid method.

    Attributes:
        rate: Black-Scholes rate (continuously compounded, fraction).
        minimum_per_contract: USD per unit of multiplier per listed option or future
            contract (0.375 in the SEC book).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: float = 0.0
    minimum_per_contract: float = Field(ge=0.0)


@dataclass(frozen=True)
class GridResult:
    """Output of :func:`scenario_grid`.

    Attributes:
        groups: one row per (margin set, class group), sorted: ``margin_set``,
            ``class_group``, ``n_positions``, ``range_up``, ``range_down``, ``n_points``,
            ``worst_point`` (column index), ``worst_shock`` (signed fraction),
            ``worst_pnl``, ``loss``, ``contracts``, ``minimum``, ``requirement``,
            ``minimum_binds``.
        group_pnl: (groups, K) P&L per class group and point; columns past a group's
            point count are 0.
        positions: per input row, in input order: ``group`` (row of ``groups``),
            ``pnl_at_worst`` (its P&L at its group's worst point), ``minimum``.
    """

    groups: pd.DataFrame
    group_pnl: FloatArray
    positions: pd.DataFrame


def point_fractions(points: int) -> FloatArray:
    """Signed fractions of the range at each point column, largest fall first.

    >>> point_fractions(4).tolist()
    [-1.0, -0.5, 0.5, 1.0]
    """
    half = points // 2
    steps = np.arange(1, half + 1, dtype=np.float64) / half
    return np.concatenate([-steps[::-1], steps])


def contract_flags(product: pd.Series, option_type: pd.Series) -> pd.DataFrame:
    """Derive ``is_option``, ``is_call`` and ``is_contract`` from book columns.

    Args:
        product: instruments' ``product`` per row.
        option_type: instruments' ``option_type`` per row (empty for non-options).

    Returns:
        A frame of three boolean columns aligned with the inputs.
    """
    is_option = product.isin([p.value for p in OPTION_PRODUCTS]).to_numpy(dtype=bool)
    is_future = product.isin([p.value for p in FUTURE_PRODUCTS]).to_numpy(dtype=bool)
    is_call = (option_type == OptionType.CALL.value).fillna(False).to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "is_option": is_option,
            "is_call": is_call & is_option,
            "is_contract": is_option | is_future,
        },
        index=product.index,
    )


def assign_ranges(keys: pd.Series, table: Mapping[str, GridRange]) -> pd.DataFrame:
    """Look up each row's range by a key (e.g. the underlying's index class).

    Args:
        keys: per-row key.
        table: range per key.

    Returns:
        ``range_up``, ``range_down``, ``n_points`` columns aligned with ``keys``.

    Raises:
        ValueError: a key has no range in the table.
    """
    missing = sorted(set(pd.unique(keys.dropna())) - set(table)) + (
        ["<empty>"] if keys.isna().any() else []
    )
    if missing:
        raise ValueError(f"no scenario range for {', '.join(map(str, missing))}")
    return pd.DataFrame(
        {
            "range_up": keys.map({k: r.up for k, r in table.items()}).astype(np.float64),
            "range_down": keys.map({k: r.down for k, r in table.items()}).astype(np.float64),
            "n_points": keys.map({k: r.points for k, r in table.items()}).astype(np.int64),
        },
        index=keys.index,
    )


def _moves(
    count: int, down: FloatArray, up: FloatArray, out: FloatArray | None = None
) -> FloatArray:
    """(count, M) moves: the first half scale ``down``, the second ``up``."""
    fractions = point_fractions(count)[:, None]
    half = count // 2
    moves = np.empty((count, len(down))) if out is None else out
    np.multiply(fractions[:half], down[None, :], out=moves[:half])
    np.multiply(fractions[half:], up[None, :], out=moves[half:])
    return moves


def _position_pnl(frame: pd.DataFrame, n_points: IntArray, rate: float) -> FloatArray:
    """Points-major (K, N) P&L matrix; columns past a row's point count stay 0."""
    width = int(n_points.max())
    uniform = int(n_points.min()) == width
    pnl = np.zeros((width, len(frame)), dtype=np.float64)
    is_option = frame["is_option"].to_numpy(dtype=bool)
    units = frame["quantity"].to_numpy(np.float64) * frame["multiplier"].to_numpy(np.float64)
    exposure = np.where(is_option, 0.0, units * frame["price"].to_numpy(np.float64))
    up = frame["range_up"].to_numpy(np.float64)
    down = frame["range_down"].to_numpy(np.float64)
    opt = np.flatnonzero(is_option)
    # Distinct point counts are a handful of rulebook ranges, not rows.
    for count in [width] if uniform else np.unique(n_points).tolist():
        if uniform:  # linear P&L written straight into the matrix
            _moves(count, down * exposure, up * exposure, out=pnl)
            opt_rows = opt
        else:
            rows = np.flatnonzero(n_points == count)
            pnl[:count, rows] = _moves(count, (down * exposure)[rows], (up * exposure)[rows])
            opt_rows = opt[n_points[opt] == count]
        if opt_rows.size:
            moves = _moves(count, down[opt_rows], up[opt_rows])
            legs = OptionLegs.from_frame(frame, opt_rows, units)
            pnl[:count, opt_rows] = revalue_options(legs, moves, rate=rate)
    return pnl


def scenario_grid(frame: pd.DataFrame, params: GridParams) -> GridResult:
    """Revalue positions on their scenario grids and compute class-group requirements.

    Args:
        frame: one row per position with :data:`GRID_COLUMNS`; option columns
            (``underlying_price``, ``strike``, ``implied_vol``, ``t``) are read only on
            option rows.
        params: rate and per-contract minimum.

    Returns:
        Class-group results, the class-group P&L matrix and per-position trace columns.

    Raises:
        ValueError: a column is missing, a point count is odd, or one class group mixes
            ranges or point counts.
    """
    missing = [c for c in GRID_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"scenario grid input lacks columns: {', '.join(missing)}")
    n_points = frame["n_points"].to_numpy(np.int64)
    if len(frame) and ((n_points < 2).any() or (n_points % 2).any()):
        raise ValueError("n_points must be an even number >= 2 on every row")
    index = group_by_set_and_label(frame["margin_set"].to_numpy(), frame["class_group"])
    size = index.size
    for col in ("range_up", "range_down", "n_points"):
        mixed = ~uniform_within_groups(index.codes, frame[col].to_numpy(), size)
        if mixed.any():
            bad = index.label[np.flatnonzero(mixed)[0]]
            raise ValueError(f"class group {bad!r} mixes {col} values; one range per class group")
    pnl = _position_pnl(frame, n_points, params.rate) if len(frame) else np.zeros((2, 0))
    group_pnl = sum_by_group(index.codes, pnl, size)
    groups = _class_group_figures(frame, index.codes, size, group_pnl, params)
    groups.insert(0, "class_group", pd.Series(index.label))
    groups.insert(0, "margin_set", index.margin_set)
    worst = groups["worst_point"].to_numpy(np.int64)
    positions = pd.DataFrame(
        {
            "group": index.codes,
            "pnl_at_worst": pnl[worst[index.codes], np.arange(len(frame))] if len(frame) else [],
            "minimum": _position_minimum(frame, params),
        },
        index=frame.index,
    )
    moves = _moves_at(frame, n_points, worst[index.codes])
    options = option_values_at(frame, moves, np.zeros(len(frame)), params.rate)
    return GridResult(groups=groups, group_pnl=group_pnl, positions=positions.join(options))


def _moves_at(frame: pd.DataFrame, n_points: IntArray, points: IntArray) -> FloatArray:
    """Each row's relative price move at one point of its grid (as :func:`_moves` lays
    them out: the first half scale ``range_down``, the second ``range_up``)."""
    half = np.maximum(n_points // 2, 1)
    down = points < half
    fraction = np.where(down, -(half - points), points - half + 1) / half
    ranges = np.where(
        down, frame["range_down"].to_numpy(np.float64), frame["range_up"].to_numpy(np.float64)
    )
    return np.asarray(fraction * ranges, dtype=np.float64)


def _position_minimum(frame: pd.DataFrame, params: GridParams) -> FloatArray:
    contracts = np.abs(frame["quantity"].to_numpy(np.float64)) * frame["is_contract"].to_numpy(
        dtype=bool
    )
    multiplier = frame["multiplier"].to_numpy(np.float64)
    minimum = params.minimum_per_contract * multiplier * contracts
    # FINRA 4210(g)(2)(F): for a long listed option or unlisted derivative (a security-based
    # swap) the minimum need not exceed its market value.
    quantity = frame["quantity"].to_numpy(np.float64)
    unlisted = (as_text(frame["product"]) == Product.SBS.value).to_numpy(dtype=bool)
    capped = (quantity > 0) & (frame["is_option"].to_numpy(dtype=bool) | unlisted)
    value = quantity * multiplier * frame["price"].to_numpy(np.float64)
    return np.asarray(np.where(capped, np.minimum(minimum, value), minimum))


def _class_group_figures(
    frame: pd.DataFrame, codes: IntArray, size: int, group_pnl: FloatArray, params: GridParams
) -> pd.DataFrame:
    n_points = first_by_group(codes, frame["n_points"].to_numpy(np.int64), size).astype(np.int64)
    up = first_by_group(codes, frame["range_up"].to_numpy(np.float64), size).astype(np.float64)
    down = first_by_group(codes, frame["range_down"].to_numpy(np.float64), size).astype(np.float64)
    width = group_pnl.shape[1]
    valid = np.arange(width)[None, :] < n_points[:, None]
    worst = np.argmin(np.where(valid, group_pnl, np.inf), axis=1) if size else np.zeros(0, np.int64)
    worst_pnl = group_pnl[np.arange(size), worst]
    half = n_points // 2
    is_down = worst < half
    fraction = np.where(
        is_down, -(half - worst) / np.maximum(half, 1), (worst - half + 1) / np.maximum(half, 1)
    )
    loss = np.maximum(-worst_pnl, 0.0)
    is_contract = frame["is_contract"].to_numpy(dtype=bool)
    contracts = sum_by_group(
        codes, np.abs(frame["quantity"].to_numpy(np.float64)) * is_contract, size
    )
    minimum = sum_by_group(codes, _position_minimum(frame, params), size)
    return pd.DataFrame(
        {
            "n_positions": np.bincount(codes, minlength=size).astype(np.int64),
            "range_up": up,
            "range_down": down,
            "n_points": n_points,
            "worst_point": worst.astype(np.int64),
            "worst_shock": np.where(is_down, fraction * down, fraction * up),
            "worst_pnl": worst_pnl,
            "loss": loss,
            "contracts": contracts,
            "minimum": minimum,
            "requirement": np.maximum(loss, minimum),
            "minimum_binds": minimum > loss,
        }
    )
