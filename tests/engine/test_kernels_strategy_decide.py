"""Strategy-based fallback and the decision arithmetic."""

from __future__ import annotations

import pandas as pd
import pytest
from _kernel_frames import option, positions

from marginlex.engine.kernels.strategy import OptionRates, StrategyParams, strategy_based
from marginlex.engine.phases.decision import DecisionParams, decide

REG_T = StrategyParams(
    long_equity_rate=0.25,
    short_equity_rate=0.30,
    long_option_rate=1.0,
    equity_option=OptionRates(underlying_rate=0.20, minimum_rate=0.10),
    broad_index_option=OptionRates(underlying_rate=0.15, minimum_rate=0.10),
    other_rate=1.0,
)


def short_put(strike: float, premium: float, **row: object) -> dict[str, object]:
    return option(
        instrument_id=f"XYZP{strike:g}",
        underlying="XYZ",
        product="equity_option",
        quantity=-1.0,
        price=premium,
        underlying_price=100.0,
        strike=strike,
        t=0.1,
        **row,
    )


def test_short_put_strategy_figure() -> None:
    # Short 1 XYZ 95 put at $2.00, XYZ at $100, x100:
    #   premium 200; underlying value 10,000; out of the money by (100 - 95) x 100 = 500;
    #   200 + 20% x 10,000 - 500 = 1,700; floor 200 + 10% x 95 x 100 = 1,150 -> 1,700.
    # Short 1 XYZ 80 put at $0.10: premium 10; 10 + 2,000 - 2,000 = 10;
    #   floor 10 + 10% x 80 x 100 = 810 -> 810 (the floor binds).
    out = strategy_based(positions(short_put(95.0, 2.0), short_put(80.0, 0.10)), REG_T)
    assert out["strategy_row"].astype("str").tolist() == ["short_put_uncovered"] * 2
    assert out["premium"].tolist() == pytest.approx([200.0, 10.0])
    assert out["otm_amount"].tolist() == pytest.approx([500.0, 2_000.0])
    assert out["base_requirement"].tolist() == pytest.approx([1_700.0, 10.0])
    assert out["floor_requirement"].tolist() == pytest.approx([1_150.0, 810.0])
    assert out["requirement"].tolist() == pytest.approx([1_700.0, 810.0])


def test_stock_rows_and_long_option() -> None:
    # Long 100 at $100: 25% x 10,000 = 2,500; short 100: 30% x 10,000 = 3,000;
    # long 2 calls at $3 x 100: 100% x 600 = 600.
    out = strategy_based(
        positions(
            {"quantity": 100.0},
            {"instrument_id": "ABC", "quantity": -100.0},
            option(
                instrument_id="XYZC",
                underlying="XYZ",
                product="equity_option",
                quantity=2.0,
                price=3.0,
                is_call=True,
                underlying_price=100.0,
                strike=100.0,
                t=0.1,
            ),
        ),
        REG_T,
    )
    assert out["strategy_row"].astype("str").tolist() == [
        "long_equity",
        "short_equity",
        "long_option",
    ]
    assert out["requirement"].tolist() == pytest.approx([2_500.0, 3_000.0, 600.0])


SHORT_XYZ_CALL = {
    "underlying": "XYZ",
    "product": "equity_option",
    "is_call": True,
    "quantity": -1.0,
    "underlying_price": 100.0,
    "t": 0.1,
}
"""One short call on XYZ at 100, 0.1 years out (strike, price and account given per test)."""


