"""Segregation through more than one hop: rehypothecation chains found with their path."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from _evaluate_books import decision, make_book, run

from marginlex.engine.book.load import Book

ACCOUNTS = """
H_BD1,BD1,BD1,SEC,margin,house,
P1,HOTEL,BD1,SEC,margin,customer,
AF1,LIMA,BD1,SEC,margin,customer,
MF1,MIKE,BD1,SEC,margin,customer,
"""
# P1 holds 500 ABC ($25,000); its $20,000 lot L2 is pledged to the affiliate's account AF1.
POSITIONS = "P1,ABC,500"
COLLATERAL = """
L1,P1,USD,5000,,
L2,P1,USD,20000,,AF1
L3,AF1,USD,100000,,
L4,MF1,USD,50000,,
"""
CHAIN = "P1 -> L2 -> AF1 -> MF1 -> H_BD1"


def _book(tmp: Path, repledges: str, collateral: str = COLLATERAL) -> Book:
    return make_book(tmp, ACCOUNTS, POSITIONS, collateral, repledges=repledges)


def test_three_hop_rehypothecation_is_a_breach_with_its_whole_path(tmp_path: Path) -> None:
    ev = run(_book(tmp_path, "AF1,MF1\nMF1,H_BD1"), "sec")
    seg = ev.frames["segregation"]
    flow = seg[seg["rule_id"] == "sec_customer_collateral"]
    # One violation (lot L2), reported at both ends: the customer's set and the house's.
    assert flow["account_id"].tolist() == ["H_BD1", "P1"]
    assert set(flow["path"]) == {CHAIN}
    assert set(flow["detail"]) == {
        "lot L2 pledged to AF1, re-pledged on to H_BD1 (3 hops)",
    }
    p1 = decision(ev, "ms:P1")
    assert p1["status"] == "breach"
    assert p1["segregation_violations"] == "sec_customer_collateral"
    assert decision(ev, "ms:H_BD1")["status"] == "breach"
    # The intermediaries pass the collateral on; they are not where it must not go.
    assert decision(ev, "ms:AF1")["status"] == "ok"
    assert decision(ev, "ms:MF1")["status"] == "ok"
    # Figures are still computed: 500 ABC x 50 x 25% = 6,250; value 5,000 + 25,000 (L2
    # margins AF1, its pledgee: a re-pledge moves no value, only where the lot reaches).
    assert (p1["maintenance"], p1["value"]) == (6250.0, 30000.0)
    assert decision(ev, "ms:AF1")["value"] == 120000.0


def test_a_chain_that_stays_among_customers_is_no_breach(tmp_path: Path) -> None:
    ev = run(_book(tmp_path, "AF1,MF1"), "sec")
    seg = ev.frames["segregation"]
    assert (seg["rule_id"] == "sec_customer_collateral").sum() == 0
    assert decision(ev, "ms:P1")["status"] == "ok"


def test_a_cycle_terminates_and_the_house_is_still_found(tmp_path: Path) -> None:
    # AF1 -> MF1 -> AF1 loops; MF1 also re-pledges to the house.
    ev = run(_book(tmp_path, "AF1,MF1\nMF1,AF1\nMF1,H_BD1"), "sec")
    seg = ev.frames["segregation"]
    assert set(seg.loc[seg["rule_id"] == "sec_customer_collateral", "path"]) == {CHAIN}
    loop = run(_book(tmp_path / "loop", "AF1,MF1\nMF1,AF1"), "sec")
    assert decision(loop, "ms:P1")["status"] == "ok"


def test_one_violation_per_lot_at_the_first_house_reached(tmp_path: Path) -> None:
    # Two lots in the chain; the chain passes the house and goes on to another house account.
    accounts = ACCOUNTS + "H_BD1B,BD1,BD1,SEC,cash,house,\n"
    collateral = COLLATERAL + "L5,P1,USD,1000,,AF1\n"
    book = make_book(tmp_path, accounts, POSITIONS, collateral, repledges="AF1,H_BD1\nH_BD1,H_BD1B")
    seg = run(book, "sec").frames["segregation"]
    flow = seg[seg["rule_id"] == "sec_customer_collateral"]
    assert sorted(set(flow["path"])) == ["P1 -> L2 -> AF1 -> H_BD1", "P1 -> L5 -> AF1 -> H_BD1"]
    assert set(flow["detail"]) == {
        "lot L2 pledged to AF1, re-pledged on to H_BD1 (2 hops)",
        "lot L5 pledged to AF1, re-pledged on to H_BD1 (2 hops)",
    }
    assert "ms:H_BD1B" not in set(flow["margin_set_id"])


def test_a_direct_pledge_reads_as_before(tmp_path: Path) -> None:
    collateral = "L1,P1,USD,5000,,\nL2,P1,USD,20000,,H_BD1"
    seg = run(_book(tmp_path, "", collateral), "sec").frames["segregation"]
    flow = seg[seg["rule_id"] == "sec_customer_collateral"]
    assert set(flow["detail"]) == {"lot L2 pledged to H_BD1"}
    assert set(flow["path"]) == {"P1 -> L2 -> H_BD1"}


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_a_chain_of_k_hops_breaches_with_its_full_path(tmp_path: Path, k: int) -> None:
    # P1's lot is pledged to M1; M1 -> M2 -> ... -> M(k-1) -> H_BD1 re-pledge it on.
    middle = [f"M{i}" for i in range(1, k)]
    accounts = "H_BD1,BD1,BD1,SEC,margin,house,\nP1,HOTEL,BD1,SEC,margin,customer,\n"
    accounts += "".join(f"{m},MIKE,BD1,SEC,margin,customer,\n" for m in middle)
    chain = [*middle, "H_BD1"]
    repledges = "\n".join(f"{a},{b}" for a, b in itertools.pairwise(chain))
    book = make_book(
        tmp_path, accounts, POSITIONS, f"L1,P1,USD,1000,,{chain[0]}", repledges=repledges
    )
    ev = run(book, "sec")
    seg = ev.frames["segregation"]
    flow = seg[(seg["rule_id"] == "sec_customer_collateral") & (seg["account_id"] == "P1")]
    assert flow["path"].tolist() == [" -> ".join(["P1", "L1", *chain])]
    assert decision(ev, "ms:P1")["status"] == "breach"
