"""Offset steps: credits between class groups, and the class-group / position trace frames.

Netting within a class group is what the grid and scan kernels do (100%; other rates are
refused at compile time). ``credit between class groups by FIELD`` nets class groups of
one margin set whose FIELD value (e.g. ``index_class``) has a row in the table, point by
point at that row's rate (:func:`marginlex.engine.kernels.offsets.product_group_offsets`); class
groups without a row stand alone. ``credit each leg between class groups by FIELD`` is for
SPAN scans: each leg of a hedge is credited the rate times the scanning risk it matches
(:func:`marginlex.engine.kernels.offsets.leg_credits`). A SPAN scan takes the first per-leg
rule in force, or else the first point-by-point one; every other method the first
point-by-point rule (:func:`marginlex.engine.phases.margin.credit_rule_of`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.expressions import Subject
from marginlex.engine.evaluation import FRAME_COLUMNS, PAIRING_OFFSET_COLUMNS
from marginlex.engine.kernels.offsets import (
    OffsetParams,
    OffsetRate,
    OffsetResult,
    leg_credits,
    product_group_offsets,
)
from marginlex.engine.kernels.pricing import OPTION_AT_WORST
from marginlex.engine.kernels.span_spreads import SpreadLegs, SpreadRow, priority_spreads
from marginlex.engine.kernels.strategy import StrategyRow
from marginlex.engine.kernels.text import as_text
from marginlex.engine.phases.margin import MethodResult, credit_rule_of
from marginlex.engine.phases.pairing import (
    NOT_PAIRED,
    PairingCredits,
    clearing_split,
    pairing_credits,
    pairing_rows,
    pairing_rule_of,
)
from marginlex.engine.phases.span_charges import leg_window, leg_windows
from marginlex.engine.phases.state import (
    FloatArray,
    IntArray,
    RunState,
    constant,
    empty_frame,
    labels,
)
from marginlex.engine.plan.citations import CITATION, EVIDENCE
from marginlex.engine.plan.steps import Step, StepKind


def _netting_rule(state: RunState) -> str:
    for step in state.plan.active(StepKind.OFFSET):
        if isinstance(step.statement.rule, m.Netting):  # type: ignore[union-attr]
            return step.rule_id
    return ""


def run_offsets(state: RunState, results: list[MethodResult]) -> FloatArray:
    """Apply class-group credits; return the maintenance requirement per set code."""
    total = np.zeros(state.n_sets)
    offset_frames: list[pd.DataFrame] = []
    splits: list[pd.DataFrame] = []
    for result in results:
        span = isinstance(result.step.statement.method, m.SpanScan)  # type: ignore[union-attr]
        credit = credit_rule_of(state.plan, span=span)
        pairing = pairing_rule_of(state.plan) if result.pairing is not None else None
        if result.groups is None or (credit is None and pairing is None) or not len(result.groups):
            total += result.set_requirement
            continue
        out, found = _credits(state, result, credit, pairing)
        _leg_columns(result.groups, out)
        pg = out.product_groups
        total += np.bincount(
            pg["margin_set"].to_numpy(np.int64),
            weights=pg["requirement"].to_numpy(np.float64),
            minlength=state.n_sets,
        )
        grouped = pg[~pg["standalone"].to_numpy(dtype=bool)]
        if credit is not None:
            offset_frames.append(
                grouped.assign(
                    margin_set_id=state.set_column(grouped["margin_set"].to_numpy(np.int64)),
                    minimum=grouped["minimum"],
                    **state.step_columns(credit, len(grouped)),
                )
            )
        if pairing is not None and found is not None:
            rows, split = _pairing_frames(state, result, pairing, out, found)
            offset_frames.append(rows)
            splits.append(split)
    columns = list(FRAME_COLUMNS["offsets"])
    kept = [_with_pairing_columns(f)[columns] for f in offset_frames if len(f)]
    state.frames["offsets"] = (
        pd.concat(kept, ignore_index=True) if kept else empty_frame(FRAME_COLUMNS["offsets"])
    )
    state.frames["pairing_split"] = (
        pd.concat(splits, ignore_index=True) if splits else pd.DataFrame()
    )
    _trace_frames(state, results)
    return total


def _with_pairing_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """An ``offsets`` frame with the columns only a DV01 pairing's rows fill (NaN here when
    it is another offset's)."""
    missing = [c for c in PAIRING_OFFSET_COLUMNS if c not in frame.columns]
    return frame.assign(**dict.fromkeys(missing, np.nan)) if missing else frame


