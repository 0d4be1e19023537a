"""Harmonized: a futures account comes to the portfolio-margin grid only as the futures leg
of a merged set; alone it keeps SPAN and the speculator's initial multiple (the harmonized
rulebook's comment and docs/domain-decisions.md rows 9 and 24). FOX, an eligible contract
participant, at BDF1 (a bd_fcm); long 1 ES_2609 (50 x 6,000 = 300,000, scan range 7%),
as of 2026-06-30."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _evaluate_books import decision, make_book, run

from marginlex.audit.ledger.record import rulebook_ref
from marginlex.audit.ledger.recorded_inputs import rulebook_bundle
from marginlex.audit.trace.from_evaluation import trace_columns
from marginlex.dsl.loader import load_rulebook

FUT = "MF2,FOX,BDF1,CFTC,futures,customer,cross_margin;subordination"
SEC = "MS2,FOX,BDF1,SEC,portfolio_margin,customer,portfolio_margin;cross_margin;subordination"


def test_a_futures_account_alone_keeps_span(tmp_path: Path) -> None:
    """No securities account of FOX at BDF1: refused on `securities_leg`, SPAN 7% x 300,000
    = 21,000, initial 110% = 23,100; value 23,000 >= 21,000: no call (the grid charged
    -8% x 300,000 = 24,000 and called 1,000)."""
    book = make_book(tmp_path, FUT, "MF2,ES_2609,1", "L1,MF2,USD,23000,,")
    d = decision(run(book, "harmonized"), "ms:MF2")
    assert d["method_rule_id"] == "cftc_span"
    assert d["maintenance"] == pytest.approx(21_000.0)
    assert d["initial"] == pytest.approx(23_100.0)
    assert d["call"] == pytest.approx(0.0)


def test_with_a_securities_account_it_is_merged_onto_the_grid(tmp_path: Path) -> None:
    """FOX's securities account at BDF1 with both agreements: the two merge, and the set is
    on the grid: ES high-cap broad, worst -8% x 300,000 = 24,000 (minimum 0.375 x 50 =
    18.75); no initial multiple on a portfolio-margin set."""
    accounts = f"{FUT}\n{SEC}"
    book = make_book(tmp_path, accounts, "MF2,ES_2609,1", "L1,MF2,USD,23000,,\nL2,MS2,USD,1000,,")
    ev = run(book, "harmonized")
    merged = ev.decisions[ev.decisions["method_rule_id"] == "sec_portfolio_margin"]
    assert len(merged) == 1
    assert merged["maintenance"].iloc[0] == pytest.approx(24_000.0)


def test_the_trace_shows_the_merged_regimes_tested(tmp_path: Path) -> None:
    """`securities_leg` tests ``SEC in account.merged_regimes``: the trace's eligibility row
    shows the set it read (sorted, ``;``-joined as the book writes agreements): ``{}`` (the
    empty set) for MF2 alone (refused), ``SEC`` for MF2 beside FOX's eligible securities
    account (passed)."""
    alone = run(make_book(tmp_path / "a", FUT, "MF2,ES_2609,1", "L1,MF2,USD,23000,,"), "harmonized")
    both = run(
        make_book(tmp_path / "b", f"{FUT}\n{SEC}", "MF2,ES_2609,1", "L1,MF2,USD,23000,,"),
        "harmonized",
    )
    for ev, shown, passed in ((alone, "{}", False), (both, "SEC", True)):
        elig = ev.frames["eligibility"]
        row = elig[(elig["account_id"] == "MF2") & (elig["requirement"] == "securities_leg")]
        assert row["tested_value"].tolist() == [shown]
        assert row["passed"].tolist() == [passed]
        assert f"account.merged_regimes={shown}" in row["inputs"].iloc[0]
    # and the decision record's eligibility row carries it as the tested value, then its when
    book = make_book(tmp_path / "c", FUT, "MF2,ES_2609,1", "L1,MF2,USD,23000,,")
    rulebook = load_rulebook("harmonized")
    ev = run(book, "harmonized")
    ref = rulebook_ref(rulebook, ev, rulebook_bundle(rulebook))
    trace = json.loads(trace_columns(ev, book, ref, "t").json[0])
    rows = [
        r
        for step in trace["steps"]
        if step["kind"] == "eligibility"
        for r in step["output"]["requirements"]
        if r["name"] == "securities_leg"
    ]
    assert [r["tested"] for r in rows] == [
        [
            {"id": "account.merged_regimes[MF2]", "unit": None, "value": "{}"},
            {"id": "when account.regime[MF2]", "unit": None, "value": "CFTC"},
        ]
    ]


# ---- the other leg refused (docs/domain-decisions.md 24, 27: `account.merged_regimes`) ----

CASH = "MS2,FOX,BDF1,SEC,cash,customer,portfolio_margin;cross_margin;subordination"
XM = "MS2,FOX,BDF1,SEC,margin,customer,cross_margin;subordination"
FUT_NO_SUB = "MF2,FOX,BDF1,CFTC,futures,customer,cross_margin"


def test_beside_a_refused_cash_account_it_keeps_span(tmp_path: Path) -> None:
    """FOX's securities account at BDF1 is a cash account, refused on `no_cash_account`: no
    set can merge MF2, so it is refused on `securities_leg` and keeps SPAN: short 1 ES, 7% x
    300,000 = 21,000, initial 110% = 23,100 (it was alone on the grid: up 6% x 300,000 =
    18,000)."""
    book = make_book(
        tmp_path,
        f"{FUT}\n{CASH}",
        "MF2,ES_2609,-1\nMS2,XYZ,1000",
        "L1,MF2,USD,30000,,\nL2,MS2,USD,100000,,",
    )
    ev = run(book, "harmonized")
    d = decision(ev, "ms:MF2")
    assert d["method_rule_id"] == "cftc_span"
    assert d["maintenance"] == pytest.approx(21_000.0)
    assert d["initial"] == pytest.approx(23_100.0)
    assert d["call"] == pytest.approx(0.0)
    elig = ev.frames["eligibility"]
    row = elig[(elig["account_id"] == "MF2") & (elig["requirement"] == "securities_leg")]
    assert row["passed"].tolist() == [False]
    assert row["tested_value"].tolist() == ["{}"]


def test_a_cross_margin_account_whose_futures_leg_is_refused_keeps_reg_t(tmp_path: Path) -> None:
    """MS2, a margin account under the cross-margining and subordination agreements only,
    long 1,000 XYZ (100,000); FOX's futures account lacks the subordination agreement, so it
    is refused and no set can merge MS2: Reg T 25% x 100,000 = 25,000 (it was alone on the
    grid: down 15% x 100,000 = 15,000)."""
    book = make_book(
        tmp_path,
        f"{FUT_NO_SUB}\n{XM}",
        "MF2,ES_2609,-1\nMS2,XYZ,1000",
        "L1,MF2,USD,30000,,\nL2,MS2,USD,100000,,",
    )
    ev = run(book, "harmonized")
    d = decision(ev, "ms:MS2")
    assert d["method_rule_id"] == "sec_strategy_based"
    assert d["maintenance"] == pytest.approx(25_000.0)
    fut = decision(ev, "ms:MF2")
    assert fut["method_rule_id"] == "cftc_span"
    assert fut["maintenance"] == pytest.approx(21_000.0)


def test_both_legs_eligible_under_the_cross_margining_agreement_merge(tmp_path: Path) -> None:
    """With both agreements on the futures account, each leg is eligible because the other
    is: one set on the grid, SPX short 1 ES up 6% x 300,000 = 18,000 plus XYZ down 15% x
    100,000 = 15,000 = 33,000 (unchanged)."""
    book = make_book(
        tmp_path,
        f"{FUT}\n{XM}",
        "MF2,ES_2609,-1\nMS2,XYZ,1000",
        "L1,MF2,USD,30000,,\nL2,MS2,USD,100000,,",
    )
    ev = run(book, "harmonized")
    d = decision(ev, "ms:MF2")
    assert d["method_rule_id"] == "sec_portfolio_margin"
    assert d["maintenance"] == pytest.approx(33_000.0)
    assert len(ev.decisions) == 1


def test_beside_a_securities_account_that_does_not_merge_it_keeps_span(tmp_path: Path) -> None:
    """FOX's securities account is eligible under the portfolio margin agreement alone (no
    cross-margining or subordination agreement): it is portfolio-margined by itself and no
    set merges MF2, which keeps SPAN 21,000 (`account.owner_regimes`, or an eligible partner
    of the owner, would have let it alone onto the grid at 18,000)."""
    pm_only = "MS2,FOX,BDF1,SEC,portfolio_margin,customer,portfolio_margin"
    book = make_book(
        tmp_path,
        f"{FUT}\n{pm_only}",
        "MF2,ES_2609,-1\nMS2,XYZ,1000",
        "L1,MF2,USD,30000,,\nL2,MS2,USD,100000,,",
    )
    ev = run(book, "harmonized")
    assert decision(ev, "ms:MF2")["method_rule_id"] == "cftc_span"
    assert decision(ev, "ms:MF2")["maintenance"] == pytest.approx(21_000.0)
    assert decision(ev, "ms:MS2")["method_rule_id"] == "sec_portfolio_margin"
    assert decision(ev, "ms:MS2")["maintenance"] == pytest.approx(15_000.0)
