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


def test_the_trace_shows_the_owner_regimes_tested(tmp_path: Path) -> None:
    """`securities_leg` tests ``SEC in account.owner_regimes``: the trace's eligibility row
    shows the set it read (sorted, ``;``-joined as the book writes agreements): ``CFTC``
    for MF2 alone (refused), ``CFTC;SEC`` for MF2 beside FOX's securities account (passed);
    it was blank."""
    alone = run(make_book(tmp_path / "a", FUT, "MF2,ES_2609,1", "L1,MF2,USD,23000,,"), "harmonized")
    both = run(
        make_book(tmp_path / "b", f"{FUT}\n{SEC}", "MF2,ES_2609,1", "L1,MF2,USD,23000,,"),
        "harmonized",
    )
    for ev, shown, passed in ((alone, "CFTC", False), (both, "CFTC;SEC", True)):
        elig = ev.frames["eligibility"]
        row = elig[(elig["account_id"] == "MF2") & (elig["requirement"] == "securities_leg")]
        assert row["tested_value"].tolist() == [shown]
        assert row["passed"].tolist() == [passed]
        assert f"account.owner_regimes={shown}" in row["inputs"].iloc[0]
    # and the decision record's eligibility row carries it as the tested value
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
        [{"id": "account.owner_regimes[MF2]", "unit": None, "value": "CFTC"}]
    ]