def _leg_columns(groups: pd.DataFrame, out: OffsetResult) -> None:
    """Each class group's own part of per-leg credits, for the trace (since schema 1.5):
    the scanning risk it matched, the credit it was given, a DV01 pairing's credit, and
    its requirement after them all, ``max(loss - credit, minimum) - paired_credit``."""
    if out.class_group_credit is None or out.class_group_matched is None:
        return
    assert out.class_group_requirement is not None
    groups["matched_risk"] = out.class_group_matched
    groups["credit"] = out.class_group_credit
    paired = out.paired_credit
    groups["paired_credit"] = paired if paired is not None else np.zeros(len(groups))
    groups["after_credits"] = out.class_group_requirement


def _credits(
    state: RunState, result: MethodResult, credit: Step | None, pairing: Step | None
) -> tuple[OffsetResult, PairingCredits | None]:
    """One method's class-group credits: a DV01 pairing first (SPAN scans whose sets it
    split), then the credit rule (per leg, or point by point)."""
    groups, pnl = result.groups, result.pnl
    assert groups is not None and pnl is not None
    rule = credit.statement.rule if credit is not None else None  # type: ignore[union-attr]
    assert rule is None or isinstance(rule, m.ClassGroupCredit)
    params = OffsetParams(
        rates=tuple(
            OffsetRate(product_group=r.left.name, rate=state.plan.value(r.rate))
            for r in (rule.rows if rule is not None else ())
        )
    )
    key = pd.Series(groups["product_key"])
    found = None
    if pairing is not None and result.pairing is not None:
        risk = groups["loss"].to_numpy(np.float64) - groups["charges"].to_numpy(np.float64)
        sets = groups["margin_set"].to_numpy(np.int64)
        found = pairing_credits(state, pairing, risk, sets, result.pairing)
    if rule is None or rule.per_leg:  # SPAN scans only (credit_rule_of)
        spreads = _spreads(state, rule, result, found) if rule is not None else None
        pairs = (found.credit, found.matched) if found is not None else None
        return leg_credits(groups, key, params, spreads, pairs), found
    if found is not None and result.pairing is not None:  # paired groups: no netting
        side = result.pairing.side
        out = product_group_offsets(groups, pnl, key.where(side == NOT_PAIRED, ""), params)
        return _with_pairing(out, groups, side, found), found
    return product_group_offsets(groups, pnl, key, params), None


