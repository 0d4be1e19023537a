"""A short put covered by short stock in the same account (decision 36): the put needs no
margin, the short stock keeps its own requirement, whole deliverables only, the highest
strike first, as long stock covers short calls (decision 17). Not in a cash account, where
a short sale is not permitted (12 CFR 220.8(a)(2)) and covers nothing. Figures by hand in
the docstrings: XYZ at 100.00; XYZ_P100_2609 a put struck at 100 at 5.60 (x 100: 560);
XYZ_P90_2609 a put struck at 90 at 1.74 (174); ALICE an individual approved for uncovered
options at the broker-dealer BD1."""

from __future__ import annotations

from pathlib import Path

import pytest
from _evaluate_books import ACCOUNTS_HEADER, decision, make_book, run

from marginlex.engine.book.load import Book


def _book(tmp: Path, positions: str, cash: float, kind: str = "margin") -> Book:
    """S1: ALICE's account of ``kind`` at BD1 holding ``positions`` (``;``-separated)."""
    return make_book(
        tmp,
        f"S1,ALICE,BD1,SEC,{kind},customer,",
        "\n".join(f"S1,{p}" for p in positions.split(";")),
        f"L1,S1,USD,{cash},,",
        accounts_header=ACCOUNTS_HEADER,
    )


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
@pytest.mark.parametrize(
    ("positions", "maintenance"),
    [
        # Short 100 XYZ (30% x 10,000 = 3,000) covers the put: 0. 3,000 (was 3,000 + the
        # put alone, 560 + 20% x 10,000 - 0 = 2,560 (floor 560 + 1,000): 5,560).
        ("XYZ,-100;XYZ_P100_2609,-1", 3000.0),
        # 150 shares short against 2 puts: one covered, one alone (2,560): 30% x 15,000 +
        # 0 + 2,560 = 7,060 (was 4,500 + 5,120 = 9,620).
        ("XYZ,-150;XYZ_P100_2609,-2", 7060.0),
        # 100 shares against a put at 100 and one at 90: the higher strike is covered first
        # (the larger requirement); the 90 put alone: 174 + 2,000 - OTM 1,000 = 1,174 (floor
        # 174 + 10% x 9,000 = 1,074). 3,000 + 0 + 1,174 = 4,174 (covering the 90 put instead
        # would leave 2,560: 5,560; was 3,000 + 2,560 + 1,174 = 6,734).
        ("XYZ,-100;XYZ_P100_2609,-1;XYZ_P90_2609,-1", 4174.0),
        # 99 shares cover no part of a put on 100 (a whole deliverable only): 30% x 9,900 +
        # 2,560 = 5,530, as before.
        ("XYZ,-99;XYZ_P100_2609,-1", 5530.0),
        # Long stock covers no put: 25% x 10,000 + 2,560 = 5,060, as before.
        ("XYZ,100;XYZ_P100_2609,-1", 5060.0),
    ],
)
def test_short_stock_covers_short_puts(
    tmp_path: Path, rulebook: str, positions: str, maintenance: float
) -> None:
    """A margin account's short put against the short deliverable needs no margin."""
    d = decision(run(_book(tmp_path, positions, 30000), rulebook), "ms:S1")
    assert d["method_rule_id"] == "sec_strategy_based"
    assert d["maintenance"] == maintenance


def test_the_trace_shows_the_covered_put(tmp_path: Path) -> None:
    """The covered put's row: ``short_put_covered``, requirement 0, covered fraction 1, cited
    to the strategy-based rule (FINRA 4210(f)(2)); the stock's row is the short stock's."""
    ev = run(_book(tmp_path, "XYZ,-100;XYZ_P100_2609,-1", 30000), "sec")
    rows = ev.frames["positions"].set_index("instrument_id")
    put = rows.loc["XYZ_P100_2609"]
    assert (put["strategy_row"], put["requirement"]) == ("short_put_covered", 0.0)
    assert "4210" in put["citation"]
    assert (rows.loc["XYZ", "strategy_row"], rows.loc["XYZ", "requirement"]) == (
        "short_equity",
        pytest.approx(3000.0),
    )


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
def test_a_cash_accounts_short_sale_covers_no_put(tmp_path: Path, rulebook: str) -> None:
    """Held in cash the put keeps its exercise price less its premium, 10,000 - 560 =
    9,440, and the short stock 100% - 100% = 0: 9,440, as before (220.8(a)(2): no short
    sale in a cash account, so nothing it covers)."""
    book = _book(tmp_path, "XYZ,-100;XYZ_P100_2609,-1", 20560, kind="cash")
    d = decision(run(book, rulebook), "ms:S1")
    assert (d["method_rule_id"], d["maintenance"]) == ("sec_cash_account", 9440.0)


@pytest.mark.parametrize(
    ("positions", "maintenance", "row", "requirement"),
    [
        # 150 shares short against 2 puts at 100: one covered (0), one alone 2,560; the
        # position's row names both parts (it was `short_put_uncovered`, as if none were
        # covered). 4,500 + 2,560 = 7,060.
        ("XYZ,-150;XYZ_P100_2609,-2", 7060.0, "short_put_partly_covered", 2560.0),
        # 100 shares short against 2 puts at 100, and a long put at 90 (1.74): one put
        # covered, the other in a put spread with the long, 174 - 560 + 100 x (100 - 90) =
        # 614 (less than 2,560 + 174 alone); the long 0 beyond the spread. 3,000 + 614 = 3,614.
        (
            "XYZ,-100;XYZ_P100_2609,-2;XYZ_P90_2609,1",
            3614.0,
            "short_put_partly_covered_spread",
            614.0,
        ),
        # 100 shares short against 2 puts at 100, and a short call at 100 (5.60): one put
        # covered, the other in a straddle with the call, the greater 2,560 (a tie: the
        # call's) + the put's premium 560. 3,000 + 560 + 2,560 = 6,120.
        (
            "XYZ,-100;XYZ_P100_2609,-2;XYZ_C100_2609,-1",
            6120.0,
            "short_put_partly_covered_straddle",
            560.0,
        ),
    ],
)
def test_a_partly_covered_put_names_both_parts(
    tmp_path: Path, positions: str, maintenance: float, row: str, requirement: float
) -> None:
    """The trace's row of a put some of whose contracts short stock covers and some not
    says so, and what its uncovered contracts were charged as (docs/domain-decisions.md
    row 39)."""
    ev = run(_book(tmp_path, positions, 30000), "sec")
    assert decision(ev, "ms:S1")["maintenance"] == pytest.approx(maintenance)
    put = ev.frames["positions"].set_index("instrument_id").loc["XYZ_P100_2609"]
    assert put["strategy_row"] == row
    assert put["requirement"] == pytest.approx(requirement)
    assert "4210" in put["citation"]
