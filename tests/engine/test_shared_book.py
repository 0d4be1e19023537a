"""One book under several rulebooks with shared row contexts (:class:`SharedBook`, what
``marginlex run`` does): every decision and trace frame is what an evaluation building its
own contexts makes, whichever rulebook ran before it and on whichever date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import Book, load_book, load_demo_book, write_book
from marginlex.engine.evaluate import evaluate
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.run import SharedBook
from marginlex.engine.synth.generate import synth_book

ORDERS = (("sec", "cftc", "harmonized"), ("harmonized", "cftc", "sec"))


def _alone(book: Book, rulebook: str, day: dt.date) -> Evaluation:
    return evaluate(compile_plan(load_rulebook(rulebook), day), book, day)


def _same(shared: Evaluation, alone: Evaluation) -> None:
    pd.testing.assert_frame_equal(shared.decisions, alone.decisions)
    assert shared.frames.keys() == alone.frames.keys()
    for name, frame in shared.frames.items():
        pd.testing.assert_frame_equal(frame, alone.frames[name], obj=name)


def _books(tmp_path: Path) -> list[Book]:
    books = [load_demo_book()]
    for seed, accounts in ((3, 400), (11, 900)):
        meta, frames = synth_book(accounts, seed)
        books.append(load_book(write_book(meta, frames, tmp_path / f"s{seed}", "parquet")))
    return books


@pytest.mark.parametrize("order", ORDERS)
def test_shared_contexts_decide_as_fresh_ones(tmp_path: Path, order: tuple[str, ...]) -> None:
    for book in _books(tmp_path):
        shared = SharedBook(book)
        earlier = book.as_of - dt.timedelta(days=45)
        for day in (book.as_of, earlier, book.as_of):  # a second date, then the first again
            for rulebook in order:
                _same(shared.evaluate(rulebook, day), _alone(book, rulebook, day))
