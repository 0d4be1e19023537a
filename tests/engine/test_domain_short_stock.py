"""A short stock under the strategy-based fallback: FINRA Rule 4210(c)'s per-share minimums.

Under $5.00 a share: $2.50 a share or 100% of the market value, whichever is greater; at
$5.00 a share or above: $5.00 a share or 30%, whichever is greater (docs/domain-decisions.md,
row 34). Figures by hand for 1,000 shares short; the rulebooks state it as
``short_stock 30% at least 5 USD per share, under 5 USD a share 100% at least 2.50 USD per
share``. A cash account (``held in cash``) is unaffected.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _evaluate_books import decision, make_book, run
from _kernel_frames import positions

from marginlex.engine.kernels.strategy import (
    LowPriceRates,
    OptionRates,
    StrategyParams,
    strategy_based,
)

REG_T = StrategyParams(
    long_equity_rate=0.25,
    short_equity_rate=0.30,
    equity_option=OptionRates(underlying_rate=0.20, minimum_rate=0.10),
    broad_index_option=OptionRates(underlying_rate=0.15, minimum_rate=0.10),
    other_rate=1.0,
    short_equity_per_share=5.0,
    short_equity_low_price=LowPriceRates(under=5.0, rate=1.0, per_share=2.5),
)

CASES = [
    # price, requirement, row
    # $3.00: under $5: max(100% x 3,000, 2.50 x 1,000 = 2,500) = 3,000 (was 30%: 900)
    (3.0, 3_000.0, "short_equity_low_price"),
    # $10.00: max(30% x 10,000 = 3,000, 5.00 x 1,000 = 5,000) = 5,000 (was 3,000)
    (10.0, 5_000.0, "short_equity_per_share_minimum"),
    # $2.00: max(100% x 2,000, 2.50 x 1,000 = 2,500) = 2,500 (was 600)
    (2.0, 2_500.0, "short_equity_per_share_minimum"),
    # $50.00: max(30% x 50,000 = 15,000, 5,000) = 15,000 (unchanged)
    (50.0, 15_000.0, "short_equity"),
    # exactly $5.00 is not under $5: max(30% x 5,000 = 1,500, 5,000) = 5,000 (was 1,500)
    (5.0, 5_000.0, "short_equity_per_share_minimum"),
    # $4.99: under $5: max(100% x 4,990, 2,500) = 4,990
    (4.99, 4_990.0, "short_equity_low_price"),
]


def test_the_kernel_charges_the_greater_of_the_rate_and_the_per_share_amount() -> None:
    rows = [
        {"instrument_id": f"S{i}", "quantity": -1000.0, "price": price}
        for i, (price, _, _) in enumerate(CASES)
    ]
    out = strategy_based(positions(*rows), REG_T)
    assert out["requirement"].tolist() == pytest.approx([r for _, r, _ in CASES])
    assert out["strategy_row"].astype("str").tolist() == [row for _, _, row in CASES]
    # a stock row carries no option terms
    assert out["premium"].tolist() == [0.0] * len(CASES)


def test_without_the_clauses_a_short_stock_is_its_rate_alone() -> None:
    """A row written as before (``short_stock 30%``): 30% x 10,000 = 3,000 at $10, 900 at $3."""
    plain = REG_T.model_copy(update={"short_equity_per_share": 0.0, "short_equity_low_price": None})
    rows = [{"quantity": -1000.0, "price": p, "instrument_id": f"S{p}"} for p in (10.0, 3.0)]
    out = strategy_based(positions(*rows), plain)
    assert out["requirement"].tolist() == pytest.approx([3_000.0, 900.0])
    assert out["strategy_row"].astype("str").tolist() == ["short_equity"] * 2


def test_held_in_cash_takes_no_per_share_figure() -> None:
    """12 CFR 220.8: 100% x 3,000 to hold less the 3,000 liability = 0, whatever the price."""
    cash = REG_T.model_copy(update={"held_in_cash": True, "short_equity_rate": 1.0})
    out = strategy_based(positions({"quantity": -1000.0, "price": 3.0}), cash)
    assert out["requirement"].tolist() == [0.0]
    assert out["strategy_row"].astype("str").tolist() == ["short_equity_held_in_cash"]


LOW = "LOW3,stock,,LOW3,,1,3.00,,,,,,\nMID10,stock,,MID10,,1,10.00,,,,,,\n"


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
@pytest.mark.parametrize(
    ("instrument", "cash", "maintenance", "row"),
    [
        # 1,000 LOW3 at $3 short, 5,000 cash: 3,000 (100%), value 2,000
        ("LOW3", 5000, 3000.0, "short_equity_low_price"),
        # 1,000 MID10 at $10 short, 12,000 cash: 5,000 ($5.00 a share), value 2,000
        ("MID10", 12000, 5000.0, "short_equity_per_share_minimum"),
    ],
)
def test_the_rulebooks_state_it_and_the_trace_shows_it(
    tmp_path: Path, rulebook: str, instrument: str, cash: float, maintenance: float, row: str
) -> None:
    """ALICE's margin account (no portfolio margin agreement): the strategy-based fallback of
    each rulebook (sec's, harmonized's override); the position's row names the figure that
    won and cites FINRA 4210(c)."""
    book = make_book(
        tmp_path,
        "S1,ALICE,BD1,SEC,margin,customer,",
        f"S1,{instrument},-1000",
        f"L1,S1,USD,{cash},,",
        extra_instruments=LOW,
    )
    ev = run(book, rulebook)
    d = decision(ev, "ms:S1")
    assert (d["method_rule_id"], d["maintenance"]) == ("sec_strategy_based", maintenance)
    assert d["call"] == pytest.approx(maintenance - 2000.0)
    pos = ev.frames["positions"].set_index("instrument_id").loc[instrument]
    assert pos["strategy_row"] == row
    assert "FINRA Rule 4210(c)" in pos["citation"] and "$2.50 a share" in pos["citation"]


def test_a_cash_account_short_sale_is_unchanged(tmp_path: Path) -> None:
    """Short 1,000 LOW3 at $3 in a cash account with its 3,000 proceeds: 100% x 3,000 less the
    3,000 the value deducts = 0; no call (no $2.50 a share there)."""
    book = make_book(
        tmp_path,
        "S1,ALICE,BD1,SEC,cash,customer,",
        "S1,LOW3,-1000",
        "L1,S1,USD,3000,,",
        extra_instruments=LOW,
    )
    d = decision(run(book, "sec"), "ms:S1")
    assert (d["method_rule_id"], d["maintenance"], d["call"]) == ("sec_cash_account", 0.0, 0.0)
