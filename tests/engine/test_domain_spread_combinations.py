"""A call credit spread and a put credit spread on one underlying, their shorts expiring
together (a short iron butterfly or condor, a short box), are charged together their
combination's maximum loss, not the two spreads' maximum losses added (docs/domain-decisions.md,
strategy-based combinations). A margin account of a broker-dealer customer, as of
2026-06-30; XYZ at 100, options x 100, every option expiring 2026-09-18 unless named 2608.
Figures worked out by hand in the docstrings, before the engine was run."""

from __future__ import annotations

from pathlib import Path

import pytest
from _evaluate_books import decision, make_book, run, strategy_rows

EXTRA = "\n".join(
    [
        "XYZ_C110_2609,equity_option,XYZ,XYZ,,100,1.80,2026-09-18,call,110,0.30,,",
        "XYZ_C120_2609,equity_option,XYZ,XYZ,,100,0.50,2026-09-18,call,120,0.30,,",
        "XYZ_P80_2609,equity_option,XYZ,XYZ,,100,0.40,2026-09-18,put,80,0.30,,",
        "XYZ_P110_2609,equity_option,XYZ,XYZ,,100,11.50,2026-09-18,put,110,0.30,,",
        "XYZ_C110_2608,equity_option,XYZ,XYZ,,100,1.60,2026-08-21,call,110,0.30,,",
        "XYZ_C120_2608,equity_option,XYZ,XYZ,,100,0.40,2026-08-21,call,120,0.30,,",
    ]
)
ACCOUNT = "M1,HOTEL,BD1,SEC,margin,customer,"
CASH = "L1,M1,USD,100000,,"


def _run(tmp_path: Path, positions: str, rulebook: str = "sec") -> tuple[float, dict]:
    book = make_book(tmp_path, ACCOUNT, positions, CASH, EXTRA)
    return strategy_rows(run(book, rulebook))


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
def test_a_short_iron_butterfly_is_charged_one_side(tmp_path: Path, rulebook: str) -> None:
    """Short 1 XYZ 100 call (5.60) and 1 XYZ 100 put (5.60), long 1 XYZ 110 call (1.80) and
    1 XYZ 90 put (1.74).

    Apart: the call spread (1.80 - 5.60) x 100 + 100 x (110 - 100) = -380 + 1,000 = 620; the
    put spread (1.74 - 5.60) x 100 + 100 x (100 - 90) = -386 + 1,000 = 614: 1,234 (before).
    Together: the underlying ends below 100 or above it, so one spread at most loses its 10
    points: net marks (1.80 - 5.60 + 1.74 - 5.60) x 100 = -766, plus 100 x 10 = 1,000: 234
    (the wider side, 1,000, less both credits, 380 + 386). The call spread's own charge is
    the greater (620 > 614), so its short carries 234 and the short put 0.
    """
    total, rows = _run(
        tmp_path,
        "M1,XYZ_C100_2609,-1\nM1,XYZ_C110_2609,1\nM1,XYZ_P100_2609,-1\nM1,XYZ_P90_2609,1",
        rulebook,
    )
    assert total == pytest.approx(234.0)
    assert rows["XYZ_C100_2609"]["strategy_row"] == "short_call_spread_combined"
    assert rows["XYZ_C100_2609"]["requirement"] == pytest.approx(234.0)
    assert rows["XYZ_P100_2609"]["strategy_row"] == "short_put_spread_combined"
    assert rows["XYZ_P100_2609"]["requirement"] == pytest.approx(0.0)
    assert rows["XYZ_C110_2609"] == {"strategy_row": "long_option_spread", "requirement": 0.0}


def test_an_iron_condor_of_unequal_widths_is_charged_its_wider_side(tmp_path: Path) -> None:
    """Short 2 XYZ 100 puts (5.60), long 2 XYZ 80 puts (0.40): 20 points wide; short 2 XYZ
    110 calls (1.80), long 2 XYZ 120 calls (0.50): 10 points wide.

    Apart, per contract: the put spread (0.40 - 5.60) x 100 + 100 x 20 = -520 + 2,000 =
    1,480; the call spread (0.50 - 1.80) x 100 + 100 x 10 = -130 + 1,000 = 870; x 2 = 4,700
    (before). Together: the short put is below the short call (100 < 110), so only one side
    can lose: the wider 2,000 + net marks (-520 - 130) = 1,350 a pair, x 2 = 2,700, carried
    by the short put (1,480 > 870).
    """
    total, rows = _run(
        tmp_path,
        "M1,XYZ_P100_2609,-2\nM1,XYZ_P80_2609,2\nM1,XYZ_C110_2609,-2\nM1,XYZ_C120_2609,2",
    )
    assert total == pytest.approx(2700.0)
    assert rows["XYZ_P100_2609"]["requirement"] == pytest.approx(2700.0)
    assert rows["XYZ_C110_2609"]["requirement"] == pytest.approx(0.0)


