"""Phase-level reuse: a run that reuses the previous run's unchanged phases decides exactly
as a fresh full evaluation, for every step of the attribution walks (demo and synth)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from marginlex.dsl.diff import diff_rulebooks
from marginlex.dsl.hybrid import hybrid
from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import Book, load_book, load_demo_book, write_book
from marginlex.engine.evaluate import evaluate, evaluate_run
from marginlex.engine.evaluation import FRAME_COLUMNS
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.phases.reuse import ALL_PHASES, Reuse, phases_to_recompute, reuse_from
from marginlex.engine.plan.compile import CompileError, compile_plan
from marginlex.engine.plan.context import build_contexts
from marginlex.engine.plan.steps import Phase, Plan
from marginlex.engine.synth.generate import synth_book
from marginlex.engine.variants.attribution import switch_order

PAIRS = [
    ("sec", "cftc"),
    ("sec", "harmonized"),
    ("harmonized", "harmonized_85pct_offsets"),
    ("harmonized", "harmonized_no_digital_collateral"),
]


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Book:
    meta, frames = synth_book(300, 4)
    return load_book(write_book(meta, frames, tmp_path_factory.mktemp("reuse") / "book"))


def _walk_plans(a_id: str, b_id: str, book: Book) -> list[Plan]:
    """The plans of the attribution walk from A to B that compile (A and B included)."""
    a, b = load_rulebook(a_id), load_rulebook(b_id)
    order = switch_order(diff_rulebooks(a, b))
    plans = []
    for k in range(len(order) + 1):
        try:
            plans.append(compile_plan(hybrid(a, b, order[:k], f"{a_id}__step{k}"), book.as_of))
        except (CompileError, KeyError):
            continue  # not evaluable alone; the walk switches it with the next statement
    return plans


def _check_walk(a_id: str, b_id: str, book: Book) -> int:
    """Evaluate the walk with reuse and afresh; return how many runs skipped a phase."""
    graph = AccountGraph(book)
    contexts = build_contexts(book, book.as_of, graph)
    # The fresh runs get their own graph and contexts: nothing is shared with the reused.
    own_graph = AccountGraph(book)
    own_contexts = build_contexts(book, book.as_of, own_graph)
    previous: Reuse | None = None
    partial = 0
    for plan in _walk_plans(a_id, b_id, book):
        reuse = reuse_from(previous, plan) if previous is not None else None
        try:
            fresh = evaluate(plan, book, graph=own_graph, contexts=own_contexts)
        except (ValueError, LookupError):
            with pytest.raises((ValueError, LookupError)):
                evaluate_run(plan, book, graph=graph, contexts=contexts, reuse=reuse)
            continue
        reused, previous = evaluate_run(plan, book, graph=graph, contexts=contexts, reuse=reuse)
        partial += reuse is not None and reuse.recompute != ALL_PHASES
        pd.testing.assert_frame_equal(reused.decisions, fresh.decisions)
        for name in FRAME_COLUMNS:
            pd.testing.assert_frame_equal(reused.frames[name], fresh.frames[name], obj=name)
    return partial


@pytest.mark.parametrize(("a_id", "b_id"), PAIRS)
def test_reused_walk_equals_fresh_on_the_demo_book(a_id: str, b_id: str) -> None:
    _check_walk(a_id, b_id, load_demo_book())


@pytest.mark.parametrize(("a_id", "b_id"), PAIRS)
def test_reused_walk_equals_fresh_on_a_synth_book(a_id: str, b_id: str, synth: Book) -> None:
    assert _check_walk(a_id, b_id, synth) > 0  # some step really reused phases


def _switch(a_id: str, b_id: str, ids: list[str]) -> frozenset[Phase]:
    a, b = load_rulebook(a_id), load_rulebook(b_id)
    day = load_demo_book().as_of
    return phases_to_recompute(compile_plan(a, day), compile_plan(hybrid(a, b, ids), day))


def test_a_haircut_reruns_haircuts_and_concentration_only() -> None:
    assert _switch("sec", "cftc", ["sec_digital_assets"]) == {
        Phase.HAIRCUT,
        Phase.CONCENTRATION,
    }


def test_an_offset_parameter_reruns_offsets_and_concentration_only() -> None:
    a, b = "harmonized", "harmonized_85pct_offsets"
    ids = switch_order(diff_rulebooks(load_rulebook(a), load_rulebook(b)))
    assert _switch(a, b, ids) == {Phase.OFFSET, Phase.CONCENTRATION}


def test_a_scope_change_reruns_everything() -> None:
    assert _switch("sec", "cftc", ["sec_accounts", "cftc_accounts"]) == ALL_PHASES


def test_a_reuse_of_another_book_is_refused(tmp_path: Path) -> None:
    book = load_demo_book()
    plan = compile_plan(load_rulebook("sec"), book.as_of)
    _, run = evaluate_run(plan, book)
    other = book.model_copy()
    with pytest.raises(ValueError, match="same book"):
        evaluate_run(plan, other, reuse=reuse_from(run, plan))
