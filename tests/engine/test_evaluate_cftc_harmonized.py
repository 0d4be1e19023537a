"""CFTC and harmonized rulebooks end to end on small hand-made books.

Demo instruments (as of 2026-06-30): ES_2609 index future, 6,000 x 50, own scan range 7%;
ZN_2609 Treasury future 110.50 x 1,000, own scan range 2%; UST_2035_08 Treasury note
98.50 x 10 (class group UST_10Y, like ZN); SPY 600 (class group SPY, its own; ES is SPX).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _evaluate_books import bs, decision, make_book, run

DELTA = """
P1,DELTA,BDF1,SEC,portfolio_margin,customer,portfolio_margin;cross_margin;subordination
F1,DELTA,BDF1,CFTC,futures,customer,cross_margin;subordination
"""
DELTA_POSITIONS = "P1,SPY,10000\nF1,ES_2609,-20"
DELTA_LOTS = "L1,P1,USD,1000000,,\nL2,F1,USD,500000,,"


def test_span_extreme_move_counts_a_third(tmp_path: Path) -> None:
    # 10 short XYZ 130 calls expiring 2026-07-10 (10 days), vol 10%: deep out of the money.
    # Scan range: no instrument range, product equity_option -> `otherwise 15%`.
    # Scenarios 1-14 move at most +15% (S = 115), worth ~0.04 even with vol +25%; the
    # extreme move +3 x 15% (S = 145, vol unchanged) costs (BS(145) - BS(100)) x 1,000
    # = ~15.00 x 1,000, of which 33% counts: 4,950.00. Short option minimum 0.375 x 100
    # x 10 = 375 does not bind.
    book = make_book(
        tmp_path,
        "F1,FOX,FCM1,CFTC,futures,customer,",
        "F1,XYZ_C130_2607,-10",
        "L1,F1,USD,100000,,",
        "XYZ_C130_2607,equity_option,XYZ,XYZ,,100,0.01,2026-07-10,call,130,0.10,,",
    )
    ev = run(book, "cftc")
    cg = ev.frames["class_groups"].iloc[0]
    t = 10 / 365
    expected = 0.33 * 1000 * (bs(145, 130, t, 0.10, True) - bs(100, 130, t, 0.10, True))
    assert expected == pytest.approx(4950.0, abs=0.01)
    assert cg["worst_point"] == 14  # scenario 15: +3 scan ranges
    assert cg["loss"] == pytest.approx(expected, abs=1e-6)
    d = decision(ev, "ms:F1")
    assert d["maintenance"] == 4950.0 and d["initial"] == 5445.0  # 110%


def test_digital_assets_over_their_cap(tmp_path: Path) -> None:
    # ES 10 long: 10 x 50 x 6,000 x 7% = 210,000 (the extreme move 3 x 0.33 = 0.99 of it
    # is smaller). BTC 150,000 x 80% = 120,000 and ETH 60,000 x 80% = 48,000: 168,000 of
    # digital assets, capped at 40% of the initial requirement, 40% x 231,000 = 92,400 (issue
    # 14's decision; 110% x 210,000 = 231,000). Value 60,000 + 92,400 = 152,400, below
    # maintenance: the call restores initial, 231,000 - 152,400 = 78,600.
    book = make_book(
        tmp_path,
        "F1,FOX,FCM1,CFTC,futures,customer,",
        "F1,ES_2609,10",
        "L1,F1,USD,60000,,\nL2,F1,BTC,150000,,\nL3,F1,ETH,60000,,",
    )
    ev = run(book, "cftc")
    d = decision(ev, "ms:F1")
    assert (d["maintenance"], d["value"], d["call"], d["status"]) == (
        210000.0,
        152400.0,
        78600.0,
        "call",
    )
    lots = ev.frames["lots"].set_index("lot_id")
    assert lots.loc["L2", "value_after_haircut"] == 120000.0
    assert lots.loc["L2", "cap_rule_id"] == "cftc_digital_cap"
    assert lots.loc["L2", "cap_scale"] == pytest.approx(92400 / 168000)


def test_digital_asset_outside_the_pilot_counts_nothing(tmp_path: Path) -> None:
    # SOL is not BTC, ETH or USDC: ineligible, valued 0, with the rulebook's reason.
    book = make_book(
        tmp_path,
        "F1,GOLF,FCM1,CFTC,futures,customer,",
        "F1,ES_2609,2",
        "L1,F1,USD,10000,,\nL2,F1,SOL,60000,,",
    )
    ev = run(book, "cftc")
    lot = ev.frames["lots"].set_index("lot_id").loc["L2"]
    assert lot["value"] == 0.0 and lot["status"] == "not_in_schedule"
    assert lot["reason"] == "outside the CFTC digital asset collateral pilot"
    # 2 x 50 x 6,000 x 7% = 42,000 against 10,000: the call restores initial,
    # 110% x 42,000 - 10,000 = 36,200.
    assert decision(ev, "ms:F1")["call"] == 36200.0


def test_cross_regime_hedge_nets_only_under_harmonized(tmp_path: Path) -> None:
    # SPY 10,000 x 600 = +6,000,000 (SEC account); ES -20 x 50 x 6,000 = -6,000,000 (CFTC
    # account), same owner, same bd_fcm. An ETF and the index it tracks are different
    # underlyings: class groups SPY (its own) and SPX, one product group (high-cap broad).
    book = make_book(tmp_path, DELTA, DELTA_POSITIONS, DELTA_LOTS)
    # SEC: the SPY account alone, -8% x 6,000,000 = 480,000.
    assert decision(run(book, "sec"), "ms:P1")["maintenance"] == 480000.0
    # CFTC: the ES account alone, 7% x 6,000,000 = 420,000; initial 110% = 462,000.
    cftc = decision(run(book, "cftc"), "ms:F1")
    assert (cftc["maintenance"], cftc["initial"]) == (420000.0, 462000.0)
    # Harmonized: one margin set, +6%/-8% on both class groups, offset at the product-group
    # credit of 90% (not netted 100% as one class group, which left the 375 minimum):
    #   -8%: SPY loses 480,000, ES gains 480,000: 480,000 - 90% x 480,000 = 48,000
    #   +6%: ES loses 360,000, SPY gains 360,000: 360,000 - 90% x 360,000 = 36,000
    # requirement = max(48,000, minimums 0.375 x 50 x 20 = 375) = 48,000.
    ev = run(book, "harmonized")
    d = decision(ev, "ms:F1")
    assert d["account_ids"] == "F1;P1" and d["maintenance"] == 48000.0
    assert d["value"] == 1500000.0 + 6000000.0  # futures count 0
    edges = ev.frames["set_edges"]
    assert edges.iloc[0]["rule_id"] == "sec_margin_sets"


def test_treasury_cross_margin_takes_in_cash_treasuries(tmp_path: Path) -> None:
    # ECHO's futures account (eligible: customer, cross_margin kind, BDF1 is a bd_fcm
    # member of FICC and CME, agreement signed) takes in the same owner's 5,000 notes held
    # in its SEC account at BDF1. Each clearing house scans its side, 2% (ZN's own; notes by
    # the table): CME ZN -57 x 1,000 x 110.50 x 2% = 125,970; FICC notes 5,000 x 10 x 98.50
    # x 2% = 98,500; the DV01 pairing (3,990 of 4,000 at 80%) leaves 25,194 + 19,897 =
    # 45,091 (27,470 netted in one class group).
    book = make_book(
        tmp_path,
        "X1,ECHO,BDF1,CFTC,cross_margin,customer,cross_margin\n"
        "S1,ECHO,BDF1,SEC,margin,customer,cross_margin",
        "X1,ZN_2609,-57\nS1,UST_2035_08,5000",
        "L1,X1,USD,300000,,",
    )
    ev = run(book, "cftc")
    d = decision(ev, "ms:X1")
    assert d["eligible"] and d["takes_in_from"] == "S1"
    assert d["maintenance"] == 45091.0
    assert d["value"] == 300000.0 + 4925000.0
    pos = ev.frames["positions"].set_index("instrument_id")
    assert pos.loc["UST_2035_08", "joined_by"] == "cftc_cross_margin_sets"
    assert pos.loc["UST_2035_08", "margin_set_id"] == "ms:X1"
    assert ev.out_of_scope == 1  # S1 is an SEC account


def test_cross_margin_needs_a_dual_registrant(tmp_path: Path) -> None:
    book = make_book(
        tmp_path,
        "F1,FOX,FCM1,CFTC,futures,customer,cross_margin",
        "F1,ZN_2609,-1",
        "L1,F1,USD,10000,,",
    )
    ev = run(book, "cftc")
    elig = ev.frames["eligibility"].set_index("requirement")
    assert not elig.loc["dual_registrant", "passed"]
    assert elig.loc["dual_registrant", "tested_value"] == "fcm"
    assert not elig.loc["clearing_agency_member", "passed"]
    assert elig.loc["dco_member", "passed"]
