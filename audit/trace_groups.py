"""The margin step of each trace, column-wise: class groups, their points and positions.

A class group of a scenario grid or SPAN scan comes from the ``class_groups`` frame (with
its P&L at every point, ``pnl_0`` ..); positions priced by a strategy-based or rates method
have no scenarios, so their class groups are summed here from the ``positions`` frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import pandas as pd

from marginlex.audit import trace_json as j
from marginlex.dsl import model as m
from marginlex.engine.plan import Plan
from marginlex.engine.scenarios import point_fractions
from marginlex.engine.span import SpanParams, scenarios

MAX_POINTS = 16
_METHOD = {
    "ScenarioGrid": "scenario_grid",
    "SpanScan": "span_scan",
    "StrategyBased": "strategy_based",
    # A rates method prices each position on its own, as a strategy table does.
    "Rates": "strategy_based",
}
_PER_POSITION = ("StrategyBased", "Rates")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def pct_label(shock: float) -> str:
    """A price move as the grid labels it: ``-15%``, ``+3%``, ``-6.4%``.

    >>> pct_label(-0.15), pct_label(0.024), pct_label(0.0)
    ('-15%', '+2.4%', '0%')
    """
    text = f"{shock * 100:.3f}".rstrip("0").rstrip(".")
    text = "0" if text == "-0" else text
    return f"+{text}%" if shock > 0 else f"{text}%"


def span_labels(params: SpanParams) -> list[str]:
    """The 16 SPAN scenario labels: ``3: price +1/3 range, vol up`` ...

    >>> span_labels(SpanParams(scan_ranges={}, vol_shift=0.04, extreme_fraction=0.33,
    ...                        short_option_minimum=0))[14]
    '15: price +3 ranges, vol unchanged, 33% counts'
    """
    s = scenarios(params)
    labels = []
    for k in range(len(s.price_move)):
        move = Fraction(float(s.price_move[k])).limit_denominator(3)
        size = "unchanged" if move == 0 else f"{'+' if move > 0 else '-'}{abs(move)} range"
        size += "s" if abs(move) > 1 else ""
        vol = {1.0: "up", -1.0: "down"}.get(float(s.vol_sign[k]), "unchanged")
        weight = "" if s.weight[k] == 1.0 else f", {pct_label(float(s.weight[k]))[1:]} counts"
        labels.append(f"{k + 1}: price {size}, vol {vol}{weight}")
    return labels


def span_params(plan: Plan, rule_id: str) -> SpanParams | None:
    """The SPAN parameters of a margin rule, as the evaluator used them (None: not a scan)."""
    step = next((s for s in plan.steps if s.rule_id == rule_id and s.in_force), None)
    method = getattr(step.statement, "method", None) if step else None
    if not isinstance(method, m.SpanScan):
        return None
    return SpanParams(
        scan_ranges={},
        vol_shift=plan.value(method.vol_shift),
        extreme_multiple=plan.value(method.extreme_multiple),
        extreme_fraction=plan.value(method.extreme_cover),
        short_option_minimum=0.0,
    )


@dataclass
class Groups:
    """Every class group of an evaluation, in trace order, with its points."""

    frame: pd.DataFrame  # set, class_group, method, loss, minimum, requirement, ranges
    labels: npt.NDArray[np.object_]  # (groups, 16) point labels, "" past the last point
    shock: FloatArray  # (groups, 16)
    vol_shift: FloatArray  # (groups, 16), NaN: no volatility move
    weight: FloatArray  # (groups, 16)
    pnl: FloatArray  # (groups, 16), NaN past the last point


def _strategy_groups(positions: pd.DataFrame, codes: IntArray) -> pd.DataFrame:
    per = positions.assign(set=codes)[positions["method"].astype("str").isin(_PER_POSITION)]
    grouped = per.groupby(["set", "class_group"], sort=True, observed=True)
    out = grouped.agg(
        method=("method", "first"),
        requirement=("requirement", "sum"),
        rule_id=("rule_id", "first"),
    ).reset_index()
    return out.assign(
        loss=0.0, minimum=0.0, n_points=0, worst_point=-1, range_up=np.nan, range_down=np.nan
    )


def build_groups(
    plan: Plan, cg: pd.DataFrame, cg_codes: IntArray, positions: pd.DataFrame, pos_codes: IntArray
) -> Groups:
    """Class groups of the scenario methods, then those of the per-position methods."""
    scan = cg["method"].astype("str").to_numpy() == "SpanScan"
    scan_range = _scan_range_per_group(cg, cg_codes, positions, pos_codes)
    ranges_up = np.where(scan, scan_range, cg["range_up"].to_numpy(np.float64))
    ranges_down = np.where(scan, scan_range, cg["range_down"].to_numpy(np.float64))
    scenario = pd.DataFrame(
        {
            "set": cg_codes,
            "class_group": cg["class_group"].astype("str").to_numpy(),
            "method": cg["method"].astype("str").to_numpy(),
            "rule_id": cg["rule_id"].astype("str").to_numpy(),
            "loss": cg["loss"].to_numpy(np.float64),
            "minimum": cg["minimum"].to_numpy(np.float64),
            "requirement": cg["requirement"].to_numpy(np.float64),
            "n_points": cg["n_points"].to_numpy(np.int64),
            "worst_point": cg["worst_point"].to_numpy(np.int64),
            "range_up": ranges_up,
            "range_down": ranges_down,
        }
    )
    strategy = _strategy_groups(positions, pos_codes)
    frame = pd.concat([scenario, strategy[list(scenario.columns)]], ignore_index=True)
    frame["method"] = frame["method"].astype("str")
    n = len(frame)
    pnl = np.full((n, MAX_POINTS), np.nan)
    cols = [c for c in cg.columns if c.startswith("pnl_")]
    if cols:
        pnl[: len(cg), : len(cols)] = cg[cols].to_numpy(np.float64)
    shock, vol, weight, labels = _points(plan, frame, scan, len(cg))
    valid = np.arange(MAX_POINTS)[None, :] < frame["n_points"].to_numpy()[:, None]
    pnl = np.where(valid, pnl, np.nan)
    labels = np.where(valid, labels, "")
    return Groups(frame, labels, shock, vol, weight, pnl)


def _scan_range_per_group(
    cg: pd.DataFrame, cg_codes: IntArray, positions: pd.DataFrame, pos_codes: IntArray
) -> FloatArray:
    """A scanned class group's scan range: the widest of its positions'."""
    where = match_groups(cg_codes, cg["class_group"], pos_codes, positions["class_group"])
    widest = np.full(len(cg), np.nan)
    ok = (where >= 0) & ~np.isnan(positions["range_up"].to_numpy(np.float64))
    if ok.any():
        np.fmax.at(widest, where[ok], positions["range_up"].to_numpy(np.float64)[ok])
    return widest


def _points(
    plan: Plan, frame: pd.DataFrame, scan: npt.NDArray[np.bool_], n_scenario: int
) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.object_]]:
    n = len(frame)
    shock = np.full((n, MAX_POINTS), np.nan)
    vol = np.full((n, MAX_POINTS), np.nan)
    weight = np.ones((n, MAX_POINTS))
    labels = np.full((n, MAX_POINTS), "", dtype=object)
    grid = np.zeros(n, dtype=bool)
    grid[:n_scenario] = ~scan
    points = frame["n_points"].to_numpy()
    up, down = frame["range_up"].to_numpy(), frame["range_down"].to_numpy()
    for k in np.unique(points[grid]):  # a few grid sizes
        rows = np.flatnonzero(grid & (points == k))
        frac = point_fractions(int(k))
        moved = np.where(frac < 0, frac[None, :] * down[rows, None], frac[None, :] * up[rows, None])
        shock[rows, : int(k)] = moved
        text = {v: pct_label(v) for v in np.unique(moved).tolist()}
        labels[rows, : int(k)] = np.vectorize(text.__getitem__, otypes=[object])(moved)
    rules = frame["rule_id"].to_numpy()
    for rule in np.unique(rules[:n_scenario][scan]) if scan.any() else []:  # a few rules
        params = span_params(plan, str(rule))
        if params is None:
            continue
        s = scenarios(params)
        rows = np.flatnonzero(np.r_[scan, np.zeros(n - n_scenario, bool)] & (rules == rule))
        shock[rows] = s.price_move[None, :] * up[rows, None]
        vol[rows] = np.where(s.vol_sign == 0.0, np.nan, s.vol_sign * params.vol_shift)[None, :]
        weight[rows] = s.weight[None, :]
        labels[rows] = np.asarray(span_labels(params), dtype=object)[None, :]
    return shock, vol, weight, labels


def worst_labels(groups: Groups) -> npt.NDArray[np.object_]:
    """The label of each class group's worst point ("" for a per-position method)."""
    worst = groups.frame["worst_point"].to_numpy()
    picked = groups.labels[np.arange(len(worst)), np.clip(worst, 0, MAX_POINTS - 1)]
    return np.where(worst >= 0, picked, "")


