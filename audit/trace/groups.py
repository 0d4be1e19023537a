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

from marginlex.audit.trace import fragments as j
from marginlex.audit.trace import layout as tl
from marginlex.audit.trace.outputs import evidence_letters
from marginlex.dsl.model import rulebook as m
from marginlex.engine.kernels.scenarios import point_fractions
from marginlex.engine.kernels.span import SpanParams, scenarios
from marginlex.engine.plan.steps import Plan

MAX_POINTS = 16
_METHOD = {
    "ScenarioGrid": "scenario_grid",
    "SpanScan": "span_scan",
    "StrategyBased": "strategy_based",
    # A rates method prices each position on its own, as a strategy table does.
    "Rates": "strategy_based",
}
_PER_POSITION = ("StrategyBased", "Rates")
LEG_COLUMNS = ("matched_risk", "credit", "paired_credit", "after_credits")
"""A SPAN leg's own part of per-leg credits (``class_groups`` frame, trace schema 1.5)."""

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
        vol_relative=method.vol_floor is not None,
        vol_floor=plan.value(method.vol_floor) if method.vol_floor is not None else 0.0,
        extreme_multiple=plan.value(method.extreme_multiple),
        extreme_fraction=plan.value(method.extreme_cover),
        short_option_minimum=0.0,
    )


@dataclass
class Groups:
    """Every class group of an evaluation, in trace order, with its points."""

    frame: pd.DataFrame  # set, class_group, method, loss, minimum, requirement, ranges
    # Groups of one shape (rule, method, point count, ranges) have the same points: they
    # are worked out once per shape, not per group.
    shape: IntArray  # (groups,) each group's shape
    labels: npt.NDArray[np.object_]  # (shapes, 16) point labels, "" past the last point
    shock: FloatArray  # (shapes, 16)
    vol_shift: FloatArray  # (shapes, 16), NaN: no volatility move
    weight: FloatArray  # (shapes, 16)
    pnl: FloatArray  # the P&L at every point of every group, group after group

    def label_at(self, rows: IntArray, points: IntArray) -> npt.NDArray[np.object_]:
        """The label of each point (0..15) of each group ("" past the group's last point)."""
        labels: npt.NDArray[np.object_] = self.labels[self.shape[rows], points]
        return labels


def _strategy_groups(positions: pd.DataFrame, codes: IntArray) -> pd.DataFrame:
    columns = ["class_group", "method", "requirement", "rule_id"]
    per = positions[columns].assign(set=codes)[positions["method"].isin(_PER_POSITION).to_numpy()]
    grouped = per.groupby(["set", "class_group"], sort=True, observed=True)
    out = grouped.agg(
        method=("method", "first"),
        requirement=("requirement", "sum"),
        rule_id=("rule_id", "first"),
    ).reset_index()
    return out.assign(
        loss=0.0,
        charges=np.nan,
        **{c: np.nan for c in LEG_COLUMNS},
        minimum=0.0,
        n_points=0,
        worst_point=-1,
        range_up=np.nan,
        range_down=np.nan,
    )


