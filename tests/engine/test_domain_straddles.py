"""Short straddles and strangles in the strategy-based fallback (FINRA Rule 4210(f)(2)(G)):
a short call and a short put on one underlying are charged the greater leg's uncovered
requirement plus the other leg's premium. A margin account of a broker-dealer customer, as
of 2026-06-30; XYZ at 100, options x 100. Figures worked out by hand in the docstrings."""

from __future__ import annotations

from pathlib import Path

import pytest
from _evaluate_books import make_book, run, strategy_rows

XYZ_C110 = "XYZ_C110_2609,equity_option,XYZ,XYZ,,100,1.80,2026-09-18,call,110,0.30,,"
ACCOUNT = "M1,HOTEL,BD1,SEC,margin,customer,"
CASH = "L1,M1,USD,100000,,"


def _positions(tmp_path: Path, positions: str, rulebook: str = "sec") -> tuple[float, dict]:
    book = make_book(tmp_path, ACCOUNT, positions, CASH, XYZ_C110)
    return strategy_rows(run(book, rulebook))


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
def test_a_short_straddle_is_the_greater_leg_plus_the_other_premium(
    tmp_path: Path, rulebook: str
) -> None:
    """Short 1 XYZ 100 call and 1 XYZ 100 put, both at 5.60 (the reviewer's S_STRADDLE).

    Each alone: premium 560 + 20% x 10,000 - out of the money 0 = 2,560 (floor 560 + 10% x
    10,000 = 1,560): 5,120 for both. As a straddle: the greater, 2,560 (the call's, a tie),
    plus the put's premium 560 = 3,120.
    """
    total, rows = _positions(tmp_path, "M1,XYZ_C100_2609,-1\nM1,XYZ_P100_2609,-1", rulebook)
    assert total == pytest.approx(3120.0)
    assert rows["XYZ_C100_2609"] == {"strategy_row": "short_call_straddle", "requirement": 2560.0}
    assert rows["XYZ_P100_2609"]["strategy_row"] == "short_put_straddle"
    assert rows["XYZ_P100_2609"]["requirement"] == pytest.approx(560.0)


def test_a_strangle_pairs_contract_for_contract(tmp_path: Path) -> None:
    """Short 2 XYZ 110 calls at 1.80 and 1 XYZ 90 put at 1.74.

    A call alone: 180 + 2,000 - (110 - 100) x 100 = 1,180 (floor 180 + 1,000 = 1,180); the
    put alone: 174 + 2,000 - (100 - 90) x 100 = 1,174 (floor 174 + 10% x 9,000 = 1,074).
    One pair: the call's 1,180 is the greater, plus the put's premium 174 = 1,354; the
    second call alone 1,180. Total 2,534 (alone: 2 x 1,180 + 1,174 = 3,534).
    """
    total, rows = _positions(tmp_path, "M1,XYZ_C110_2609,-2\nM1,XYZ_P90_2609,-1")
    assert total == pytest.approx(2534.0)
    assert rows["XYZ_C110_2609"]["requirement"] == pytest.approx(2360.0)
    assert rows["XYZ_P90_2609"]["requirement"] == pytest.approx(174.0)


def test_a_covered_call_does_not_pair_with_a_put(tmp_path: Path) -> None:
    """Long 100 XYZ covers the short 100 call (charged 0); the stock 25% x 10,000 = 2,500;
    the short 100 put has no short call left to pair with: alone 2,560. Total 5,060."""
    total, rows = _positions(tmp_path, "M1,XYZ,100\nM1,XYZ_C100_2609,-1\nM1,XYZ_P100_2609,-1")
    assert total == pytest.approx(5060.0)
    assert rows["XYZ_P100_2609"]["strategy_row"] == "short_put_uncovered"
