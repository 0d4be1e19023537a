"""SPAN-style scan and inter-commodity spread credits, with hand-computed figures."""

from __future__ import annotations

import numpy as np
import pytest
from _kernel_frames import bs_scalar, option, positions

from marginlex.engine.kernels.offsets import SpreadCredit, spread_credits
from marginlex.engine.kernels.span import SpanParams, initial_from_maintenance, scenarios, span_scan

CFTC = SpanParams(
    scan_ranges={"index_future": 0.07, "ust_future": 0.02, "crypto_future": 0.30},
    vol_shift=0.04,
    extreme_fraction=0.33,
    short_option_minimum=0.375,
    initial_multiple=1.10,
)
T30 = 30 / 365


def es_future(quantity: float = 1.0, **row: object) -> dict[str, object]:
    return {
        "instrument_id": "ESZ6",
        "class_group": "ES",
        "product": "index_future",
        "quantity": quantity,
        "multiplier": 50.0,
        "price": 4000.0,
        "is_contract": True,
        **row,
    }


def test_sixteen_scenarios_in_span_order() -> None:
    s = scenarios(CFTC)
    assert (s.price_move * 3).round(12).tolist() == [
        0,
        0,
        1,
        1,
        -1,
        -1,
        2,
        2,
        -2,
        -2,
        3,
        3,
        -3,
        -3,
        9,
        -9,
    ]
    assert s.vol_sign.tolist() == [1, -1] * 7 + [0, 0]
    assert s.weight.tolist() == [1.0] * 14 + [0.33, 0.33]


def test_long_future_scan_from_product_table() -> None:
    # 1 ES at 4,000 x 50, no scan_range in the book -> table 7%: one range = 14,000.
    # Scenario 13 (-3/3, vol up): -14,000. Extreme 16: 3 x 14,000 x 0.33 = 13,860 < 14,000.
    out = span_scan(positions(es_future()), CFTC)
    g = out.groups.iloc[0]
    assert g["worst_scenario"] == 13
    assert g["worst_price_move"] == -1.0
    assert g["scanning_risk"] == pytest.approx(14_000.0)
    assert out.scenario_pnl[0, 15] == pytest.approx(-13_860.0)
    assert g["short_option_minimum"] == 0.0
    assert g["requirement"] == pytest.approx(14_000.0)
    assert out.positions["scan_range_used"].tolist() == [0.07]
    assert out.positions["scan_range_from_instrument"].tolist() == [False]
    # Initial for a speculator: 110% of maintenance = 15,400.
    assert initial_from_maintenance(np.array([14_000.0]), CFTC).tolist() == [
        pytest.approx(15_400.0)
    ]


def test_extreme_move_is_the_worst_scenario() -> None:
    # Short 10 puts, strike 85, on a future at 100 (x50), 30 days, vol 20%; the instrument's
    # own scan range 5% overrides the table. A -5% move leaves the put far out of the money;
    # the extreme -15% move takes it to the money: 33% of that loss is the worst scenario.
    frame = positions(
        option(
            instrument_id="P85",
            class_group="FUT",
            product="index_option",
            quantity=-10.0,
            multiplier=50.0,
            underlying_price=100.0,
            strike=85.0,
            implied_vol=0.20,
            t=T30,
            scan_range=0.05,
        ),
    )
    out = span_scan(frame, CFTC)
    now = bs_scalar(100.0, 85.0, T30, 0.20, call=False)
    s = scenarios(CFTC)
    expected = [
        -500.0
        * w
        * (bs_scalar(100.0 * (1 + m * 0.05), 85.0, T30, max(0.20 + v * 0.04, 0.0), False) - now)
        for m, v, w in zip(s.price_move, s.vol_sign, s.weight, strict=True)
    ]
    assert out.scenario_pnl[0].tolist() == pytest.approx(expected, rel=1e-10)
    g = out.groups.iloc[0]
    assert g["worst_scenario"] == 16
    assert g["worst_price_move"] == -3.0
    assert g["worst_weight"] == 0.33
    # By hand: at 85 the put is at the money; with r = 0 an ATM put is S (2 N(vol sqrt(t) / 2) - 1)
    # = 85 x (2 N(0.0286691) - 1) = 85 x (2 x 0.5114358 - 1) = 1.944078; now (at 100) it is
    # worth 0.003582. Loss = 10 x 50 x (1.944078 - 0.003582) = 970.25; 33% of it = 320.18.
    assert g["scanning_risk"] == pytest.approx(320.18, abs=0.005)
    assert g["scanning_risk"] > -min(expected[:14])
    # Short option minimum: 10 x 0.375 x 50 = 187.50, below the risk.
    assert g["short_option_minimum"] == 187.5
    assert g["requirement"] == pytest.approx(g["scanning_risk"])


