"""Reg T short index options whose own ``index_class`` cell is blank (book-format.md: the
column is optional). Figures worked out by hand in the docstrings."""

from __future__ import annotations

from pathlib import Path

import pytest
from _evaluate_books import decision, make_book, run

# A call on SPY (600, high-cap broad-based) struck at 620, premium 6, x 100: its own
# index_class blank (ICB) or narrow (ICN). HOTEL is a margin customer approved for covered
# options only, so every rulebook margins it by the strategy-based fallback.
INSTRUMENTS = (
    "ICB,index_option,SPY,,,100,6,2026-09-18,call,620,0.2,,\n"
    "ICN,index_option,SPY,,narrow,100,6,2026-09-18,call,620,0.2,,"
)
ACCOUNTS = "M1,HOTEL,BD1,SEC,margin,customer,\nM2,HOTEL,BD1,SEC,margin,customer,"


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
def test_an_index_option_with_a_blank_class_takes_its_underlyings(
    tmp_path: Path, rulebook: str
) -> None:
    """`short_index_option 15% at least 10%` for an option on a broad-based index: short 1
    ICB, SPY at 600: premium 600 + 15% x 60,000 - out of the money 2,000 = 7,600; floor
    600 + 10% x 60,000 = 6,600: 7,600. Before, the blank cell made it an equity option:
    600 + 20% x 60,000 - 2,000 = 10,600, though the scenario grid already shocks it at the
    underlying's +6%/-8% (decision 1). An option whose own cell says `narrow` keeps the
    equity rates (narrow-based index options take 20%): 10,600."""
    book = make_book(tmp_path, ACCOUNTS, "M1,ICB,-1\nM2,ICN,-1", "", INSTRUMENTS)
    ev = run(book, rulebook)
    assert decision(ev, "ms:M1")["maintenance"] == 7600.00
    assert decision(ev, "ms:M2")["maintenance"] == 10600.00
