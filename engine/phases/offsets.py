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
from marginlex.engine.evaluation import FRAME_COLUMNS
from marginlex.engine.kernels.offsets import (
    OffsetParams,
    OffsetRate,
    leg_credits,
    product_group_offsets,
)
from marginlex.engine.kernels.pricing import OPTION_AT_WORST
from marginlex.engine.kernels.span_spreads import SpreadLegs, priority_spreads
from marginlex.engine.kernels.strategy import StrategyRow
from marginlex.engine.phases.margin import MethodResult, credit_rule_of
from marginlex.engine.phases.state import (
    FloatArray,
    IntArray,
    RunState,
    constant,
    empty_frame,
    labels,
)
from marginlex.engine.plan.citations import CITATION, EVIDENCE
from marginlex.engine.plan.steps import StepKind


def _netting_rule(state: RunState) -> str:
    for step in state.plan.active(StepKind.OFFSET):
        if isinstance(step.statement.rule, m.Netting):  # type: ignore[union-attr]
            return step.rule_id
    return ""


def run_offsets(state: RunState, results: list[MethodResult]) -> FloatArray:
    """Apply class-group credits; return the maintenance requirement per set code."""
    total = np.zeros(state.n_sets)
    offset_frames = []
    for result in results:
        span = isinstance(result.step.statement.method, m.SpanScan)  # type: ignore[union-attr]
        credit = credit_rule_of(state.plan, span=span)
        if result.groups is None or credit is None or not len(result.groups):
            total += result.set_requirement
            continue
        rule = credit.statement.rule  # type: ignore[union-attr]
        assert isinstance(rule, m.ClassGroupCredit)
        params = OffsetParams(
            rates=tuple(
                OffsetRate(product_group=r.left.name, rate=state.plan.value(r.rate))
                for r in rule.rows
            )
        )
        assert result.pnl is not None
        key = pd.Series(result.groups["product_key"])
        if rule.per_leg:  # SPAN scans only (credit_rule_of)
            out = leg_credits(result.groups, key, params, _spreads(state, rule, result.groups))
        else:
            out = product_group_offsets(result.groups, result.pnl, key, params)
        pg = out.product_groups
        total += np.bincount(
            pg["margin_set"].to_numpy(np.int64),
            weights=pg["requirement"].to_numpy(np.float64),
            minlength=state.n_sets,
        )
        grouped = pg[~pg["standalone"].to_numpy(dtype=bool)]
        offset_frames.append(
            grouped.assign(
                margin_set_id=state.set_column(grouped["margin_set"].to_numpy(np.int64)),
                minimum=grouped["minimum"],
                **state.step_columns(credit, len(grouped)),
            )
        )
    columns = list(FRAME_COLUMNS["offsets"])
    found = [f[columns] for f in offset_frames if len(f)]
    state.frames["offsets"] = (
        pd.concat(found, ignore_index=True) if found else empty_frame(FRAME_COLUMNS["offsets"])
    )
    _trace_frames(state, results)
    return total


def _spreads(
    state: RunState, rule: m.ClassGroupCredit, groups: pd.DataFrame
) -> tuple[FloatArray, FloatArray] | None:
    """Credit and matched risk per class group of spreads between keys (``a with b``
    rows, formed in the table's order, its priority); None for a table of single keys."""
    if not any(r.right for r in rule.rows):
        return None
    names = list(dict.fromkeys(n.name for r in rule.rows for n in (r.left, r.right) if n))
    code = {name: i for i, name in enumerate(names)}
    key = pd.Series(groups["product_key"].astype("str")).map(code).fillna(-1)
    risk = groups["loss"].to_numpy(np.float64) - groups["charges"].to_numpy(np.float64)
    legs = SpreadLegs(
        margin_set=groups["margin_set"].to_numpy(np.int64),
        key=np.asarray(key.to_numpy(np.int64), dtype=np.int64),
        delta=groups["net_delta"].to_numpy(np.float64),
        risk=risk,
    )
    rows = [
        (code[r.left.name], code[(r.right or r.left).name], state.plan.value(r.rate))
        for r in rule.rows
    ]
    out = priority_spreads(legs, rows, state.n_sets)
    weight = np.divide(risk, np.abs(legs.delta), out=np.zeros(len(risk)), where=legs.delta != 0)
    return out.credit, out.delta_spread * weight


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
        kind = r.positions["strategy_row"]
        from_kernel = isinstance(method, m.StrategyBased)
        strategy_codes.append(
            kind.cat.codes.to_numpy(np.int64)
            if from_kernel
            else np.full(len(kind), len(strategy_names) - 1)
        )
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
            "class_group": pd.concat(
                [p["class_group"].astype("str") for p in parts], ignore_index=True
            ),
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
        frames.append(
            g.drop(columns=["method"]).assign(
                **{f"pnl_{i}": pnl[:, i] for i in range(pnl.shape[1])}
            )
        )
        blocks.append(np.full(len(g), number))
    out = pd.concat(frames, ignore_index=True)
    block = np.concatenate(blocks)
    steps = [r.step for r in with_groups]
    out["margin_set_id"] = state.set_column(out["margin_set"].to_numpy(np.int64))
    out["class_group"] = out["class_group"].astype("str")
    out["rule_id"] = _text_by_block(block, [s.rule_id for s in steps])
    out["citation"] = _text_by_block(block, [s.citation for s in steps])
    out["method"] = _text_by_block(block, [type(s.statement.method).__name__ for s in steps])  # type: ignore[union-attr]
    out["netting_rule_id"] = constant(len(out), _netting_rule(state))
    return out.reindex(columns=columns)


def _trace_frames(state: RunState, results: list[MethodResult]) -> None:
    state.frames["class_groups"] = _class_group_trace(state, results)
    state.frames["positions"] = _position_trace(state, results)


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
