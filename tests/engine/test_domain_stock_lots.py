"""A collateral lot of stock held in a margin account covers a short call on that stock, as
a long position does (12 CFR 220.4(b)(4)(ii): "When a security held in the account serves
in lieu of the required margin for a short call, the security shall be valued at no greater
than the exercise price of the short call"; docs/domain-decisions.md, row 41). The lot must
name its stock (`instrument_id`, an optional collateral column). The demo book as of
2026-06-30: XYZ at 100, ABC at 50, options x 100. Figures by hand in the docstrings, before
the engine was run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _evaluate_books import ACCOUNTS_HEADER, decision, make_book, run

from marginlex.engine.book.load import load_book
from marginlex.engine.distributed.changed import changed_accounts, cut_book

HEADER = "lot_id,account_id,asset,market_value,maturity,pledged_to,instrument_id\n"


def _run(tmp_path: Path, accounts: str, positions: str, lots: str, rulebook: str = "sec"):
    make_book(tmp_path, accounts, positions, "L0,M1,USD,0,,", accounts_header=ACCOUNTS_HEADER)
    folder = tmp_path / "book"
    (folder / "collateral.csv").write_text(HEADER + lots.strip() + "\n")
    ev = run(load_book(folder), rulebook)
    rows = ev.frames["positions"].set_index("instrument_id")
    return ev, rows


MARGIN = "M1,ALICE,BD1,SEC,margin,customer,"


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
def test_a_stock_lot_covers_a_short_call(tmp_path: Path, rulebook: str) -> None:
    """A 10,000 lot of XYZ (100 shares at 100) and short 1 XYZ 100 call (5.60), 5,000 cash.

    Uncovered (the old figure): 560 + 20% x 10,000 - 0 = 2,560. Covered by the lot's 100
    shares: 0, row `short_call_covered_by_collateral`. The lot keeps its 15% haircut in the
    value under sec: 5,000 + 8,500 - 560 = 12,940; harmonized refuses a stock lot (the CFTC
    schedules accept none: decision 6), so it lends nothing there, 5,000 - 560 = 4,440, but
    it is still held in the account and delivers the call.
    """
    ev, rows = _run(
        tmp_path,
        MARGIN,
        "M1,XYZ_C100_2609,-1",
        "L1,M1,USD,5000,,,\nL2,M1,STOCK,10000,,,XYZ",
        rulebook,
    )
    d = decision(ev, "ms:M1")
    assert float(d["maintenance"]) == 0.0
    assert float(d["value"]) == pytest.approx(12_940.0 if rulebook == "sec" else 4_440.0)
    assert rows.loc["XYZ_C100_2609", "strategy_row"] == "short_call_covered_by_collateral"


@pytest.mark.parametrize(
    ("lots", "maintenance", "row"),
    [
        # 150 shares against 2 calls: one covered, the other 2,560 (whole deliverables)
        ("L2,M1,STOCK,15000,,,XYZ", 2_560.0, "short_call_partly_covered"),
        # a lot that does not name its stock covers nothing: 2 x 2,560
        ("L2,M1,STOCK,15000,,,", 5_120.0, "short_call_uncovered"),
        # a lot of another stock (ABC, 300 shares at 50) covers nothing
        ("L2,M1,STOCK,15000,,,ABC", 5_120.0, "short_call_uncovered"),
        # 200 shares in a lot pledged to M1 from ALICE's other account: both covered, 0
        ("L2,M2,STOCK,20000,,M1,XYZ", 0.0, "short_call_covered_by_collateral"),
    ],
)
def test_which_lots_cover(tmp_path: Path, lots: str, maintenance: float, row: str) -> None:
    """Short 2 XYZ 100 calls (5.60) in M1; ALICE's M2 holds nothing else."""
    accounts = f"{MARGIN}\nM2,ALICE,BD1,SEC,margin,customer,"
    ev, rows = _run(tmp_path, accounts, "M1,XYZ_C100_2609,-2", f"L1,M1,USD,5000,,,\n{lots}")
    assert float(decision(ev, "ms:M1")["maintenance"]) == pytest.approx(maintenance)
    assert rows.loc["XYZ_C100_2609", "strategy_row"] == row


def test_a_cash_accounts_stock_lot_covers_nothing(tmp_path: Path) -> None:
    """A cash account's lot of stock counts nothing (decision 37) and covers nothing here:
    the call held in cash, 100% x 10,000 - 560 = 9,440, as before."""
    ev, rows = _run(
        tmp_path,
        "M1,ALICE,BD1,SEC,cash,customer,",
        "M1,XYZ_C100_2609,-1",
        "L2,M1,STOCK,10000,,,XYZ",
    )
    assert float(decision(ev, "ms:M1")["maintenance"]) == pytest.approx(9_440.0)
    assert rows.loc["XYZ_C100_2609", "strategy_row"] == "short_call_held_in_cash"


def test_a_cut_book_keeps_the_stock_a_lot_names(tmp_path: Path) -> None:
    """The distributed run's cut of a book (one component's accounts) keeps the instruments
    its lots name, so the lot's `instrument_id` is no dangling reference there, and a
    changed price of that stock marks the lot's account to decide again."""
    make_book(tmp_path, MARGIN, "M1,XYZ_C100_2609,-1", "L0,M1,USD,0,,")
    folder = tmp_path / "book"
    (folder / "collateral.csv").write_text(HEADER + "L2,M1,STOCK,15000,,,ABC\n")
    book = load_book(folder)
    cut = cut_book(book, pd.Index(["M1"]))
    assert "ABC" in set(cut.instruments["instrument_id"].astype("str"))
    before = book.contract_frames()
    after = {k: v.copy() for k, v in before.items()}
    abc = after["instruments"]["instrument_id"].astype("str") == "ABC"
    after["instruments"].loc[abc, "price"] = 51.0
    assert list(changed_accounts(before, after)) == ["M1"]