def build_groups(
    plan: Plan, cg: pd.DataFrame, cg_codes: IntArray, positions: pd.DataFrame, pos_codes: IntArray
) -> Groups:
    """Class groups of the scenario methods, then those of the per-position methods."""
    scan = (cg["method"] == "SpanScan").to_numpy(dtype=bool)
    scan_range = _scan_range_per_group(cg, cg_codes, positions, pos_codes)
    ranges_up = np.where(scan, scan_range, cg["range_up"].to_numpy(np.float64))
    ranges_down = np.where(scan, scan_range, cg["range_down"].to_numpy(np.float64))
    scenario = pd.DataFrame(
        {
            "set": cg_codes,
            "class_group": cg["class_group"].astype("str").array,
            "method": cg["method"].astype("str").array,
            "rule_id": cg["rule_id"].astype("str").array,
            "loss": cg["loss"].to_numpy(np.float64),
            "charges": np.where(scan, cg["charges"].to_numpy(np.float64), np.nan),
            **{c: cg[c].to_numpy(np.float64) for c in LEG_COLUMNS},
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
    # The shape is set by the method's rule, the point count and the ranges scanned.
    keys = [frame[c] for c in ("n_points", "rule_id", "method", "range_up", "range_down")]
    shape = _combined_codes([pd.factorize(k)[0] for k in keys])
    first = np.unique(shape, return_index=True)[1]
    scenario_row = first < len(cg)
    scanned = scenario_row & scan[np.clip(first, 0, len(cg) - 1)] if len(cg) else scenario_row
    shock, vol, weight, labels = _points(plan, frame.iloc[first], scanned, scenario_row)
    cols = [c for c in cg.columns if c.startswith("pnl_")]
    pnl = np.full((len(cg), MAX_POINTS), np.nan)
    if cols:
        pnl[:, : len(cols)] = cg[cols].to_numpy(np.float64)
    # Per-position methods have no points: the scenario groups' points are all of them.
    valid = np.arange(MAX_POINTS)[None, :] < cg["n_points"].to_numpy(np.int64)[:, None]
    return Groups(frame, shape, labels, shock, vol, weight, pnl[valid])


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
    plan: Plan, frame: pd.DataFrame, scan: npt.NDArray[np.bool_], scenario: npt.NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.object_]]:
    """The points of some class groups (one per shape): of a grid, or of a SPAN scan."""
    n = len(frame)
    shock = np.full((n, MAX_POINTS), np.nan)
    vol = np.full((n, MAX_POINTS), np.nan)
    weight = np.ones((n, MAX_POINTS))
    labels = np.full((n, MAX_POINTS), "", dtype=object)
    grid = scenario & ~scan
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
    for rule in np.unique(rules[scan]) if scan.any() else []:  # a few rules
        params = span_params(plan, str(rule))
        if params is None:
            continue
        s = scenarios(params)
        rows = np.flatnonzero(scan & (rules == rule))
        shock[rows] = s.price_move[None, :] * up[rows, None]
        vol[rows] = np.where(s.vol_sign == 0.0, np.nan, s.vol_sign * params.vol_shift)[None, :]
        weight[rows] = s.weight[None, :]
        labels[rows] = np.asarray(span_labels(params), dtype=object)[None, :]
    valid = np.arange(MAX_POINTS)[None, :] < points[:, None]
    return shock, vol, weight, np.where(valid, labels, "")


def worst_labels(groups: Groups) -> npt.NDArray[np.object_]:
    """The label of each class group's worst point ("" for a per-position method)."""
    worst = groups.frame["worst_point"].to_numpy(np.int64)
    picked = groups.label_at(np.arange(len(worst)), np.clip(worst, 0, MAX_POINTS - 1))
    return np.where(worst >= 0, picked, "")


