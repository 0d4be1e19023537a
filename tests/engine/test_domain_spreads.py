"""Issue 14, section 5: the strategy-based fallback recognises option spreads (FINRA Rule
4210(f)(2)(G)). A margin account of a broker-dealer customer, as of 2026-06-30; XYZ at 100,
options x 100. Figures worked out by hand in the docstrings."""

from __future__ import annotations

from pathlib import Path

import pytest
from _evaluate_books import make_book, run, strategy_rows

XYZ_C110 = "XYZ_C110_2609,equity_option,XYZ,XYZ,,100,1.80,2026-09-18,call,110,0.30,,"
XYZ_C110_EARLY = "XYZ_C110_2608,equity_option,XYZ,XYZ,,100,1.80,2026-08-21,call,110,0.30,,"
ACCOUNT = "M1,HOTEL,BD1,SEC,margin,customer,"
CASH = "L1,M1,USD,100000,,"


def _positions(tmp_path: Path, positions: str, rulebook: str = "sec") -> tuple[float, dict]:
    book = make_book(tmp_path, ACCOUNT, positions, CASH, XYZ_C110 + "\n" + XYZ_C110_EARLY)
    return strategy_rows(run(book, rulebook))


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
def test_a_debit_call_spread_is_charged_its_net_debit(tmp_path: Path, rulebook: str) -> None:
    """Long 10 XYZ 100 calls at 5.60, short 10 XYZ 110 calls at 1.80, same expiry.

    Alone: the long 100% = 10 x 100 x 5.60 = 5,600; the short uncovered = premium 1,800 +
    20% x 100,000 - out of the money (110 - 100) x 1,000 = 11,800 (floor 1,800 + 10,000 =
    11,800): 17,400. As a spread, its maximum loss: (5.60 - 1.80) x 100 = 380 per contract
    + 100 x max(100 - 110, 0) = 0, x 10 = 3,800, the net debit.
    """
    total, rows = _positions(tmp_path, "M1,XYZ_C100_2609,10\nM1,XYZ_C110_2609,-10", rulebook)
    assert total == 3800.0
    assert rows["XYZ_C100_2609"] == {"strategy_row": "long_option_spread", "requirement": 0.0}
    assert rows["XYZ_C110_2609"]["strategy_row"] == "short_call_spread"
    assert rows["XYZ_C110_2609"]["requirement"] == pytest.approx(3800.0)


def test_a_credit_call_spread_is_charged_the_strike_difference_less_the_credit(
    tmp_path: Path,
) -> None:
    """Short 10 XYZ 100 calls at 5.60, long 10 XYZ 110 calls at 1.80: maximum loss per
    contract (1.80 - 5.60) x 100 + 100 x (110 - 100) = -380 + 1,000 = 620; x 10 = 6,200
    (the strike difference 10,000 less the net credit 3,800). Alone: 25,600 + 1,800."""
    total, _ = _positions(tmp_path, "M1,XYZ_C100_2609,-10\nM1,XYZ_C110_2609,10")
    assert total == 6200.0


def test_a_put_spread_and_a_partly_paired_short(tmp_path: Path) -> None:
    """Long 5 XYZ 100 puts at 5.60, short 10 XYZ 90 puts at 1.74 (a debit put spread on 5).

    5 pairs: (5.60 - 1.74) x 100 = 386 per contract + 100 x max(90 - 100, 0) = 0: 1,930.
    The other 5 shorts alone: premium 870 + 20% x 50,000 - OTM (100 - 90) x 500 = 5,870,
    floor 870 + 10% x 90 x 500 = 5,370: 5,870. Total 7,800."""
    total, rows = _positions(tmp_path, "M1,XYZ_P100_2609,5\nM1,XYZ_P90_2609,-10")
    assert total == pytest.approx(7800.0)
    assert rows["XYZ_P90_2609"]["strategy_row"] == "short_put_spread"


def test_a_long_expiring_before_the_short_is_no_spread(tmp_path: Path) -> None:
    """Long 10 XYZ 110 calls expiring 2026-08-21, short 10 XYZ 100 calls expiring
    2026-09-18: the long expires first, so no spread: 1,800 (long) + 25,600 (short alone:
    premium 5,600 + 20,000, nothing out of the money) = 27,400."""
    total, rows = _positions(tmp_path, "M1,XYZ_C110_2608,10\nM1,XYZ_C100_2609,-10")
    assert total == 27400.0
    assert rows["XYZ_C100_2609"]["strategy_row"] == "short_call_uncovered"
