"""Maturity bounds read on the calendar (docs/domain-decisions.md, row 46), by hand.

A bucket ``up to 1 year`` (CME's haircut schedule), ``under 12 months`` (15c3-1's), a
condition ``instrument.residual_maturity < 1 year`` (the strategy-based Treasury rows) and a
DV01 pairing bucket ``within 3 years`` are measured from the as-of date on the calendar:
``1 year`` reaches the same day a year later. ``residual_maturity`` is days / 365, so across
a 29 February one calendar year is 366 days, 1.0027 "years": a note maturing exactly one
year ahead fell in the next bucket. As of 2027-06-30 (29 February 2028 ahead): 1 year is
2028-06-30 (366 days), 3 years 2030-06-30 (1,096 days).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from _evaluate_books import decision, make_book, run

from marginlex.engine.book.load import Book, load_book
from marginlex.engine.evaluation import Evaluation

AS_OF = "2027-06-30"
# notes x 10 at 100.00: 100 of them are 100,000
NOTES = (
    "N_1Y,ust_note,,UST,,10,100.00,2028-06-30,,,,,\n"
    "N_1Y_LESS_A_DAY,ust_note,,UST,,10,100.00,2028-06-29,,,,,\n"
    "N_1Y_AND_A_DAY,ust_note,,UST,,10,100.00,2028-07-01,,,,,"
)


def _book(tmp_path: Path, accounts: str, positions: str, collateral: str) -> Book:
    make_book(tmp_path, accounts, positions, collateral, NOTES)
    folder = tmp_path / "book"
    meta = json.loads((folder / "book.json").read_text())
    meta["as_of"] = AS_OF
    (folder / "book.json").write_text(json.dumps(meta))
    return load_book(folder)


def _lots(ev: Evaluation) -> pd.Series:
    lots = ev.frames["lots"]
    return lots.set_index(lots["lot_id"].astype("str"))["value"]


@pytest.mark.parametrize(
    ("rulebook", "expected"),
    [
        ("cftc", {"L1": 99_000.0, "L2": 98_000.0, "L3": 98_000.0, "L4": 97_000.0}),
        # the more conservative of 15c3-1's and CME's: L1 SEC not under 12 months 1.5%
        # against CME's 1%: 98,500 (was CME's 2%, 98,000); L3 SEC not under 3 years 3%
        # against CME's 2%: 97,000 (unchanged); L2 2% (SEC 1.5%), L4 3% as before
        ("harmonized", {"L1": 98_500.0, "L2": 98_000.0, "L3": 97_000.0, "L4": 97_000.0}),
    ],
)
def test_a_note_maturing_exactly_one_calendar_year_ahead_is_in_the_up_to_1_year_bucket(
    tmp_path: Path, rulebook: str, expected: dict[str, float]
) -> None:
    """CME's schedule (`cftc_treasuries`: up to 1 year 1%, up to 3 years 2%, up to 5 years
    3%), a futures account, 100,000 of notes each:

    - L1 2028-06-30, 366 days, exactly 1 year: 1% -> 99,000 (was 366 / 365 = 1.0027 > 1:
      2%, 98,000);
    - L2 2028-07-01, 367 days: 2% -> 98,000 (unchanged);
    - L3 2030-06-30, 1,096 days, exactly 3 years: 2% -> 98,000 (was 3.0027 > 3: 3%,
      97,000);
    - L4 2030-07-01, 1,097 days: 3% -> 97,000 (unchanged).
    """
    book = _book(
        tmp_path,
        "F1,FOX,FCM1,CFTC,futures,customer,",
        "",
        "L1,F1,UST_NOTE,100000,2028-06-30,\nL2,F1,UST_NOTE,100000,2028-07-01,\n"
        "L3,F1,UST_NOTE,100000,2030-06-30,\nL4,F1,UST_NOTE,100000,2030-07-01,",
    )
    values = _lots(run(book, rulebook))
    assert values.to_dict() == pytest.approx(expected)


def test_the_sec_schedule_reads_under_12_months_on_the_calendar(tmp_path: Path) -> None:
    """15c3-1's schedule (`sec_treasuries`: under 12 months 1%, under 2 years 1.5%), a margin
    account, 100,000 of notes each:

    - 2028-06-29, 365 days, a day short of a year: under 12 months, 1% -> 99,000 (was 365 /
      365 = 1.0, not under 1: 1.5%, 98,500);
    - 2028-06-30, 366 days, exactly a year: not under 12 months, 1.5% -> 98,500
      (unchanged).
    """
    book = _book(
        tmp_path,
        "M1,HOTEL,BD1,SEC,margin,customer,",
        "",
        "L1,M1,UST_NOTE,100000,2028-06-29,\nL2,M1,UST_NOTE,100000,2028-06-30,",
    )
    values = _lots(run(book, "sec"))
    assert values.to_dict() == pytest.approx({"L1": 99_000.0, "L2": 98_500.0})


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
def test_the_strategy_based_treasury_rows_read_less_than_1_year_on_the_calendar(
    tmp_path: Path, rulebook: str
) -> None:
    """`sec_strategy_based`: `instrument.residual_maturity < 1 year 1%`, then `< 3 years
    2%`. Long 100 notes (100 x 10 x 100 = 100,000) in a margin account:

    - maturing 2028-06-29 (365 days, a day short of a year): 1% -> 1,000 (was 365 / 365 =
      1.0, not < 1: 2%, 2,000);
    - maturing 2028-06-30 (exactly a year): 2% -> 2,000 (unchanged);
    - maturing 2028-07-01: 2% -> 2,000.
    """
    for number, (note, charge) in enumerate(
        [("N_1Y_LESS_A_DAY", 1_000.0), ("N_1Y", 2_000.0), ("N_1Y_AND_A_DAY", 2_000.0)]
    ):
        folder = tmp_path / str(number)
        book = _book(
            folder, "M1,HOTEL,BD1,SEC,margin,customer,", f"M1,{note},100", "L1,M1,USD,200000,,"
        )
        d = decision(run(book, rulebook), "ms:M1")
        assert float(d["maintenance"]) == pytest.approx(charge), note


def test_a_dv01_pairing_bucket_within_3_years_reaches_the_same_day_three_years_on(
    tmp_path: Path,
) -> None:
    """`cftc_cme_ficc_pairing`: bucket short within 3 years. Short 10 futures on a note
    maturing 2029-06-29 (the short bucket either way) against 1,000 notes maturing
    2030-06-30, exactly 3 years after the as-of date (1,096 days): in the short bucket, so
    the pair is `short with short` at 80% (was 1,096 / 365 = 3.0027 > 3: the intermediate
    bucket, `short with intermediate` at 50%)."""
    extra = (
        "T29,ust_note,,UST_2Y,,10,100.00,2029-06-29,,,,,0.19\n"
        "T30,ust_note,,UST_3Y,,10,100.00,2030-06-30,,,,,0.28\n"
        "ZT7,ust_future,T29,UST_2Y,,2000,104.00,2027-09-30,,,,0.005,38.0"
    )
    make_book(
        tmp_path,
        "X1,ECHO,BDF1,CFTC,cross_margin,customer,cross_margin\nS1,ECHO,BDF1,SEC,margin,customer,",
        "X1,ZT7,-10\nS1,T30,1000",
        "L1,X1,USD,1000000,,",
        extra,
    )
    folder = tmp_path / "book"
    meta = json.loads((folder / "book.json").read_text())
    meta["as_of"] = AS_OF
    (folder / "book.json").write_text(json.dumps(meta))
    ev = run(load_book(folder), "cftc")
    offsets = ev.frames["offsets"]
    pairs = offsets[offsets["rule_id"].astype("str") == "cftc_cme_ficc_pairing"]
    assert pairs["product_group"].astype("str").tolist() == ["CME short with FICC short"]
