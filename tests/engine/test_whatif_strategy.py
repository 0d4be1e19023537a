"""What-if on a strategy-based call: the cut of a class group's positions is offered too."""

from __future__ import annotations

from pathlib import Path

from _evaluate_books import make_book
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import Book, load_book, load_demo_book, write_book
from marginlex.engine.synth.generate import synth_book
from marginlex.engine.whatif.model import ChangeKind
from marginlex.engine.whatif.search import what_if


def _hotel_with_a_naked_call(tmp: Path) -> Book:
    """A margin account (strategy-based) of the demo's HOTEL (covered options only): 500 ABC at
    50 and 40 ABC 55 calls written at 0.72 (x100), with 3,000 cash."""
    return make_book(
        tmp,
        "A10_HOTEL_MGN,HOTEL,BD1,SEC,margin,customer,",
        "A10_HOTEL_MGN,ABC,500\nA10_HOTEL_MGN,ABC_C55_2609,-40",
        "L14,A10_HOTEL_MGN,USD,3000.00,,",
    )


def test_a_strategy_based_call_offers_a_cut_of_the_class_group(tmp_path: Path) -> None:
    # By hand (Reg T / FINRA 4210(f)(2)): 500 ABC at 50, 25%: 6,250; 40 short calls, 5 covered
    # by the 500 shares, 35 uncovered at 100 x (0.72 + 20% x 50 - (55 - 50)) = 572 each:
    # 20,020. Requirement 26,270; value 3,000 cash + 25,000 stock - 40 x 72 = 25,120; call
    # 1,150. Cut ABC and its calls by p%: at 6%, 470 ABC (5,875) and 37 calls, 4 covered, 33 x
    # 572 = 18,876: 24,751 <= 25,120 (closing at the mark keeps the value). At 5%: 475 ABC
    # (5,937.50) and 38 calls, 4 covered, 34 x 572 = 19,448: 25,385.50 > 25,120: a call.
    book = _hotel_with_a_naked_call(tmp_path)
    found = what_if(book, load_rulebook("sec"), book.as_of, "ms:A10_HOTEL_MGN")
    assert found.before.requirement == 26_270.0
    assert found.before.call == 1_150.0
    cuts = [line for line in found.lines if line.kind is ChangeKind.REDUCE]
    assert len(cuts) == 1
    (cut,) = cuts
    assert cut.rule_id == "sec_strategy_based"
    assert cut.amount == 0.06
    assert cut.clears
    assert "ABC 500 -> 470" in cut.change and "ABC_C55_2609 -40 -> -37" in cut.change
    assert cut.outcome is not None and cut.outcome.requirement == 24_751.0


def test_a_cut_that_leaves_a_larger_call_is_not_offered(tmp_path: Path) -> None:
    """Synthetic book, seed 3: A000003's SPX class group hedges the rest under harmonized;
    closing it leaves a call above the 312,519.00 now (it was offered). SPY is a class group
    of its own beside SPX (340,439.65 while it netted 100% with the ES short). ZT_2609's
    deliverable matures 2028-06-29, a day short of two years from 2026-06-30 (730 days), so
    it is `instrument.tenor < 2 years` at 1% since decision 48 (was 2.0 years, not under:
    3%): the 7 ZT lose 7 x 2,000 x 103 x 1% = 14,420 at the worst point, not 43,260, and the
    call is 341,359.00 - 28,840 = 312,519.00."""
    meta, frames = synth_book(50, 3)
    book = load_book(write_book(meta, frames, tmp_path / "b", "csv"))
    found = what_if(book, load_rulebook("harmonized"), book.as_of, "ms:A000003")
    assert found.before.call == 312_519.00
    cuts = [line for line in found.lines if line.kind is ChangeKind.REDUCE]
    assert cuts, "the BTC cut and the Treasury close are still offered"
    for cut in cuts:
        assert cut.outcome is not None
        assert cut.clears or cut.outcome.call < found.before.call, cut.change
    assert not any("class group SPX" in cut.change for cut in cuts)


def test_a_pledge_two_rules_refuse_is_one_line_citing_both(tmp_path: Path) -> None:
    """Under sec and cftc merged (a variant extending both, as harmonized did before it
    stated one customer-collateral rule), HOTEL's lot L15 pledged to the house account H_BD1
    breaks the SEC and the CFTC customer rules on the same path: one change ends both, said
    once."""
    book = load_demo_book()
    (tmp_path / "both.mlx").write_text(
        'rulebook both "SEC and CFTC side by side"\n  cites "test"\n  extends sec, cftc\n'
    )
    both = load_rulebook(tmp_path / "both.mlx", checks=False)  # MLX602: side by side
    found = what_if(book, both, book.as_of, "ms:A10_HOTEL_MGN")
    removals = [
        line for line in found.lines if line.change == "remove the pledge of lot L15 to H_BD1"
    ]
    assert len(removals) == 1
    (line,) = removals
    assert line.rule_id == "cftc_customer_funds;sec_customer_collateral"
    assert line.citation.startswith("Commodity Exchange Act section 4d(a)(2)")
    assert line.citation.endswith("; SEC Rule 15c3-3(b)")
    assert line.clears


def test_nothing_to_change_has_no_heading_of_changes(tmp_path: Path) -> None:
    ledger = tmp_path / "l.db"
    assert CliRunner().invoke(app, ["run", "--ledger", str(ledger)]).exit_code == 0
    result = CliRunner().invoke(
        app, ["explain", "sec:ms:A01_ALICE_PM", "--ledger", str(ledger), "--what-if"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [
        "nothing to change: the set is eligible, has no call and no breach"
    ]