def _template(groups: Groups, row: int) -> str:
    """The points of a class group with only the P&L left open (``%s``)."""
    points = []
    for k in range(int(groups.frame["n_points"].to_numpy()[row])):  # sixteen points at most
        label = j.text(str(groups.labels[row, k])).replace("%", "%%")
        points.append(
            f'{{"label":{label},"pnl":%s,"shock":{j.float_text(float(groups.shock[row, k]))},'
            f'"vol_shift":{j.float_text(float(groups.vol_shift[row, k]))},'
            f'"weight":{j.float_text(float(groups.weight[row, k]))}}}'
        )
    return ",".join(points)


def _combined_codes(codes: list[npt.NDArray[np.intp]]) -> npt.NDArray[np.intp]:
    """One code per distinct combination of several factorized keys, in first-seen order.

    (A MultiIndex of the keys builds a tuple per row; mixing the integer codes does not.)
    """
    combined = np.zeros(len(codes[0]), dtype=np.int64)
    for c in codes:  # a handful of keys
        combined = combined * (int(c.max(initial=0)) + 2) + (c.astype(np.int64) + 1)
    shape, _ = pd.factorize(combined)
    return shape


def points_json(groups: Groups) -> list[str]:
    """Each class group's points as a JSON list body, in grid (or SPAN) order.

    Groups of one shape (point count, moves, labels, weights) share a template; only the
    P&L differs from group to group, so it is the only value formatted per point.
    """
    count = groups.frame["n_points"].to_numpy(np.int64)
    valid = np.arange(MAX_POINTS)[None, :] < count[:, None]
    # The shape is set by the method's rule, the point count and the ranges scanned.
    f = groups.frame
    keys = [f[c] for c in ("rule_id", "method", "range_up", "range_down")]
    shape = _combined_codes([pd.factorize(count)[0], *(pd.factorize(k)[0] for k in keys)])
    first = np.unique(shape, return_index=True)[1]
    templates = [_template(groups, int(row)) for row in first]
    pnl = j.money(groups.pnl[valid])
    bounds = np.concatenate([[0], np.cumsum(count)]).tolist()
    return [
        templates[s] % tuple(pnl[a:b])
        for s, a, b in zip(shape.tolist(), bounds[:-1], bounds[1:], strict=True)
    ]


