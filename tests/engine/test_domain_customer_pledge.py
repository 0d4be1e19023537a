"""17 CFR 1.22 (issue 14, section 5): a futures customer's lot pledged to another owner's
customer account is one violation per (lot, constraint), reported with its whole path."""

from __future__ import annotations

from pathlib import Path

from _evaluate_books import make_book, run

from marginlex.audit.ledger.record import rulebook_ref
from marginlex.audit.ledger.recorded_inputs import rulebook_bundle
from marginlex.audit.trace.from_evaluation import decision_traces, trace_columns
from marginlex.audit.trace.steps import CollateralOutput
from marginlex.dsl.loader import load_rulebook, shipped_dir
from marginlex.engine.evaluate import evaluate
from marginlex.engine.plan.compile import compile_plan

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


def test_a_lot_pledged_to_another_customer_counts_nothing_in_the_receivers_value(
    tmp_path: Path,
) -> None:
    """The same book: C2 (Golf) margins L1 (1,000, Fox's) and L2 (2,000, Golf's own C3).
    `cftc_other_customer` says "not counted there": L1 counts 0, so C2's value is 0 + 2,000
    = 2,000 (not 3,000). C3 margins L3 (3,000, Echo's): 0. C1 and C4 pledged theirs away: 0.
    Written without the words (a rulebook recorded before them), L1 and L3 count in full:
    C2 3,000, C3 3,000."""
    book = make_book(
        tmp_path,
        ACCOUNTS,
        "",
        "L1,C1,USD,1000,,C2\nL2,C3,USD,2000,,C2\nL3,C4,USD,3000,,C3",
        repledges="C3,C1",
    )
    ev = run(book, "cftc")
    values = ev.decisions.set_index("margin_set_id")["value"]
    assert values["ms:C2"] == 2000.0
    assert values["ms:C3"] == 0.0
    lots = ev.frames["lots"].set_index("lot_id")
    assert lots.loc["L1", "status"] == "excluded"
    assert lots.loc["L1", "reason"] == (
        "pledged to C2, another owner's account: not counted there (cftc_other_customer: "
        "17 CFR 1.22(a): no use of one customer's funds for another person (read, "
        "law.cornell.edu))"
    )
    # it stays under the haircut that valued it: the value's trace lists every lot margining
    # the set, this one at 0 with its reason (it had vanished from the trace)
    assert lots.loc["L1", "rule_id"] == "cftc_other_assets"
    rulebook = load_rulebook("cftc")
    ref = rulebook_ref(rulebook, ev, rulebook_bundle(rulebook))
    (trace,) = [
        t for t in decision_traces(trace_columns(ev, book, ref, "t")) if t.margin_set.id == "ms:C2"
    ]
    listed = [
        lot
        for step in trace.steps
        if isinstance(step.output, CollateralOutput)
        for lot in step.output.lots
    ]
    assert [(lot.lot_id, str(lot.value)) for lot in listed] == [("L1", "0.00"), ("L2", "2000.00")]
    assert lots.loc["L2", "status"] == "eligible"
    assert lots.loc["L2", "value"] == 2000.0

    text = (shipped_dir() / "cftc.mlx").read_text(encoding="utf-8")
    older = tmp_path / "cftc_older.mlx"
    text = text.replace(", not counted there", "").replace("rulebook cftc ", "rulebook old_cftc ")
    older.write_text(text, encoding="utf-8")
    recorded = evaluate(compile_plan(load_rulebook(older), book.as_of), book)
    before = recorded.decisions.set_index("margin_set_id")["value"]
    assert (before["ms:C2"], before["ms:C3"]) == (3000.0, 3000.0)
