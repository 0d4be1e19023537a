"""17 CFR 1.22 (issue 14, section 5): a futures customer's lot pledged to another owner's
customer account is one violation per (lot, constraint), reported with its whole path."""

from __future__ import annotations

from pathlib import Path

from _evaluate_books import make_book, run

ACCOUNTS = (
    "C1,FOX,FCM1,CFTC,futures,customer,\n"
    "C2,GOLF,FCM1,CFTC,futures,customer,\n"
    "C3,GOLF,FCM1,CFTC,futures,customer,\n"
    "C4,ECHO,FCM1,CFTC,futures,customer,"
)


def test_a_lot_pledged_to_another_customer_is_one_violation_with_its_path(
    tmp_path: Path,
) -> None:
    """L1: C1 (Fox) pledged to C2 (Golf), another owner: a violation of cftc_other_customer.
    L2: C3 pledged to C2, both Golf's: none. L3: C4 (Echo) to C3 (Golf), re-pledged by C3 on
    to C1 (Fox): the first forbidden account it reaches is C3, one hop: one violation, path
    C4 -> L3 -> C3 (not a second one for C1). So 2 violations of the rule; sets in breach
    ms:C1, ms:C2 (L1), ms:C4, ms:C3 (L3)."""
    book = make_book(
        tmp_path,
        ACCOUNTS,
        "",
        "L1,C1,USD,1000,,C2\nL2,C3,USD,2000,,C2\nL3,C4,USD,3000,,C3",
        repledges="C3,C1",
    )
    ev = run(book, "cftc")
    seg = ev.frames["segregation"]
    mine = seg[seg["rule_id"] == "cftc_other_customer"]
    assert sorted(set(mine["path"])) == ["C1 -> L1 -> C2", "C4 -> L3 -> C3"]
    assert sorted(set(mine["margin_set_id"])) == ["ms:C1", "ms:C2", "ms:C3", "ms:C4"]
    assert ev.summary().segregation_violations == 2
