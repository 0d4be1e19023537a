"""The stacked book makes exactly the decisions each book makes alone; stress sums add up."""

from __future__ import annotations

import pandas as pd
import pytest

from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import Book, canonical_order, load_book, load_demo_book, write_book
from marginlex.engine.book.schema import FILES
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.stress.batch import (
    batches,
    decide_batch,
    decide_stacked,
    prepare_stack,
    stack_frames,
)
from marginlex.engine.stress.reprice import shock_book, shocked_frames
from marginlex.engine.stress.run import stress
from marginlex.engine.stress.shocks import Scenario, parse_shock, parse_vol
from marginlex.engine.synth.generate import synth_book
from marginlex.engine.variants.figures import decide

CRASH = Scenario(name="crash", shocks=(parse_shock("class_group=SPX:-20%"), parse_vol("+10pts")))
RALLY = Scenario(name="rally", shocks=(parse_shock("class_group=SPX:+20%"),))
RATES = Scenario(name="rates", shocks=(parse_shock("product=ust_*:+150bp"),))


@pytest.fixture(scope="module")
def small_synth(tmp_path_factory: pytest.TempPathFactory) -> Book:
    meta, frames = synth_book(200, 11)
    return load_book(write_book(meta, frames, tmp_path_factory.mktemp("synth")))


@pytest.mark.parametrize("rulebook", ["sec", "cftc", "harmonized"])
@pytest.mark.parametrize("which", ["demo", "synth"])
def test_batch_equals_one_book_at_a_time(rulebook: str, which: str, small_synth: Book) -> None:
    book = load_demo_book() if which == "demo" else small_synth
    books = [book, *(shock_book(book, s) for s in (CRASH, RATES))]
    resolved = load_rulebook(rulebook)
    got = decide_batch(resolved, books, book.as_of)
    for k, one in enumerate(books):
        pd.testing.assert_frame_equal(got[k], decide(resolved, one, book.as_of))


@pytest.mark.parametrize("order", [("sec", "cftc", "harmonized"), ("harmonized", "cftc", "sec")])
def test_one_stack_shared_by_every_rulebook(order: tuple[str, ...], small_synth: Book) -> None:
    """One stack, graph and contexts serve the rulebooks in turn: whatever ran before,
    each rulebook makes the decisions of one book at a time (nothing leaks between runs)."""
    book = small_synth
    scenarios = (CRASH, RALLY, RATES)
    frames = [book.contract_frames(), *(shocked_frames(book, s) for s in scenarios)]
    stacked = prepare_stack(book, frames, book.as_of)
    alone = [book, *(shock_book(book, s) for s in scenarios)]
    for rulebook in (load_rulebook(r) for r in order):
        got = decide_stacked(compile_plan(rulebook, book.as_of), stacked)
        for k, one in enumerate(alone):
            pd.testing.assert_frame_equal(got[k], decide(rulebook, one, book.as_of))


def test_shocked_frames_are_the_shocked_book() -> None:
    """The bare frames ``stress`` stacks are the contract frames of :func:`shock_book`."""
    book = load_demo_book()
    frames = shocked_frames(book, RALLY)
    for stem, frame in shock_book(book, RALLY).contract_frames().items():
        pd.testing.assert_frame_equal(frames[stem], frame)


def test_stack_is_in_canonical_order_without_a_sort() -> None:
    """Twelve sets stacked (tags ~s10~ and ~s11~ sort before ~s1~): every stacked frame is
    already in the order :func:`canonical_order` gives it."""
    book = load_demo_book()
    frames = [book.contract_frames(), shocked_frames(book, RALLY)] * 6
    stacked = stack_frames(book, frames).contract_frames()
    first = stacked["accounts"]["account_id"].iloc[:: len(book.accounts)].str.slice(0, 5)
    assert first.tolist()[:5] == ["~s0~A", "~s10~", "~s11~", "~s1~A", "~s2~A"]
    for spec in FILES:
        pd.testing.assert_frame_equal(stacked[spec.stem], canonical_order(spec, stacked[spec.stem]))


def test_batches_bound_positions() -> None:
    assert batches([3, 3, 3, 3], 6) == [range(0, 2), range(2, 4)]
    assert batches([10, 1], 5) == [range(0, 1), range(1, 2)]  # one book at least
    assert batches([1, 1, 1], 100) == [range(0, 3)]


def test_stress_counts_on_the_demo_book() -> None:
    """Under CFTC the S&P rally creates one call (DELTA's short futures, see
    test_stress_reprice) and clears FOX's and GOLF's (long ES: +600,000 and +120,000 of
    variation settlement); the batch split into one book per batch gives the same result."""
    book = load_demo_book()
    rulebooks = [load_rulebook("cftc"), load_rulebook("sec")]
    result = stress(book, rulebooks, [RALLY, RATES])
    rally = result.impact("rally", "cftc")
    assert (rally.calls_created, rally.calls_grown, rally.calls_cleared) == (1, 0, 2)
    assert rally.most_affected[0].margin_set_id == "ms:A05_DELTA_FUT"
    assert rally.most_affected[0].call_to == 1_254_400.0
    base = result.baselines[0].totals
    assert rally.call_delta == pytest.approx(rally.totals.total_call - base.total_call)
    assert rally.requirement_delta == pytest.approx(
        rally.totals.total_requirement - base.total_requirement
    )
    one_by_one = stress(book, rulebooks, [RALLY, RATES], batch_positions=1)
    assert one_by_one == result


def test_scenario_names_must_differ() -> None:
    with pytest.raises(ValueError, match="scenario names repeat"):
        stress(load_demo_book(), [load_rulebook("sec")], [RALLY, RALLY])