def test_covered_call_and_partly_covered_call() -> None:
    # Account A1: 150 XYZ long, short 1 call K=90 and 1 call K=110 (x100, at $12 and $1).
    #   Lowest strike first: the 90 call is fully covered (100 shares) -> 0;
    #   the 110 call has 50 of its 100 shares: a contract is covered by its whole deliverable
    #   only (FINRA Rule 4210(f)(2)(G)), so it is uncovered: 100 + 20% x 10,000
    #   - (110 - 100) x 100 = 1,100 (floor 100 + 1,000 = 1,100).
    # Account A2: a short 90 call with no stock -> 1,200 + 2,000 - 0 = 3,200.
    # Account A3: 250 XYZ long, short 3 calls K=90: 2 contracts covered, 1 uncovered:
    #   covered fraction 2/3, requirement 3 x 3,200 x 1/3 = 3,200, its row naming both parts
    #   (`short_call_partly_covered`); its stock 25% x 25,000.
    # The stock keeps its own 25% x 15,000 = 3,750.
    call = SHORT_XYZ_CALL
    out = strategy_based(
        positions(
            {"quantity": 150.0},
            option(instrument_id="C110", strike=110.0, price=1.0, **call),
            option(instrument_id="C90", strike=90.0, price=12.0, **call),
            option(
                instrument_id="C90", strike=90.0, price=12.0, account_id="A2", margin_set=1, **call
            ),
            {"quantity": 250.0, "account_id": "A3", "margin_set": 2},
            option(
                instrument_id="C90",
                strike=90.0,
                price=12.0,
                account_id="A3",
                margin_set=2,
                **(call | {"quantity": -3.0}),
            ),
        ),
        REG_T,
    )
    assert out["strategy_row"].astype("str").tolist() == [
        "long_equity",
        "short_call_uncovered",
        "short_call_covered",
        "short_call_uncovered",
        "long_equity",
        "short_call_partly_covered",
    ]
    assert out["covered_fraction"].tolist() == pytest.approx([0.0, 0.0, 1.0, 0.0, 0.0, 2 / 3])
    assert out["requirement"].tolist() == pytest.approx(
        [3_750.0, 1_100.0, 0.0, 3_200.0, 6_250.0, 3_200.0]
    )


def test_broad_index_short_call_uses_15_and_10() -> None:
    # Short 1 SPX 5,200 call at $20 (x100), SPX 5,000, broad-based:
    #   2,000 + 15% x 500,000 - 200 x 100 = 57,000; floor 2,000 + 10% x 500,000 = 52,000.
    out = strategy_based(
        positions(
            option(
                instrument_id="SPXC",
                underlying="SPX",
                product="index_option",
                index_class="high_cap_broad",
                is_call=True,
                quantity=-1.0,
                price=20.0,
                underlying_price=5_000.0,
                strike=5_200.0,
                t=0.1,
            )
        ),
        REG_T,
    )
    assert out["requirement"].tolist() == pytest.approx([57_000.0])


def test_decision_arithmetic() -> None:
    # Set 0: collateral 100,000 at market, 95,000 after haircuts; positions worth 20,000;
    #   equity 120,000; value 115,000; requirement 40,000.004 -> 40,000.00; excess 75,000; ok.
    # Set 1: value 10,000 + 0 = 10,000; requirement 12,345.675 -> 12,345.68 (half up);
    #   excess -2,345.68; call 2,345.68; initial 110% x 12,345.675 = 13,580.2425 -> 13,580.24.
    # Set 2: a segregation breach: figures computed, status breach.
    sets = pd.DataFrame(
        {
            "margin_set": [0, 1, 2],
            "collateral_market_value": [100_000.0, 10_000.0, 1.0],
            "collateral_value": [95_000.0, 10_000.0, 1.0],
            "position_value": [20_000.0, 0.0, 0.0],
            "requirement": [40_000.004, 12_345.675, 0.0],
            "breach": [False, False, True],
        }
    )
    out = decide(sets, DecisionParams(initial_multiple=1.10))
    assert out["equity"].tolist() == [120_000.0, 10_000.0, 1.0]
    assert out["value"].tolist() == [115_000.0, 10_000.0, 1.0]
    assert out["requirement"].tolist() == [40_000.0, 12_345.68, 0.0]
    assert out["initial"].tolist() == [44_000.0, 13_580.24, 0.0]
    assert out["excess"].tolist() == [75_000.0, -2_345.68, 1.0]
    assert out["call"].tolist() == [0.0, 2_345.68, 0.0]
    assert out["status"].astype("str").tolist() == ["ok", "call", "breach"]


def test_decide_refuses_a_negative_requirement() -> None:
    sets = pd.DataFrame(
        {
            "margin_set": [0],
            "collateral_market_value": [0.0],
            "collateral_value": [0.0],
            "position_value": [0.0],
            "requirement": [-1.0],
            "breach": [False],
        }
    )
    with pytest.raises(ValueError, match="a requirement is negative"):
        decide(sets, DecisionParams())


def test_a_fractional_short_call_covered_to_float_noise_is_covered() -> None:
    # 0.3 x 3 x 100 shares is 89.99999999999999 in float64: they cover 0.9 contracts of 100
    call = SHORT_XYZ_CALL | {"quantity": -0.9}
    out = strategy_based(
        positions(
            {"quantity": 0.3 * 3 * 100},
            option(instrument_id="C90", strike=90.0, price=12.0, **call),
        ),
        REG_T,
    )
    assert out["covered_fraction"].tolist() == [0.0, 1.0]
    assert out["strategy_row"].astype("str").tolist()[1] == "short_call_covered"
