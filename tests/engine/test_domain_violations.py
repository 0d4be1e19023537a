"""Issue 14's decision on a pledged lot and a breach: each (lot, constraint) pair whose path
reaches a forbidden account is one violation, reported with its whole path; a margin set is
in breach with one violation or more; the run's summary counts violations."""

from __future__ import annotations

from pathlib import Path

from _evaluate_books import make_book, run

ACCOUNTS = (
    "C1,HOTEL,BD1,SEC,margin,customer,\n"
    "C2,INDIA,BD1,SEC,margin,customer,\n"
    "H1,BD1,BD1,SEC,margin,house,"
)


def test_each_lot_that_reaches_a_house_account_is_one_violation(tmp_path: Path) -> None:
    """C1 pledges two lots to the house account H1; C2 pledges one to C1, which re-pledges
    on to H1 (a relation C1 -> H1). Violations of sec_customer_collateral, one per lot:
      L1: C1 -> L1 -> H1,  L2: C1 -> L2 -> H1,  L3: C2 -> L3 -> C1 -> H1
    3 violations (not 1 per set, not 1 per breached pair of sets). Sets in breach, at the
    ends of a path: ms:C1 (L1, L2), ms:C2 (L3), ms:H1 (all three): 3 sets. L4 is not
    pledged: no violation."""
    book = make_book(
        tmp_path,
        ACCOUNTS,
        "",
        "L1,C1,USD,1000,,H1\nL2,C1,USD,2000,,H1\nL3,C2,USD,3000,,C1\nL4,C1,USD,50000,,",
        repledges="C1,H1",
    )
    ev = run(book, "sec")
    frame = ev.frames["segregation"]
    house = frame[frame["margin_set_id"] == "ms:H1"]
    assert sorted(house["path"]) == [
        "C1 -> L1 -> H1",
        "C1 -> L2 -> H1",
        "C2 -> L3 -> C1 -> H1",
    ]
    assert set(house["rule_id"]) == {"sec_customer_collateral"}
    summary = ev.summary()
    assert summary.segregation_violations == 3
    breached = ev.decisions.set_index("margin_set_id")["segregation_violations"]
    assert {s for s, rules in breached.items() if rules} == {"ms:C1", "ms:C2", "ms:H1"}
    assert summary.segregation_breaches == 3


def test_harmonized_counts_a_lot_once(tmp_path: Path) -> None:
    """Decision 28: a securities customer's lot and a futures customer's lot, each pledged to
    a house account, are one violation each under harmonized (its one customer-collateral
    rule), not one per base rulebook; each counts nothing at the house (17 CFR 1.22)."""
    book = make_book(
        tmp_path,
        ACCOUNTS + "\nF1,JULIET,FCM1,CFTC,futures,customer,\nH2,FCM1,FCM1,CFTC,futures,house,",
        "",
        "L1,C1,USD,1000,,H1\nL5,F1,USD,5000,,H2\nL6,H2,USD,700,,",
    )
    ev = run(book, "harmonized")
    frame = ev.frames["segregation"]
    violations = frame[["rule_id", "path"]].drop_duplicates()
    assert sorted(map(tuple, violations.to_numpy())) == [
        ("harmonized_customer_collateral", "C1 -> L1 -> H1"),
        ("harmonized_customer_collateral", "F1 -> L5 -> H2"),
    ]
    assert ev.summary().segregation_violations == 2
    value = ev.decisions.set_index("margin_set_id")["value"]
    assert value["ms:H2"] == 700.0  # its own lot; F1's 5,000 margins nothing there