def test_short_option_minimum_binds() -> None:
    # A 1-day call struck far out of the money has almost no risk; 4 x 0.375 x 100 = 150 binds.
    frame = positions(
        option(
            instrument_id="C200",
            class_group="FUT",
            product="index_option",
            quantity=-4.0,
            is_call=True,
            underlying_price=100.0,
            strike=200.0,
            implied_vol=0.2,
            t=1 / 365,
            scan_range=0.05,
        ),
    )
    g = span_scan(frame, CFTC).groups.iloc[0]
    assert g["scanning_risk"] < 1e-6
    assert g["short_option_minimum"] == 150.0
    assert g["requirement"] == 150.0
    assert g["minimum_binds"]


def test_inter_commodity_spread_credit() -> None:
    # ES long 1: risk 14,000 at a fall (direction -1).
    # NQ short 1 at 15,000 x 20, own scan range 8%: risk 24,000 at a rise (direction +1).
    # Table (ES, NQ, 50%): matched 14,000; each leg credited 7,000:
    # ES 14,000 - 7,000 = 7,000; NQ 24,000 - 7,000 = 17,000.
    frame = positions(
        es_future(),
        {
            "instrument_id": "NQZ6",
            "class_group": "NQ",
            "product": "index_future",
            "quantity": -1.0,
            "multiplier": 20.0,
            "price": 15_000.0,
            "scan_range": 0.08,
            "is_contract": True,
        },
    )
    scan = span_scan(frame, CFTC)
    out = spread_credits(scan.groups, (SpreadCredit(group_a="ES", group_b="NQ", rate=0.5),))
    rows = out.groups.set_index("class_group")
    assert rows.loc["NQ", "worst_scenario"] == 11
    assert rows.loc["ES", "direction"] == -1.0
    assert rows.loc["NQ", "direction"] == 1.0
    assert rows["spread_credit"].tolist() == pytest.approx([7_000.0, 7_000.0])
    assert rows["requirement"].tolist() == pytest.approx([7_000.0, 17_000.0])
    assert rows["requirement_before_credit"].tolist() == pytest.approx([14_000.0, 24_000.0])
    spread = out.spreads.iloc[0]
    assert (spread["group_a"], spread["group_b"], spread["spread_risk"], spread["credit_each"]) == (
        "ES",
        "NQ",
        pytest.approx(14_000.0),
        pytest.approx(7_000.0),
    )


def test_no_spread_credit_when_both_legs_lose_the_same_way() -> None:
    # Long ES and long NQ both lose on a fall: no hedge, no credit.
    frame = positions(
        es_future(),
        {
            "instrument_id": "NQZ6",
            "class_group": "NQ",
            "product": "index_future",
            "quantity": 1.0,
            "multiplier": 20.0,
            "price": 15_000.0,
            "is_contract": True,
        },
    )
    out = spread_credits(
        span_scan(frame, CFTC).groups, (SpreadCredit(group_a="ES", group_b="NQ", rate=0.5),)
    )
    assert out.groups["spread_credit"].tolist() == [0.0, 0.0]
    assert out.spreads.empty


def test_missing_scan_range_is_an_error() -> None:
    frame = positions({"product": "crypto", "class_group": "BTC", "quantity": 1.0})
    with pytest.raises(ValueError, match="no scan range for product\\(s\\) crypto"):
        span_scan(frame, CFTC)
