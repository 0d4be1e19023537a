"""``evaluate(..., trace=False)``: the same decisions without the trace-only frames.

``stress`` reads only the decisions of its stacked books; building the eligibility texts,
the class-group and position traces and the lots' schedule candidates cost it a quarter of
its evaluation time. Checked on the demo and on synthetic books of two seeds, under the
three shipped rulebooks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import Book, load_book, load_demo_book, write_book
from marginlex.engine.evaluate import evaluate
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.synth.generate import synth_book


def _books(tmp: Path) -> list[Book]:
    books = [load_demo_book()]
    for accounts, seed in ((600, 5), (1500, 13)):
        meta, frames = synth_book(accounts, seed)
        books.append(load_book(write_book(meta, frames, tmp / f"b{seed}")))
    return books


@pytest.mark.parametrize("rulebook", ["sec", "cftc", "harmonized"])
def test_decisions_are_the_same_without_the_trace(rulebook: str, tmp_path: Path) -> None:
    for book in _books(tmp_path):
        plan = compile_plan(load_rulebook(rulebook), book.as_of)
        full = evaluate(plan, book)
        lean = evaluate(plan, book, trace=False)
        assert lean.decisions.equals(full.decisions)
        assert len(full.frames["positions"]) > 0
        for name in ("eligibility", "class_groups", "positions"):
            assert lean.frames[name].empty, name
        for name in ("sets", "segregation", "offsets", "clearing_split"):
            assert lean.frames[name].equals(full.frames[name]), name
