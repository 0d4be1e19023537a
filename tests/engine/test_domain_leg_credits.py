"""SPAN inter-commodity credits per leg (issue 14, section 5), with hand-computed figures.

Each leg of a hedge between class groups of one key is credited the rate times the risk it
matches; netting gains against losses point by point charged two equal legs half as much.
"""

from __future__ import annotations

import pandas as pd
import pytest
from _kernel_frames import positions

from marginlex.engine.kernels.offsets import (
    OffsetParams,
    OffsetRate,
    leg_credits,
    product_group_offsets,
)
from marginlex.engine.kernels.span import SpanParams, span_scan

SPAN = SpanParams(
    scan_ranges={"index_future": 0.07},
    vol_shift=0.04,
    extreme_fraction=0.33,
    short_option_minimum=0.375,
)
HALF = OffsetParams(rates=(OffsetRate(product_group="index_future", rate=0.5),))


def _future(group: str, quantity: float, price: float, multiplier: float) -> dict[str, object]:
    return {
        "instrument_id": group,
        "class_group": group,
        "product": "index_future",
        "quantity": quantity,
        "multiplier": multiplier,
        "price": price,
        "is_contract": True,
    }


def _scan(*rows: dict[str, object]) -> tuple[pd.DataFrame, object]:
    scan = span_scan(positions(*rows), SPAN)
    groups = scan.groups.assign(loss=scan.groups["scanning_risk"])
    groups = groups.assign(minimum=groups["short_option_minimum"], n_points=16)
    return groups, scan.scenario_pnl


def _key(groups: pd.DataFrame) -> pd.Series:
    return pd.Series(["index_future"] * len(groups))


def test_two_equal_legs_are_charged_half_their_risk_each() -> None:
    # Long 1 A at 4,000 x 50 and short 1 B at 4,000 x 50, scan range 7%: each leg's risk is
    # 7% x 200,000 = 14,000 (A at -3/3, B at +3/3). Matched min(14,000, 14,000) = 14,000;
    # each leg credited 50% x 14,000 = 7,000: 7,000 + 7,000 = 14,000.
    groups, pnl = _scan(_future("A", 1, 4000.0, 50), _future("B", -1, 4000.0, 50))
    out = leg_credits(groups, _key(groups), HALF).product_groups.iloc[0]
    assert out["class_group_requirements"] == pytest.approx(28_000.0)
    assert out["gains_at_worst"] == pytest.approx(14_000.0)  # the matched risk
    assert out["requirement"] == pytest.approx(14_000.0)
    assert out["credit"] == pytest.approx(14_000.0)
    assert out["worst_point"] == -1
    # Netting point by point: at -3/3 A loses 14,000 and B gains 14,000: 14,000 - 50% x
    # 14,000 = 7,000, half of what the spread is charged.
    netted = product_group_offsets(groups, pnl, _key(groups), HALF).product_groups.iloc[0]
    assert netted["requirement"] == pytest.approx(7_000.0)


def test_unequal_legs_share_the_matched_risk_in_proportion() -> None:
    # Long 1 A (risk 14,000, worst down); short 1 B (2,000 x 50 = 100,000: 7,000) and short
    # 1 C (3,000 x 50 = 150,000: 10,500), both worst up: their side totals 17,500. Matched
    # min(14,000, 17,500) = 14,000: A is credited 50% x 14,000 = 7,000 -> 7,000; B matches
    # 7,000 x 14,000 / 17,500 = 5,600, credit 2,800 -> 4,200; C matches 8,400, credit
    # 4,200 -> 6,300. Total 17,500 (31,500 before the credits).
    groups, _ = _scan(
        _future("A", 1, 4000.0, 50), _future("B", -1, 2000.0, 50), _future("C", -1, 3000.0, 50)
    )
    out = leg_credits(groups, _key(groups), HALF).product_groups.iloc[0]
    assert (out["n_class_groups"], out["offset_rate"]) == (3, 0.5)
    assert out["class_group_requirements"] == pytest.approx(31_500.0)
    assert out["requirement"] == pytest.approx(7_000.0 + 4_200.0 + 6_300.0)


def test_legs_that_lose_the_same_way_get_no_credit() -> None:
    # Long A and long B both lose on a fall: no hedge, 14,000 + 7,000.
    groups, _ = _scan(_future("A", 1, 4000.0, 50), _future("B", 1, 2000.0, 50))
    out = leg_credits(groups, _key(groups), HALF).product_groups.iloc[0]
    assert (out["requirement"], out["credit"]) == (pytest.approx(21_000.0), 0.0)


def test_a_key_without_a_row_stands_alone() -> None:
    groups, _ = _scan(_future("A", 1, 4000.0, 50), _future("B", -1, 4000.0, 50))
    out = leg_credits(groups, pd.Series(["", ""]), HALF).product_groups
    assert out["standalone"].tolist() == [True, True]
    assert out["requirement"].sum() == pytest.approx(28_000.0)
