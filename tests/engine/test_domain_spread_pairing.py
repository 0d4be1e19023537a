"""Spread pairing across expiries (docs/domain-decisions.md, decision 51): a short option is
paired with a long of the same type expiring at or after it (FINRA Rule 4210(f)(2)(G)); a
long the first pass matched to a short it cannot pair with (the short expires later) is
offered again to the shorts left, so a spread the account holds is not lost. A margin
account as of 2026-06-30; XYZ at 100, options x 100 (September 2026-09-18, December
2026-12-18). Figures worked out by hand in the docstrings (an independent hand check,
session 31)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _evaluate_books import make_book, run, strategy_rows

XYZ_C105 = "XYZ_C105_2609,equity_option,XYZ,XYZ,,100,5.00,2026-09-18,call,105,0.30,,"
XYZ_C110 = "XYZ_C110_2609,equity_option,XYZ,XYZ,,100,1.80,2026-09-18,call,110,0.30,,"
XYZ_C100_DEC = "XYZ_C100_2612,equity_option,XYZ,XYZ,,100,8.00,2026-12-18,call,100,0.30,,"
XYZ_P100_DEC = "XYZ_P100_2612,equity_option,XYZ,XYZ,,100,7.50,2026-12-18,put,100,0.30,,"
ACCOUNT = "M1,HOTEL,BD1,SEC,margin,customer,"
CASH = "L1,M1,USD,100000,,"


def _positions(tmp_path: Path, positions: str, rulebook: str = "sec") -> tuple[float, dict]:
    extra = "\n".join([XYZ_C105, XYZ_C110, XYZ_C100_DEC, XYZ_P100_DEC])
    book = make_book(tmp_path, ACCOUNT, positions, CASH, extra)
    return strategy_rows(run(book, rulebook))


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
def test_a_long_is_not_lost_to_a_short_it_cannot_pair_with(tmp_path: Path, rulebook: str) -> None:
    """Short 1 XYZ 100 call of December (8.00), short 1 XYZ 105 call of September (5.00),
    long 1 XYZ 100 call of September (5.60).

    The September pair is a debit call spread: (5.60 - 5.00) x 100 + 100 x max(100 - 105, 0)
    = 60. The December call has no long expiring at or after it: alone, 800 + 20% x 10,000 -
    0 = 2,800 (floor 800 + 1,000). 2,860. (Before: the long was matched to the December
    short in strike order, found too early, and left unpaired: 560 + 2,800 + the September
    call alone 500 + 2,000 - 500 OTM = 2,000: 5,360.)"""
    total, rows = _positions(
        tmp_path, "M1,XYZ_C100_2612,-1\nM1,XYZ_C105_2609,-1\nM1,XYZ_C100_2609,1", rulebook
    )
    assert total == pytest.approx(2860.0)
    assert rows["XYZ_C105_2609"]["strategy_row"] == "short_call_spread"
    assert rows["XYZ_C105_2609"]["requirement"] == pytest.approx(60.0)
    assert rows["XYZ_C100_2609"] == {"strategy_row": "long_option_spread", "requirement": 0.0}
    assert rows["XYZ_C100_2612"]["strategy_row"] == "short_call_uncovered"
    assert rows["XYZ_C100_2612"]["requirement"] == pytest.approx(2800.0)


def test_a_put_is_not_lost_either(tmp_path: Path) -> None:
    """Puts pair in descending strike order: short 1 XYZ 100 put of December (7.50), short 1
    XYZ 90 put of September (1.74), long 1 XYZ 100 put of September (5.60). The first pass
    matches the long to the December short (the higher strike first): too early. The
    September pair is a debit put spread: (5.60 - 1.74) x 100 + 100 x max(90 - 100, 0) = 386.
    The December put alone: 750 + 20% x 10,000 - 0 = 2,750 (floor 750 + 10% x 10,000). 3,136.
    (Before: 560 + 2,750 + the 90 put alone 174 + 2,000 - 1,000 = 1,174 (floor 174 + 900):
    4,484.)"""
    total, rows = _positions(
        tmp_path, "M1,XYZ_P100_2612,-1\nM1,XYZ_P90_2609,-1\nM1,XYZ_P100_2609,1"
    )
    assert total == pytest.approx(3136.0)
    assert rows["XYZ_P90_2609"]["strategy_row"] == "short_put_spread"


def test_pairs_the_first_pass_made_are_kept(tmp_path: Path) -> None:
    """Short 1 December 100 call, short 1 September 105 call, long 1 September 100 call and
    long 1 September 110 call: the first pass pairs the 105 with the 110 (a credit spread,
    (1.80 - 5.00) x 100 + 100 x (110 - 105) = 180) and finds the 100 call too early for the
    December short; the second pass has no long at or after December left: the 100 call is
    paid in full (560) and the December call alone (2,800): 3,540, unchanged. (Pairing the
    105 with the 100 instead, 60 + the 110 paid 180 + 2,800 = 3,040, would be cheaper: the
    passes keep a pair once made; docs/domain-decisions.md, "Not yet fixed".)"""
    total, _ = _positions(
        tmp_path,
        "M1,XYZ_C100_2612,-1\nM1,XYZ_C105_2609,-1\nM1,XYZ_C100_2609,1\nM1,XYZ_C110_2609,1",
    )
    assert total == pytest.approx(3540.0)
