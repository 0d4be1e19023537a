"""Issue 14, section 5: the 110% speculative initial multiple is for speculative futures
customers only: not for hedgers (CME: hedge initial = maintenance), not for portfolio-margin
sets under the harmonized rulebook. Figures worked out by hand in the docstrings."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from _evaluate_books import ACCOUNTS_HEADER, decision, make_book, run

WITH_HEDGER = ACCOUNTS_HEADER.rstrip("\n") + ",hedger\n"


@pytest.mark.parametrize(
    ("hedger", "initial"), [("false", 46200.0), ("", 46200.0), ("true", math.nan)]
)
def test_a_hedger_initial_requirement_is_its_maintenance(
    tmp_path: Path, hedger: str, initial: float
) -> None:
    """Long 2 ES at 6,000 x 50 (600,000; the book's scan range 7%), CFTC SPAN:
    full up/down scan 600,000 x 7% = 42,000; extreme 600,000 x 21% x 0.33 = 41,580;
    maintenance 42,000. A speculator's initial is 110% of it, 46,200; a blank `hedger`
    cell is not a hedger; a hedger takes no initial multiple: its initial requirement is the
    maintenance requirement (the decision's `initial` is empty, no `initial_rule_id`)."""
    book = make_book(
        tmp_path,
        f"F1,FOX,FCM1,CFTC,futures,customer,,{hedger}",
        "F1,ES_2609,2",
        "L1,F1,USD,100000,,",
        accounts_header=WITH_HEDGER,
    )
    d = decision(run(book, "cftc"), "ms:F1")
    assert d["maintenance"] == 42000.0
    if math.isnan(initial):
        assert math.isnan(d["initial"]) and d["initial_rule_id"] == ""
    else:
        assert d["initial"] == initial and d["initial_rule_id"] == "cftc_initial"


def test_a_book_without_the_hedger_column_keeps_its_sha256(tmp_path: Path) -> None:
    """`hedger` came after the book hash's version: a book that does not set it hashes as
    before, so that recorded ledgers keep their book names; setting it changes the hash."""
    rows = "F1,FOX,FCM1,CFTC,futures,customer,"
    plain = make_book(tmp_path / "a", rows, "F1,ES_2609,2", "L1,F1,USD,100000,,")
    blank = make_book(
        tmp_path / "b",
        rows + ",",
        "F1,ES_2609,2",
        "L1,F1,USD,100000,,",
        accounts_header=WITH_HEDGER,
    )
    hedged = make_book(
        tmp_path / "c",
        rows + ",true",
        "F1,ES_2609,2",
        "L1,F1,USD,100000,,",
        accounts_header=WITH_HEDGER,
    )
    assert plain.sha256 == blank.sha256 != hedged.sha256


def test_a_merged_portfolio_margin_set_takes_no_speculative_multiple(tmp_path: Path) -> None:
    """DELTA's SEC portfolio-margin account and futures account at BDF1 merge under the
    harmonized rulebook. Long 2 ES (600,000, high-cap broad index, +6%/-8%): worst point
    -8%, loss 48,000; minimum 0.375 x 50 x 2 = 37.50; maintenance 48,000. The grid has no
    separate initial requirement: no initial multiple (it was 110%, 52,800)."""
    agreements = "portfolio_margin;cross_margin;subordination"
    book = make_book(
        tmp_path,
        f"P1,DELTA,BDF1,SEC,portfolio_margin,customer,{agreements}\n"
        "F1,DELTA,BDF1,CFTC,futures,customer,cross_margin;subordination",
        "F1,ES_2609,2",
        "L1,P1,USD,1000000,,",
    )
    ev = run(book, "harmonized")
    (d,) = [row for _, row in ev.decisions.iterrows()]
    assert sorted(d["account_ids"].split(";")) == ["F1", "P1"], d["account_ids"]
    assert d["maintenance"] == 48000.0
    assert math.isnan(d["initial"]) and d["initial_rule_id"] == ""


@pytest.mark.parametrize(
    ("cash", "hedger", "call"),
    [("30000", "", 16200.0), ("44000", "", 0.0), ("30000", "true", 12000.0)],
)
def test_a_futures_customer_call_restores_the_initial_requirement(
    tmp_path: Path, cash: str, hedger: str, call: float
) -> None:
    """Long 2 ES: maintenance 42,000, a speculator's initial 46,200 (see above).

    Value 30,000 is below maintenance: the call restores initial, 46,200 - 30,000 = 16,200
    (it was maintenance - value, 12,000). Value 44,000 is above maintenance: no call,
    though below initial. A hedger's initial is its maintenance: 42,000 - 30,000 = 12,000.
    (CME Clearing: "If margin equity falls below maintenance margin, a call must be issued to
    bring the account up to initial margin".)"""
    book = make_book(
        tmp_path,
        f"F1,FOX,FCM1,CFTC,futures,customer,,{hedger}",
        "F1,ES_2609,2",
        f"L1,F1,USD,{cash},,",
        accounts_header=WITH_HEDGER,
    )
    d = decision(run(book, "cftc"), "ms:F1")
    assert d["call"] == call
    assert d["excess"] == float(cash) - 42000.0
    assert d["status"] == ("call" if call else "ok")