def positions_json(positions: pd.DataFrame, prices: pd.Series) -> j.Col:
    """Each position valued at its class group's worst point."""
    instrument = positions["instrument_id"].astype("str")
    price = instrument.map(prices).to_numpy(np.float64)
    return j.concat(
        '{"account_id":',
        j.strings(positions["account_id"]),
        ',"instrument_id":',
        j.strings(instrument),
        ',"market_value":',
        j.money(positions["market_value"].to_numpy(np.float64), null_for_nan=True),
        ',"pnl":',
        j.money(positions["pnl_at_worst"].to_numpy(np.float64)),
        ',"price":',
        j.floats(price),
        ',"quantity":',
        j.floats(positions["quantity"].to_numpy(np.float64)),
        ',"requirement":',
        j.money(positions["requirement"].to_numpy(np.float64), null_for_nan=True),
        ',"shocked_price":null,"strategy_row":',
        j.nullable_strings(positions["strategy_row"]),
        "}",
    )


def groups_json(groups: Groups, positions: j.Col, pos_group: IntArray) -> j.Col:
    """Each class group as JSON, its positions joined in."""
    f = groups.frame
    joined = j.group_join(positions, pos_group, len(f))
    method: j.Col = f["method"].map(_METHOD).astype(object).tolist()
    return j.concat(
        '{"class_group":',
        j.strings(f["class_group"]),
        ',"loss":',
        j.money(f["loss"].to_numpy()),
        ',"method":"',
        method,
        '","minimum":',
        j.money(f["minimum"].to_numpy()),
        ',"points":[',
        points_json(groups),
        '],"positions":[',
        joined,
        '],"range_down":',
        j.floats(f["range_down"].to_numpy()),
        ',"range_up":',
        j.floats(f["range_up"].to_numpy()),
        ',"requirement":',
        j.money(f["requirement"].to_numpy()),
        ',"worst_point":',
        j.strings(worst_labels(groups)),
        "}",
    )


def position_groups(groups: Groups, positions: pd.DataFrame, pos_codes: IntArray) -> IntArray:
    """The class group (row of ``groups.frame``) of each position (-1: none)."""
    f = groups.frame
    sets = f["set"].to_numpy(np.int64)
    return match_groups(sets, f["class_group"], pos_codes, positions["class_group"])


def match_groups(
    sets: IntArray, class_groups: pd.Series, pos_sets: IntArray, pos_class_groups: pd.Series
) -> IntArray:
    """For each (set, class group) on the right, its row on the left (-1: none).

    Both sides are turned into one integer key (set x class-group code), so the match is a
    hash lookup on integers rather than on tuples of strings.
    """
    names = np.concatenate(
        [
            class_groups.astype("str").to_numpy(dtype=object),
            pos_class_groups.astype("str").to_numpy(dtype=object),
        ]
    )
    codes, uniques = pd.factorize(names)
    width = max(len(uniques), 1) + 1
    left = sets * width + codes[: len(sets)]
    right = pos_sets * width + codes[len(sets) :]
    found = pd.Index(left).get_indexer(right)
    return np.asarray(np.where(pos_sets >= 0, found, -1), dtype=np.int64)
