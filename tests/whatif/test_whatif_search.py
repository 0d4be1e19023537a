"""Counterfactuals on the demo book, each figure worked out by hand."""

from __future__ import annotations

import pytest

from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import Book, load_demo_book
from marginlex.engine.whatif.edits import set_value
from marginlex.engine.whatif.evaluator import SetNotFoundError
from marginlex.engine.whatif.model import ChangeKind, WhatIf
from marginlex.engine.whatif.search import what_if


@pytest.fixture(scope="module")
def demo() -> Book:
    return load_demo_book()


@pytest.fixture(scope="module")
def fox(demo: Book) -> WhatIf:
    return what_if(demo, load_rulebook("cftc"), demo.as_of, "ms:A08_FOX_FUT")


def test_min_equity_deposit(demo: Book) -> None:
    """BOB fails min_equity: equity = 40,000 cash + 300 XYZ × 100 - 2 puts × 100 × 1.74 =
    69,652; 100,000 - 69,652 = 30,348 deposited passes it, and the set becomes eligible."""
    found = what_if(demo, load_rulebook("sec"), demo.as_of, "ms:A02_BOB_PM")
    (line,) = found.lines
    assert (line.kind, line.target, line.amount) == (ChangeKind.DEPOSIT, "min_equity", 30_348.0)
    assert (line.rule_id, line.citation) == ("portfolio_margin", "FINRA Rule 4210(g)(6)")
    assert line.change == "deposit 30,348.00 USD in A02_BOB_PM"
    assert line.clears and line.outcome is not None and line.outcome.eligible


def test_call_deposit_reduction_and_cap(fox: WhatIf) -> None:
    """FOX (CFTC) is long 10 ES at 21,000 each (6,000 × 50 × 7%): requirement 210,000,
    initial 231,000 (110%); value 60,000 cash + digital assets capped at 40% of the initial
    requirement, 40% × 231,000 = 92,400 → 152,400; the call restores initial:
    231,000 - 152,400 = 78,600.

    - deposit 78,600 meets it (the call's own amount, verified to clear);
    - k contracts left: maintenance 21,000k, value 60,000 + 9,240k (cap 40% × 23,100k
      binds): no call iff 11,760k ≤ 60,000, k ≤ 5.10, so 5 left (the smallest whole percent
      that leaves 5 is 41%: 10 × 0.59 = 5.9, rounded down);
    - replacing X of BTC/ETH (210,000 market value, 20% haircut) with cash: the smallest X
      after which no call is issued (a call is issued below maintenance): value =
      60,000 + X + 92,400 ≥ 210,000 while 0.8 × (210,000 - X) ≥ 92,400, so X = 57,600.
    """
    call = {c.kind: c for c in fox.lines if c.target == "call"}
    assert fox.before.call == 78_600.0
    assert call[ChangeKind.DEPOSIT].amount == 78_600.0
    assert call[ChangeKind.DEPOSIT].rule_id == "cftc_span"
    reduce = call[ChangeKind.REDUCE]
    assert reduce.change == (
        "cut the positions in class group SPX by 41%, rounded up to whole units "
        "(ES_2609 10 -> 5 in A08_FOX_FUT), closed at the mark"
    )
    assert reduce.amount == 0.41
    assert reduce.outcome is not None and reduce.outcome.requirement == 105_000.0
    capped = call[ChangeKind.REPLACE_CAPPED]
    assert (capped.amount, capped.rule_id) == (57_600.0, "cftc_digital_cap")
    assert all(c.clears and c.outcome is not None and c.outcome.call == 0 for c in call.values())


def test_each_failed_requirement_and_all_together(fox: WhatIf) -> None:
    fixes = [c for c in fox.lines if c.target != "call"]
    assert [(c.target, c.change) for c in fixes[:3]] == [
        ("dual_registrant", "set carrier.kind of FCM1 to bd_fcm"),
        ("clearing_agency_member", "make FCM1 member_of FICC (a clearing_agency)"),
        ("cross_margin_agreement", "sign a cross_margin agreement on A08_FOX_FUT"),
    ]
    assert all(c.clears and c.outcome is not None and not c.outcome.eligible for c in fixes[:3])
    together = fixes[3]
    assert together.target == "dual_registrant;clearing_agency_member;cross_margin_agreement"
    assert together.outcome is not None and together.outcome.eligible


def test_breach_edges(demo: Book) -> None:
    """KILO's lot L22 reaches the house account H_BD1 by a pledge and two re-pledges; removing
    any one of those edges ends the path (its own lot edge A13 -> L22 is not offered)."""
    found = what_if(demo, load_rulebook("sec"), demo.as_of, "ms:A13_KILO_MGN")
    edges = [c for c in found.lines if c.kind is ChangeKind.REMOVE_EDGE]
    assert [c.change for c in edges] == [
        "remove the pledge of lot L22 to A14_LIMA_FIN",
        "remove the relation A14_LIMA_FIN -> A15_MIKE_MGN",
        "remove the relation A15_MIKE_MGN -> H_BD1",
    ]
    assert {(c.rule_id, c.citation) for c in edges} == {
        ("sec_customer_collateral", "SEC Rule 15c3-3(b)")
    }
    assert all(c.clears and c.outcome is not None and c.outcome.status == "ok" for c in edges)


def test_a_customer_account_of_a_carrier_the_rule_refuses_is_moved(demo: Book) -> None:
    """ALICE's SEC account carried by FCM1, an fcm: sec_customer_carrier allows
    broker_dealer and bd_fcm. The edge FCM1 -> A10 is the account's own carrier_id, so there
    is no relation to remove (the line offered to remove one, and did not clear); moving it
    to BD1, the first allowed firm by id (its carrier in the demo), ends the breach."""
    moved = set_value(
        demo, "accounts", "account_id", ["A01_ALICE_PM"], column="carrier_id", value="FCM1"
    )
    found = what_if(moved, load_rulebook("sec"), demo.as_of, "ms:A01_ALICE_PM")
    assert found.before.status == "breach"
    (line,) = [c for c in found.lines if c.rule_id == "sec_customer_carrier"]
    assert (line.kind, line.target) == (ChangeKind.MOVE_ACCOUNT, "FCM1 -> A01_ALICE_PM")
    assert line.change == "move A01_ALICE_PM to the carrier BD1, a broker_dealer (FCM1 is a fcm)"
    assert line.clears and line.outcome is not None
    assert (line.outcome.status, line.outcome.segregation_violations) == ("ok", 0)
    # no firm of an allowed kind in the book: said, nothing re-evaluated
    none = set_value(moved, "parties", "party_id", ["BD1", "BDF1"], column="kind", value="fcm")
    found = what_if(none, load_rulebook("sec"), demo.as_of, "ms:A01_ALICE_PM")
    (line,) = [c for c in found.lines if c.rule_id == "sec_customer_carrier"]
    assert (line.kind, line.clears, line.outcome) == (ChangeKind.NO_FIX, False, None)
    assert line.change == "no firm in the book is a bd_fcm or broker_dealer to carry A01_ALICE_PM"


def test_an_ok_eligible_set_has_nothing_to_change(demo: Book) -> None:
    found = what_if(demo, load_rulebook("sec"), demo.as_of, "ms:A01_ALICE_PM")
    assert found.lines == () and found.before.eligible


def test_unknown_set(demo: Book) -> None:
    with pytest.raises(SetNotFoundError, match="no decision for ms:NOPE"):
        what_if(demo, load_rulebook("sec"), demo.as_of, "ms:NOPE")