def test_a_short_box_is_charged_its_width_less_both_credits(tmp_path: Path) -> None:
    """Short 1 XYZ 100 call (5.60), long 1 XYZ 110 call (1.80); short 1 XYZ 110 put (11.50),
    long 1 XYZ 100 put (5.60).

    Apart: the call spread -380 + 1,000 = 620; the put spread (5.60 - 11.50) x 100 + 100 x
    (110 - 100) = -590 + 1,000 = 410: 1,030 (before: twice the width less the credits).
    Together: at expiry the box is worth -10 points at every price (at 100: call spread 0,
    put spread -10; at 110: call spread -10, put spread 0), so its maximum loss is net marks
    (1.80 - 5.60 + 5.60 - 11.50) x 100 = -970 plus 1,000: 30.
    """
    total, rows = _run(
        tmp_path,
        "M1,XYZ_C100_2609,-1\nM1,XYZ_C110_2609,1\nM1,XYZ_P110_2609,-1\nM1,XYZ_P100_2609,1",
    )
    assert total == pytest.approx(30.0)
    assert rows["XYZ_C100_2609"]["strategy_row"] == "short_call_spread_combined"


def test_a_long_box_stays_two_debit_spreads(tmp_path: Path) -> None:
    """Long 1 XYZ 100 call (5.60), short 1 XYZ 110 call (1.80); long 1 XYZ 110 put (11.50),
    short 1 XYZ 100 put (5.60): two debit spreads, each its net debit, (5.60 - 1.80) x 100 =
    380 and (11.50 - 5.60) x 100 = 590: 970, as before (its legs are paid in full; the box's
    sure value at expiry lends nothing)."""
    total, rows = _run(
        tmp_path,
        "M1,XYZ_C100_2609,1\nM1,XYZ_C110_2609,-1\nM1,XYZ_P110_2609,1\nM1,XYZ_P100_2609,-1",
    )
    assert total == pytest.approx(970.0)
    assert rows["XYZ_C110_2609"]["strategy_row"] == "short_call_spread"
    assert rows["XYZ_P100_2609"]["strategy_row"] == "short_put_spread"


def test_spreads_whose_shorts_expire_apart_are_charged_apart(tmp_path: Path) -> None:
    """Short 1 XYZ 100 put (5.60), long 1 XYZ 90 put (1.74), expiring 2026-09-18: 614;
    short 1 XYZ 110 call expiring 2026-08-21 (1.60), long 1 XYZ 120 call the same day (0.40):
    (0.40 - 1.60) x 100 + 1,000 = 880. The call spread can lose in August and the put spread
    in September: both, 1,494."""
    total, _ = _run(
        tmp_path,
        "M1,XYZ_P100_2609,-1\nM1,XYZ_P90_2609,1\nM1,XYZ_C110_2608,-1\nM1,XYZ_C120_2608,1",
    )
    assert total == pytest.approx(1494.0)


def test_only_the_paired_contracts_combine(tmp_path: Path) -> None:
    """The iron butterfly above with 3 put spreads (short 3 XYZ 100 puts, long 3 XYZ 90
    puts) against 1 call spread: one put spread combines with the call spread (234), the two
    others are charged apart, 2 x 614 = 1,228: 1,462 (before 620 + 3 x 614 = 2,462)."""
    total, rows = _run(
        tmp_path,
        "M1,XYZ_C100_2609,-1\nM1,XYZ_C110_2609,1\nM1,XYZ_P100_2609,-3\nM1,XYZ_P90_2609,3",
    )
    assert total == pytest.approx(1462.0)
    assert rows["XYZ_P100_2609"]["requirement"] == pytest.approx(1228.0)


def test_a_cash_account_holds_the_iron_butterflys_one_side(tmp_path: Path) -> None:
    """The iron butterfly in a cash account (sec_cash_account's option_spread 100%): the
    spreads' charges are their maximum losses as in a margin account (620 and 614, each less
    than its legs held in cash), so together 234 (was 1,234)."""
    book = make_book(
        tmp_path,
        "C1,HOTEL,BD1,SEC,cash,customer,",
        "C1,XYZ_C100_2609,-1\nC1,XYZ_C110_2609,1\nC1,XYZ_P100_2609,-1\nC1,XYZ_P90_2609,1",
        "L1,C1,USD,100000,,",
        EXTRA,
    )
    assert float(decision(run(book, "sec"), "ms:C1")["maintenance"]) == pytest.approx(234.0)
