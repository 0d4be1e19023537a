"""Evaluate the hybrids of an attribution, in this process or in worker processes.

Each hybrid is evaluated once on the same (sub-)book, independently of the others, so they
can run side by side. Workers are started with ``spawn`` (no fork of a process that holds
pyarrow threads); each receives the book once, through the pool initializer.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import numpy.typing as npt
import pandas as pd

from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book import Book
from marginlex.engine.compare_figures import MEASURES, account_figures, decide
from marginlex.engine.graph import AccountGraph

Figures = npt.NDArray[np.int64]
_WORKER: dict[str, FigureRunner] = {}


class FigureRunner:
    """Evaluates rulebooks on one (sub-)book; returns the changed accounts' figures (cents)."""

    def __init__(self, book: Book, as_of: dt.date, changed: pd.Index) -> None:
        self.book, self.as_of, self.changed = book, as_of, changed
        self.graph = AccountGraph(book)

    def figures(self, rulebook: ResolvedRulebook) -> Figures:
        """Requirement, value and call of each changed account (rows in ``changed`` order)."""
        decisions = decide(rulebook, self.book, self.as_of, self.graph)
        frame = account_figures(decisions, self.book.accounts["account_id"], rulebook.id)
        frame = frame.set_index("account_id").reindex(self.changed)
        return frame[list(MEASURES)].to_numpy(np.int64)

    def try_figures(self, rulebook: ResolvedRulebook) -> Figures | None:
        """The figures, or None when the rulebook does not compile or evaluate."""
        try:
            return self.figures(rulebook)
        except (ValueError, LookupError):  # CompileError, EvaluationError, a missing parameter
            return None


def _start(book: Book, as_of: dt.date, changed: pd.Index) -> None:
    _WORKER["runner"] = FigureRunner(book, as_of, changed)


def _run(rulebook: ResolvedRulebook) -> Figures | None:
    return _WORKER["runner"].try_figures(rulebook)


def evaluate_all(
    runner: FigureRunner, rulebooks: Sequence[ResolvedRulebook], workers: int = 1
) -> list[Figures | None]:
    """Each rulebook's figures (None where it does not evaluate), in order.

    Args:
        runner: the runner of this process (its book is sent to the workers).
        rulebooks: the hybrids to evaluate.
        workers: worker processes; 1 evaluates here, one after the other.
    """
    if workers <= 1 or len(rulebooks) < 2:
        return [runner.try_figures(r) for r in rulebooks]
    context = multiprocessing.get_context("spawn")
    args = (runner.book, runner.as_of, runner.changed)
    with ProcessPoolExecutor(
        min(workers, len(rulebooks)), mp_context=context, initializer=_start, initargs=args
    ) as pool:
        return list(pool.map(_run, rulebooks))