def _pairing_frames(
    state: RunState,
    result: MethodResult,
    pairing: Step,
    out: OffsetResult,
    found: PairingCredits,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The pairing's ``offsets`` rows and its per-set clearing-house split."""
    assert result.groups is not None and result.pairing is not None
    assert out.paired_credit is not None and out.class_group_requirement is not None
    sets = result.groups["margin_set"].to_numpy(np.int64)
    effect = np.bincount(sets, weights=out.paired_credit, minlength=state.n_sets).astype(float)
    raw = np.bincount(sets, weights=found.credit, minlength=state.n_sets).astype(float)
    rows = pairing_rows(state, pairing, found, effect, raw)
    split = clearing_split(
        state,
        pairing,
        sets,
        buckets=result.pairing,
        found=found,
        after=out.class_group_requirement,
    )
    return rows, split


def _with_pairing(
    out: OffsetResult, groups: pd.DataFrame, side: IntArray, found: PairingCredits
) -> OffsetResult:
    """Point-by-point credits with a DV01 pairing: each paired class group stands alone
    (its product-group row is its own) and takes its pairing credit,
    ``max(loss - credit, minimum)``."""
    loss = groups["loss"].to_numpy(np.float64)
    minimum = groups["minimum"].to_numpy(np.float64)
    assert out.class_group_requirement is not None  # product_group_offsets fills it
    before = out.class_group_requirement  # a paired group's is its own: it stands alone
    paired = side != NOT_PAIRED
    after = np.where(paired, np.maximum(loss - found.credit, minimum), before)
    effect = before - after
    codes = out.class_group_product_group
    pg = out.product_groups.copy()
    pair_credit = np.bincount(codes, weights=effect, minlength=len(pg)).astype(np.float64)
    pg["requirement"] = pg["requirement"].to_numpy(np.float64) - pair_credit
    pg["paired_credit"] = pair_credit
    return OffsetResult(
        product_groups=pg,
        class_group_product_group=codes,
        paired_credit=effect,
        class_group_requirement=after,
    )


def _spreads(
    state: RunState,
    rule: m.ClassGroupCredit,
    result: MethodResult,
    paired: PairingCredits | None = None,
) -> tuple[FloatArray, FloatArray] | None:
    """Credit and matched risk per class group of spreads between keys (``a with b``
    rows, formed in the table's order, its priority); None for a table of single keys.

    A leg is a key, or a key's tier of months (``SPX expiring within 3 months``): each class
    group gives one leg row per leg of its key, with the net delta of that tier (the whole
    class group's without a tier) at the class group's weighted price risk
    ``w = scanning risk / |net delta|``; the credits of its legs add up.
    """
    if not any(r.right for r in rule.rows):
        return None
    groups = result.groups
    assert groups is not None
    windows = leg_windows(rule, state.plan.through_contract_month)
    legs_of = [
        ((sym.name, leg_window(tier, state.plan.through_contract_month)), ratio)
        for r in rule.rows
        for sym, tier, ratio in (
            (r.left, r.left_tier, r.left_ratio),
            (r.right or r.left, r.right_tier, r.right_ratio),
        )
    ]
    leg_keys = list(dict.fromkeys(key for key, _ in legs_of))
    code = {key: i for i, key in enumerate(leg_keys)}
    product_key = as_text(groups["product_key"]).to_numpy()
    risk = groups["loss"].to_numpy(np.float64) - groups["charges"].to_numpy(np.float64)
    if paired is not None:  # a DV01 pairing matched this risk first
        risk = np.maximum(risk - paired.matched, 0.0)
    net = groups["net_delta"].to_numpy(np.float64)
    weight = np.divide(risk, np.abs(net), out=np.zeros(len(risk)), where=net != 0)
    index, key, delta = [], [], []
    for number, (name, window) in enumerate(leg_keys):  # the rulebook's legs
        (rows,) = np.nonzero(product_key == name)
        index.append(rows)
        key.append(np.full(len(rows), number, dtype=np.int64))
        if window is None:
            delta.append(net[rows])
        else:
            assert result.tier_deltas is not None
            delta.append(result.tier_deltas[rows, windows.index(window)])
    at = np.concatenate(index)
    legs = SpreadLegs(
        margin_set=groups["margin_set"].to_numpy(np.int64)[at],
        key=np.concatenate(key),
        delta=np.concatenate(delta),
        risk=weight[at] * np.abs(np.concatenate(delta)),
    )
    ratio = [1.0 if q is None else q.amount for _, q in legs_of]
    rows_of = [
        SpreadRow(
            a=code[legs_of[2 * i][0]],
            b=code[legs_of[2 * i + 1][0]],
            rate=state.plan.value(r.rate),
            ratio_a=ratio[2 * i],
            ratio_b=ratio[2 * i + 1],
        )
        for i, r in enumerate(rule.rows)
    ]
    out = priority_spreads(legs, rows_of, state.n_sets)
    size = len(groups)
    credit = np.bincount(at, weights=out.credit, minlength=size).astype(np.float64)
    matched = np.bincount(at, weights=out.delta_spread * weight[at], minlength=size)
    return credit, matched.astype(np.float64)


_POSITION_NUMBERS = (
    "quantity",
    "market_value",
    "range_up",
    "range_down",
    "pnl_at_worst",
    "minimum",
    "requirement",
    "strike",
    "implied_vol",
    "underlying_price",
    *OPTION_AT_WORST,
)


def _text_by_block(blocks: IntArray, texts: list[str]) -> pd.Categorical:
    return labels(blocks, texts)


def _row_texts(parts: list[pd.DataFrame], column: str) -> pd.Categorical:
    """A per-row text column of every method's positions, as one categorical."""
    return union_categoricals([pd.Categorical(p[column]) for p in parts])


def _position_trace(state: RunState, results: list[MethodResult]) -> pd.DataFrame:
    """One frame for every method's positions, text columns as categoricals from codes."""
    if not results:
        return empty_frame(FRAME_COLUMNS["positions"])
    parts = [r.positions for r in results]
    steps = [r.step for r in results]
    block = np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)])
    rows = np.concatenate([p["row"].to_numpy(np.int64) for p in parts])
    range_names: list[str] = []
    range_codes, strategy_codes = [], []
    strategy_names = [r.value for r in StrategyRow] + [""]
    for r in results:  # one block per margin method
        method = r.step.statement.method  # type: ignore[union-attr]
        names, codes = _range_labels(method, r.positions["range_row"].to_numpy(np.int64))
        range_codes.append(np.where(codes >= 0, codes + len(range_names), -1))
        range_names += names
        # by name: a grid's expired option is named too (``expired_option``), others ""
        kind = r.positions["strategy_row"].astype("category").cat.set_categories(strategy_names)
        strategy_codes.append(kind.cat.codes.to_numpy(np.int64))
    own = state.ctx.positions.own[Subject.POSITION]
    frame = pd.DataFrame(
        {
            "margin_set_id": state.set_column(
                np.concatenate([p["margin_set"].to_numpy(np.int64) for p in parts])
            ),
            "account_id": own["account_id"].take(rows).reset_index(drop=True),
            "instrument_id": own["instrument_id"].take(rows).reset_index(drop=True),
            "joined_by": labels(state.joined_by[rows], state.joined_rules),
            "rule_id": _text_by_block(block, [s.rule_id for s in steps]),
            "citation": _row_texts(parts, CITATION),
            "evidence": _row_texts(parts, EVIDENCE),
            "method": _text_by_block(block, [type(s.statement.method).__name__ for s in steps]),  # type: ignore[union-attr]
            "class_group": pd.concat([as_text(p["class_group"]) for p in parts], ignore_index=True),
            "range_row": labels(np.concatenate(range_codes), [*range_names, ""]),
            "strategy_row": labels(np.concatenate(strategy_codes), strategy_names),
        }
    )
    for col in _POSITION_NUMBERS:
        frame[col] = np.concatenate([p[col].to_numpy(np.float64) for p in parts])
    return frame[list(FRAME_COLUMNS["positions"])]