def _template(groups: Groups, shape: int, count: int) -> str:
    """The points of a shape of class group with only the P&L left open (``%s``)."""
    points = []
    for k in range(count):  # sixteen points at most
        label = j.text(str(groups.labels[shape, k])).replace("%", "%%")
        points.append(
            f'{{"label":{label},"pnl":%s,"shock":{j.float_text(float(groups.shock[shape, k]))},'
            f'"vol_shift":{j.float_text(float(groups.vol_shift[shape, k]))},'
            f'"weight":{j.float_text(float(groups.weight[shape, k]))}}}'
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
    per_shape = np.zeros(len(groups.labels), dtype=np.int64)
    per_shape[groups.shape] = count
    templates = [_template(groups, s, c) for s, c in enumerate(per_shape.tolist())]
    pnl = tuple(j.money(groups.pnl).col())  # sliced per group, straight into the template
    bounds = np.concatenate([[0], np.cumsum(count)]).tolist()
    # Groups of a per-position method have no points (most groups of a strategy book).
    return [
        templates[s] % pnl[a:b] if b > a else ""
        for s, a, b in zip(groups.shape.tolist(), bounds[:-1], bounds[1:], strict=True)
    ]


def positions_json(positions: pd.DataFrame, instruments: pd.DataFrame) -> j.Col:
    """Each position valued at its class group's worst point (``instruments`` indexed by
    instrument id: the price, and an option's expiry and type)."""
    instrument = positions["instrument_id"]
    # Priced per distinct instrument, not per row.
    codes, uniques = pd.factorize(instrument)
    price = np.append(instruments["price"].reindex(uniques).to_numpy(np.float64), np.nan)[codes]
    return j.concat(
        '{"account_id":',
        j.strings(positions["account_id"]),
        ',"citation":',
        j.strings(positions["citation"]),
        ',"evidence":',
        evidence_letters(positions["evidence"]),
        ',"instrument_id":',
        j.strings(instrument),
        ',"market_value":',
        j.money(positions["market_value"].to_numpy(np.float64), null_for_nan=True),
        ',"option":',
        _options_json(positions, instruments.reindex(uniques).iloc[codes]),
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


def _options_json(positions: pd.DataFrame, instruments: pd.DataFrame) -> j.Col:
    """Each option position's inputs and model values at its worst point (trace schema
    1.2); ``null`` for every other position, and for an option a per-position method priced."""
    valued = positions["value_now"].notna().to_numpy()
    number = {c: j.floats(positions[c].to_numpy(np.float64)) for c in _OPTION_NUMBERS}
    body = j.concat(
        '{"expiry":',
        j.dates(instruments["maturity"].reset_index(drop=True)),
        ',"implied_vol":',
        number["implied_vol"],
        ',"option_type":',
        j.strings(instruments["option_type"].astype("str").reset_index(drop=True)),
        ',"strike":',
        number["strike"],
        ',"underlying_at_worst":',
        number["underlying_at_worst"],
        ',"underlying_price":',
        number["underlying_price"],
        ',"value_at_worst":',
        number["value_at_worst"],
        ',"value_now":',
        number["value_now"],
        ',"vol_at_worst":',
        number["vol_at_worst"],
        "}",
    )
    return j.where(valued, body, "null")


_OPTION_NUMBERS = (
    "implied_vol",
    "strike",
    "underlying_at_worst",
    "underlying_price",
    "value_at_worst",
    "value_now",
    "vol_at_worst",
)


def groups_json(
    groups: Groups,
    positions: j.Col,
    pos_group: IntArray,
    n_sets: int,
    *,
    add_on: tuple[FloatArray, j.Part],
    charges: j.Part,
) -> tl.Pieces:
    """Each margin set's class groups as the body of a JSON list, laid out, not joined.

    The points and positions (the bulk of a trace) are copied once, into the trace: each
    group is its head, its points, its positions and its tail, placed in set order.
    ``add_on``: each group's concentration add-on (NaN: none) and what it was charged from
    (its ``concentration`` JSON, ``null``: none); ``charges``: each group's ``span_charges``
    JSON (``null``: not a SPAN scan).
    """
    f = groups.frame
    sets = f["set"].to_numpy(np.int64)
    kept = np.flatnonzero(sets >= 0)
    order = kept[np.argsort(sets[kept], kind="stable")]
    rank = np.full(len(f) + 1, -1, dtype=np.int64)  # a group's place in set order; [-1]: none
    rank[order] = np.arange(len(order))
    method: j.Col = f["method"].map(_METHOD).astype(object).tolist()
    leg = {c: j.money(f[c].to_numpy(np.float64), null_for_nan=True) for c in LEG_COLUMNS}
    head = j.concat(
        '{"add_on":',
        j.money(add_on[0], null_for_nan=True),
        ',"after_credits":',
        leg["after_credits"],
        ',"charges":',
        j.money(f["charges"].to_numpy(), null_for_nan=True),
        ',"class_group":',
        j.strings(f["class_group"]),
        ',"concentration":',
        add_on[1],
        ',"credit":',
        leg["credit"],
        ',"loss":',
        j.money(f["loss"].to_numpy()),
        ',"matched_risk":',
        leg["matched_risk"],
        ',"method":"',
        method,
        '","minimum":',
        j.money(f["minimum"].to_numpy()),
        ',"paired_credit":',
        leg["paired_credit"],
        ',"points":[',
    )
    tail = j.concat(
        '],"range_down":',
        j.floats(f["range_down"].to_numpy()),
        ',"range_up":',
        j.floats(f["range_up"].to_numpy()),
        ',"requirement":',
        j.money(f["requirement"].to_numpy()),
        ',"span_charges":',
        charges,
        ',"worst_point":',
        j.strings(worst_labels(groups)),
        "}",
    )
    ordered = sets[order]
    # After each group, a comma if the next group is of the same set.
    seps = np.where(np.append(ordered[1:] == ordered[:-1], False), ",", "").astype(object)
    runs = tl.layout(
        [
            np.asarray(head, dtype=object)[order],
            np.asarray(points_json(groups), dtype=object)[order],
            '],"positions":[',
            tl.grouped(positions, rank[pos_group], len(order)),
            np.asarray(tail, dtype=object)[order],
            seps,
        ],
        len(order),
    )
    per_set = np.bincount(ordered, weights=runs.counts, minlength=n_sets).astype(np.int64)
    return tl.Pieces(runs.flat, per_set)


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
    hash lookup on integers rather than on tuples of strings; each side's names are
    factorized on their own (no string per row is made).
    """
    left, left_names = pd.factorize(class_groups)
    right, right_names = pd.factorize(pos_class_groups)
    # Each right name's code on the left; a missing name (code -1) matches a missing name.
    known = pd.Index(np.asarray(left_names, dtype=object))
    on_left = known.get_indexer(pd.Index(np.asarray(right_names, dtype=object)))
    # Codes from 1; 0 is a missing name, len + 1 a name only the right side has.
    width = len(left_names) + 2
    as_left = np.where(on_left >= 0, on_left + 1, width - 1)
    right_code = np.where(right >= 0, np.append(as_left, 0)[right], 0)
    keys = pd.Index(sets * width + (left + 1))
    found = keys.get_indexer(pos_sets * width + right_code)
    return np.asarray(np.where(pos_sets >= 0, found, -1), dtype=np.int64)


def span_charges_json(
    groups: Groups, frame: pd.DataFrame | None, codes: IntArray, rates: dict[str, str]
) -> j.Col:
    """Each class group's ``span_charges`` JSON: a list of its charge rows (the
    ``span_charges`` frame, ``codes`` their sets) for a SPAN scan's group, ``null`` for other
    methods. ``rates``: each rate id's ``rate`` JSON (its InputValue)."""
    f = groups.frame
    scan = (f["method"] == "SpanScan").to_numpy(dtype=bool)
    n = len(f)
    if frame is None or frame.empty:
        return np.where(scan, "[]", "null").astype(object).tolist()  # type: ignore[no-any-return]
    row = match_groups(f["set"].to_numpy(np.int64), f["class_group"], codes, frame["class_group"])
    rate_id = frame["rate_id"].astype("str")
    rate_codes, rate_names = pd.factorize(rate_id)
    number = {c: j.floats(frame[c].to_numpy(np.float64)) for c in _CHARGE_NUMBERS}
    items = j.concat(
        '{"amount":',
        j.money(frame["amount"].to_numpy(np.float64)),
        ',"charge":',
        j.strings(frame["charge"]),
        ',"citation":',
        j.strings(frame["citation"]),
        ',"count":',
        number["count"],
        ',"evidence":',
        evidence_letters(frame["evidence"]),
        ',"long_contracts":',
        number["long_contracts"],
        ',"option_contracts":',
        number["option_contracts"],
        ',"rate":',
        j.Coded(rate_codes, [rates[str(r)] for r in rate_names]),
        ',"short_contracts":',
        number["short_contracts"],
        ',"tier":',
        j.strings(frame["tier"]),
        "}",
    )
    joined = j.group_join(items, row, n)
    return [f"[{body}]" if s else "null" for body, s in zip(joined, scan.tolist(), strict=True)]


_CHARGE_NUMBERS = ("count", "long_contracts", "short_contracts", "option_contracts")
