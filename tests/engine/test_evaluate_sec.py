"""SEC rulebook end to end on small hand-made books: figures computed by hand.

Demo instruments used (engine/book/demo_book/instruments.csv), as of 2026-06-30:
XYZ stock 100.00; XYZ_P90_2609 put K=90, vol 30%, expiry 2026-09-18 (80 days, t=80/365),
price 1.74, multiplier 100; XYZ_P100/C100 K=100 price 5.60; ABC 50.00, ABC_C55_2609 call
K=55 price 0.72; SPY 600.00 (high_cap_broad, class group SPX).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _evaluate_books import bs, decision, make_book, run

T = 80 / 365
CASH_ONLY = "L9,H_BD1,USD,1000000,,"


def test_stock_and_short_put_worst_point_is_minus_15(tmp_path: Path) -> None:
    # 1000 XYZ long, 10 XYZ 90 puts short; equity 150,000 + 100,000 - 1,740 = 248,260.
    book = make_book(
        tmp_path,
        "P1,ALICE,BD1,SEC,portfolio_margin,customer,portfolio_margin",
        "P1,XYZ,1000\nP1,XYZ_P90_2609,-10",
        "L1,P1,USD,150000,,",
    )
    ev = run(book, "sec")
    d = decision(ev, "ms:P1")
    assert d["eligible"] and d["method_rule_id"] == "sec_portfolio_margin"
    # Points -15 .. +15% in 3% steps. At -15%: stock 1000 x 100 x -0.15 = -15,000;
    # put: -(BS(85, 90) - BS(100, 90)) x 10 x 100 = -(7.7981 - 1.7447) x 1000 = -6,053.37.
    points = [-0.15, -0.12, -0.09, -0.06, -0.03, 0.03, 0.06, 0.09, 0.12, 0.15]
    v0 = bs(100, 90, T, 0.30, call=False)
    expected = [
        1000 * 100 * p - (bs(100 * (1 + p), 90, T, 0.30, call=False) - v0) * 1000 for p in points
    ]
    assert expected[0] == pytest.approx(-21053.369, abs=1e-3)
    cg = ev.frames["class_groups"].set_index("class_group").loc["XYZ"]
    assert [cg[f"pnl_{i}"] for i in range(10)] == pytest.approx(expected, abs=1e-6)
    assert cg["worst_shock"] == pytest.approx(-0.15)
    assert cg["minimum"] == pytest.approx(375.0)  # 0.375 x 100 x 10 contracts
    assert d["maintenance"] == 21053.37
    assert d["equity"] == 248260.0 and d["value"] == 248260.0
    assert d["excess"] == pytest.approx(227206.63) and d["call"] == 0.0


def test_high_cap_index_etf_moves_minus_8(tmp_path: Path) -> None:
    # 10,000 SPY x 600 = 6,000,000; high-cap broad range +6/-8: worst -8% = -480,000.
    book = make_book(
        tmp_path,
        "P1,DELTA,BDF1,SEC,portfolio_margin,customer,portfolio_margin",
        "P1,SPY,10000",
        "L1,P1,USD,1000000,,",
    )
    ev = run(book, "sec")
    cg = ev.frames["class_groups"].iloc[0]
    assert (cg["class_group"], cg["range_up"], cg["range_down"]) == ("SPX", 0.06, 0.08)
    assert cg["worst_shock"] == pytest.approx(-0.08)
    assert cg["pnl_5"] == pytest.approx(6_000_000 * 0.012)  # first point up: +1.2%
    assert decision(ev, "ms:P1")["maintenance"] == 480000.0


def test_conversion_pays_the_contract_minimum(tmp_path: Path) -> None:
    # Long stock + long 100 put + short 100 call (a conversion): the grid P&L is flat
    # (call - put = S - K at rate 0), so the loss is ~0 and the minimum binds:
    # 0.375 x 100 x (10 + 10) contracts = 750.
    book = make_book(
        tmp_path,
        "P1,INDIA,BD1,SEC,portfolio_margin,customer,portfolio_margin",
        "P1,XYZ,1000\nP1,XYZ_P100_2609,10\nP1,XYZ_C100_2609,-10",
        "L1,P1,USD,200000,,",
    )
    ev = run(book, "sec")
    cg = ev.frames["class_groups"].iloc[0]
    assert cg["loss"] < 1e-6 and bool(cg["minimum_binds"])
    assert decision(ev, "ms:P1")["maintenance"] == 750.0


def test_equity_under_100k_falls_back_to_strategy_based(tmp_path: Path) -> None:
    # Equity 40,000 + 300 x 100 - 2 x 100 x 1.74 = 69,652 < 100,000: min_equity fails.
    # Strategy based: long stock 25% x 30,000 = 7,500; short put 2 x 100 shares:
    # premium 348 + 20% x 100 x 200 - OTM (100 - 90) x 200 = 2,348, floor 348 + 10% x 90
    # x 200 = 2,148 -> 2,348. Total 9,848.
    book = make_book(
        tmp_path,
        "P1,BOB,BD1,SEC,portfolio_margin,customer,portfolio_margin",
        "P1,XYZ,300\nP1,XYZ_P90_2609,-2",
        "L1,P1,USD,40000,,",
    )
    ev = run(book, "sec")
    d = decision(ev, "ms:P1")
    assert not d["eligible"] and d["failed_requirements"] == "min_equity"
    assert d["method_rule_id"] == "sec_strategy_based"
    assert d["equity"] == 69652.0 and d["maintenance"] == 9848.0
    elig = ev.frames["eligibility"].set_index("requirement").loc["min_equity"]
    assert not elig["passed"] and elig["tested_value"] == "69652.0"


def test_treasury_note_in_a_strategy_account_takes_the_government_rate(
    tmp_path: Path,
) -> None:
    # A margin account (not portfolio margin) holding 1,000 UST_2035_08 notes at 98.50 x 10
    # = 985,000. Residual maturity 2035-08-15 - 2026-06-30 = 3,334 days = 9.13 years, so the
    # "< 10 years" row of FINRA 4210(e)(2)(A) applies: 4% x 985,000 = 39,400 (not the 25%
    # long-stock rate of 246,250).
    book = make_book(
        tmp_path,
        "P1,ECHO,BD1,SEC,margin,customer,",
        "P1,UST_2035_08,1000",
        "L1,P1,USD,10000,,",
    )
    ev = run(book, "sec")
    d = decision(ev, "ms:P1")
    assert d["method_rule_id"] == "sec_strategy_based"
    assert d["maintenance"] == 39400.0
    pos = ev.frames["positions"].iloc[0]
    assert pos["strategy_row"] == "other" and pos["requirement"] == pytest.approx(39400.0)


def test_owner_without_uncovered_options_approval(tmp_path: Path) -> None:
    # CAROL is approved for covered options only. Strategy based: 2,000 ABC x 50 x 25%
    # = 25,000; the 10 short ABC 55 calls are covered by the stock: 0.
    book = make_book(
        tmp_path,
        "P1,CAROL,BD1,SEC,portfolio_margin,customer,portfolio_margin",
        "P1,ABC,2000\nP1,ABC_C55_2609,-10",
        "L1,P1,USD,400000,,",
    )
    ev = run(book, "sec")
    d = decision(ev, "ms:P1")
    assert d["failed_requirements"] == "uncovered_options" and not d["eligible"]
    assert d["maintenance"] == 25000.0
    rows = ev.frames["positions"].set_index("instrument_id")
    assert rows.loc["ABC_C55_2609", "strategy_row"] == "short_call_covered"


TREASURY_LOTS = """
L1,P1,UST_NOTE,100000,2027-06-30,
L2,P1,UST_NOTE,100000,2027-01-16,
L3,P1,UST_BILL,100000,2026-08-29,
"""


@pytest.mark.parametrize(
    ("rulebook", "regime", "rates"),
    [
        # SEC: 365 days = 1.0 year is on the 12-month boundary -> the longer bucket
        # (under 2 years) 1.5%; 200 days = 0.548 y -> under 9 months 0.75%; 60 days -> 0%.
        ("sec", "SEC", {"L1": 0.015, "L2": 0.0075, "L3": 0.0}),
        # CFTC: notes 1.0 y -> on the boundary of CME's "up to 1 year" bucket: 1%;
        # 0.548 y -> 1%; bills flat 0.5%.
        ("cftc", "CFTC", {"L1": 0.01, "L2": 0.01, "L3": 0.005}),
    ],
)
def test_treasury_haircuts_at_a_bucket_and_a_boundary(
    tmp_path: Path, rulebook: str, regime: str, rates: dict[str, float]
) -> None:
    kind = "margin" if regime == "SEC" else "futures"
    book = make_book(tmp_path, f"P1,ECHO,BDF1,{regime},{kind},customer,", "", TREASURY_LOTS)
    ev = run(book, rulebook)
    lots = ev.frames["lots"].set_index("lot_id")
    for lot, rate in rates.items():
        assert lots.loc[lot, "haircut_rate"] == pytest.approx(rate), lot
    assert decision(ev, "ms:P1")["value"] == pytest.approx(
        sum(100000 * (1 - r) for r in rates.values())
    )
    if rulebook == "sec":
        assert lots.loc["L1", "haircut_row"] == "under 2 years"


def test_harmonized_takes_the_more_conservative_haircut(tmp_path: Path) -> None:
    # UST_NOTE at 1.0 y: SEC 1.5% (the longer bucket) vs CME 1% (up to 1 year) -> 1.5%
    # (sec_treasuries wins); UST_BILL at 60 days: SEC 0% vs CFTC 0.5% -> 0.5%.
    book = make_book(tmp_path, "P1,ECHO,BDF1,SEC,margin,customer,", "", TREASURY_LOTS)
    lots = run(book, "harmonized").frames["lots"].set_index("lot_id")
    assert lots.loc["L1", "haircut_rate"] == pytest.approx(0.015)
    assert lots.loc["L1", "schedule"] == "sec_treasuries"
    assert lots.loc["L1", "candidates"] == "sec_treasuries=1.5%;cftc_treasuries=1.0%"
    assert lots.loc["L3", "haircut_rate"] == pytest.approx(0.005)


def test_segregation_breach_names_the_path(tmp_path: Path) -> None:
    # HOTEL's lot L2 is pledged to the house account H_BD1: customer collateral reaches a
    # house account (15c3-3). Both sets are in breach; figures are still computed.
    book = make_book(
        tmp_path,
        "H_BD1,BD1,BD1,SEC,margin,house,\nP1,HOTEL,BD1,SEC,margin,customer,",
        "P1,ABC,500",
        "L1,P1,USD,5000,,\nL2,P1,USD,20000,,H_BD1",
    )
    ev = run(book, "sec")
    d = decision(ev, "ms:P1")
    assert d["status"] == "breach" and d["segregation_violations"] == "sec_customer_collateral"
    seg = ev.frames["segregation"]
    assert set(seg["path"]) == {"P1 -> L2 -> H_BD1"}
    assert set(seg["margin_set_id"]) == {"ms:P1", "ms:H_BD1"}
    # 500 ABC x 50 x 25% = 6,250; value 5,000 + 25,000 (L2 margins H_BD1).
    assert (d["maintenance"], d["value"]) == (6250.0, 30000.0)


def test_out_of_scope_accounts_are_counted(tmp_path: Path) -> None:
    book = make_book(
        tmp_path,
        "P1,ALICE,BD1,SEC,margin,customer,\nF1,FOX,FCM1,CFTC,futures,customer,",
        "P1,ABC,10",
        "L1,P1,USD,1000,,",
    )
    ev = run(book, "sec")
    assert ev.out_of_scope == 1 and list(ev.decisions["margin_set_id"]) == ["ms:P1"]
    assert np.isnan(decision(ev, "ms:P1")["initial"])