def _class_group_trace(state: RunState, results: list[MethodResult]) -> pd.DataFrame:
    with_groups = [r for r in results if r.groups is not None and r.pnl is not None]
    width = max((r.pnl.shape[1] for r in with_groups if r.pnl is not None), default=0)
    columns = [*FRAME_COLUMNS["class_groups"], *(f"pnl_{i}" for i in range(width))]
    if not with_groups:
        return empty_frame(tuple(columns))
    frames, blocks = [], []
    for number, r in enumerate(with_groups):  # one block per margin method
        assert r.groups is not None and r.pnl is not None
        g = r.groups
        valid = np.arange(r.pnl.shape[1])[None, :] < g["n_points"].to_numpy()[:, None]
        pnl = np.where(valid, r.pnl, np.nan)
        points = pd.DataFrame(pnl, columns=[f"pnl_{i}" for i in range(pnl.shape[1])])
        frames.append(  # the points one block of floats, not a column each
            pd.concat([g.drop(columns=["method"]).reset_index(drop=True), points], axis=1)
        )
        blocks.append(np.full(len(g), number))
    out = pd.concat(frames, ignore_index=True)
    block = np.concatenate(blocks)
    steps = [r.step for r in with_groups]
    out["margin_set_id"] = state.set_column(out["margin_set"].to_numpy(np.int64))
    out["class_group"] = as_text(out["class_group"])
    out["rule_id"] = _text_by_block(block, [s.rule_id for s in steps])
    out["citation"] = _text_by_block(block, [s.citation for s in steps])
    out["method"] = _text_by_block(block, [type(s.statement.method).__name__ for s in steps])  # type: ignore[union-attr]
    out["netting_rule_id"] = constant(len(out), _netting_rule(state))
    return out.reindex(columns=columns)


def _trace_frames(state: RunState, results: list[MethodResult]) -> None:
    if not state.trace:
        for name in ("class_groups", "positions", "span_charges"):
            state.frames[name] = empty_frame(FRAME_COLUMNS[name])
        return
    state.frames["class_groups"] = _class_group_trace(state, results)
    state.frames["positions"] = _position_trace(state, results)
    state.frames["span_charges"] = _span_charge_trace(state, results)


def _span_charge_trace(state: RunState, results: list[MethodResult]) -> pd.DataFrame:
    """The SPAN scans' charge rows, each with its class group's set and name."""
    frames = []
    for r in results:  # one block per margin method
        if r.span_charges is None or r.groups is None or not len(r.span_charges):
            continue
        at = r.span_charges["group"].to_numpy(np.int64)
        frames.append(
            r.span_charges.assign(
                margin_set_id=state.set_column(r.groups["margin_set"].to_numpy(np.int64)[at]),
                class_group=as_text(r.groups["class_group"]).to_numpy(dtype=object)[at],
                rule_id=constant(len(at), r.step.rule_id),
            )
        )
    if not frames:
        return empty_frame(FRAME_COLUMNS["span_charges"])
    out = pd.concat(frames, ignore_index=True)
    for col in ("margin_set_id", "class_group", "charge", "tier", "rate_id", CITATION, EVIDENCE):
        out[col] = pd.Categorical(out[col].astype("str"))
    return out[list(FRAME_COLUMNS["span_charges"])]


def _range_labels(method: object, chosen: np.ndarray) -> tuple[list[str], IntArray]:
    """The range row each position took (``row 2``, ``row 3 (otherwise)``, the instrument's
    own scan range), as names and a code per position (-1: none)."""
    rows = (
        ()
        if isinstance(method, m.StrategyBased)
        else getattr(method, "ranges", None) or (getattr(method, "rows", None) or ())
    )
    names = [
        f"row {i + 1}" + (" (otherwise)" if getattr(r, "when", 0) is None else "")
        for i, r in enumerate(rows)
    ]
    names.append("instrument scan_range")
    codes = np.where(chosen == -2, len(names) - 1, chosen)
    return names, np.asarray(codes, dtype=np.int64)
