"""Issue 14, section 5: the range a class group is scanned at. Each expected figure is worked
out by hand in the test's docstring (Black-Scholes at rate 0 by the scalar helper)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _evaluate_books import bs, decision, make_book, run

# An option on the ES future: no index class of its own, class group left blank (its
# underlying's, SPX). 2026-06-30 to 2026-09-18 is 80 days.
ES_CALL = "ES_C6000_2609,index_option,ES_2609,,,50,150.00,2026-09-18,call,6000,0.16,,"
T = 80 / 365
PM_ACCOUNT = "P1,ALICE,BD1,SEC,portfolio_margin,customer,portfolio_margin"
CASH = "L1,P1,USD,1000000,,"


def test_option_on_a_future_is_scanned_at_its_future_range(tmp_path: Path) -> None:
    """Short 1 ES call, strike 6,000, vol 16%, 80 days, on ES at 6,000 (high-cap broad).

    The option moves with its underlying future: +6% / -8% (FINRA 4210(g)(2)(F)(i)(a)), not
    the `otherwise` 15%. The worst point of a short call is the largest rise, +6%:
      BS(6,000) = 179.26 and BS(6,360) = 417.80 per unit,
      loss = (417.80 - 179.26) x 50 = 11,927.08 (at +15%, BS(6,900) = 905.82: 36,327.93);
      minimum = 0.375 x 50 x 1 = 18.75, so the loss is the requirement.
    """
    book = make_book(tmp_path, PM_ACCOUNT, "P1,ES_C6000_2609,-1", CASH, ES_CALL)
    ev = run(book, "sec")
    cg = ev.frames["class_groups"].set_index("class_group").loc["SPX"]
    assert (cg["range_up"], cg["range_down"]) == (pytest.approx(0.06), pytest.approx(0.08))
    expected = (bs(6360, 6000, T, 0.16, True) - bs(6000, 6000, T, 0.16, True)) * 50
    assert expected == pytest.approx(11927.08, abs=0.01)
    assert decision(ev, "ms:P1")["maintenance"] == pytest.approx(round(expected, 2), abs=0.01)


def test_span_scans_an_option_on_a_future_at_the_future_scan_range(tmp_path: Path) -> None:
    """The same call in a CFTC futures account: the ES future's own scan range (0.07 in the
    book, from the clearing organisation's file) moves the option, not the table's 15%."""
    book = make_book(
        tmp_path,
        "F1,FOX,FCM1,CFTC,futures,customer,",
        "F1,ES_C6000_2609,-1",
        CASH.replace("P1", "F1"),
        ES_CALL,
    )
    ev = run(book, "cftc")
    pos = ev.frames["positions"].set_index("instrument_id").loc["ES_C6000_2609"]
    assert pos["range_up"] == pytest.approx(0.07)


# QQQ-like ETF on a broad index and a future in its class group that the book gives no
# index class.
BROAD = "QQQ,etf,,QQQ,broad,1,500.00,,,,,,\nNQ_2609,index_future,,QQQ,,20,2000.00,2026-09-18,,,,,"


def test_a_class_group_takes_one_range_not_its_widest_row(tmp_path: Path) -> None:
    """Long 1,000 QQQ at 500 (500,000) and short 10 NQ x 20 at 2,000 (-400,000): net
    +100,000 in class group QQQ, a broad index: +/-10% (FINRA 4210(g)(2)(F)(i)(b)).

    Worst point -10%: loss = 100,000 x 10% = 10,000; minimum = 0.375 x 20 x 10 = 75;
    requirement 10,000. (Taking the widest row, the future's `otherwise` 15%, gave 15,000.)
    """
    book = make_book(tmp_path, PM_ACCOUNT, "P1,QQQ,1000\nP1,NQ_2609,-10", CASH, BROAD)
    ev = run(book, "sec")
    cg = ev.frames["class_groups"].set_index("class_group").loc["QQQ"]
    assert (cg["range_up"], cg["range_down"]) == (pytest.approx(0.10), pytest.approx(0.10))
    assert cg["loss"] == pytest.approx(10000.0)
    assert decision(ev, "ms:P1")["maintenance"] == 10000.0
