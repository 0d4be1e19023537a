"""Evaluate the hybrids of an attribution, in this process or in worker processes.

Each hybrid is evaluated once on the same (sub-)book, independently of the others, so they
can run side by side. Workers are started with ``spawn`` (no fork of a process that holds
pyarrow threads); each receives the book once, through the pool initializer.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import numpy.typing as npt
import pandas as pd

from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book
from marginlex.engine.evaluate import evaluate_run
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.phases.reuse import Reuse, reuse_from
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.plan.context import Contexts, build_contexts
from marginlex.engine.variants.figures import anchor_figures

Figures = npt.NDArray[np.int64]
Progress = Callable[[int, int], None]
"""Told ``(done, total)`` after each unit of long work (e.g. each hybrid evaluated)."""
_WORKER: dict[str, FigureRunner] = {}


class FigureRunner:
    """Evaluates rulebooks on one (sub-)book; returns the changed accounts' figures (cents).

    The graph and row contexts are built once; each evaluation reuses the phases of the
    previous successful one that the new rulebook leaves unchanged
    (:mod:`marginlex.engine.phases.reuse`), so a walk of hybrids that differ in one statement
    each runs only the phases that statement moves.
    """

    def __init__(
        self,
        book: Book,
        as_of: dt.date,
        changed: pd.Index,
        *,
        graph: AccountGraph | None = None,
        contexts: Contexts | None = None,
    ) -> None:
        """Build the runner; ``graph`` and ``contexts`` are the book's, when the caller
        already built them."""
        self.book, self.as_of, self.changed = book, as_of, changed
        self.graph = graph or AccountGraph(book)
        self.contexts = contexts or build_contexts(book, as_of, self.graph)
        self.previous: Reuse | None = None

    def figures(self, rulebook: ResolvedRulebook) -> Figures:
        """Requirement, value and call of each changed account (rows in ``changed`` order)."""
        plan = compile_plan(rulebook, self.as_of)
        reuse = reuse_from(self.previous, plan) if self.previous is not None else None
        evaluation, self.previous = evaluate_run(
            plan, self.book, self.as_of, self.graph, contexts=self.contexts, reuse=reuse
        )
        return anchor_figures(evaluation.decisions, self.changed)

    def try_figures(self, rulebook: ResolvedRulebook) -> Figures | None:
        """The figures, or None when the rulebook does not compile or evaluate."""
        try:
            return self.figures(rulebook)
        except (ValueError, LookupError):  # CompileError, EvaluationError, a missing parameter
            return None


def _start(kind: type[FigureRunner], book: Book, as_of: dt.date, changed: pd.Index) -> None:
    _WORKER["runner"] = kind(book, as_of, changed)


def _run(rulebook: ResolvedRulebook) -> Figures | None:
    return _WORKER["runner"].try_figures(rulebook)


def evaluate_all(
    runner: FigureRunner,
    rulebooks: Sequence[ResolvedRulebook],
    workers: int = 1,
    progress: Progress | None = None,
) -> list[Figures | None]:
    """Each rulebook's figures (None where it does not evaluate), in order.

    Args:
        runner: the runner of this process (its book is sent to the workers).
        rulebooks: the hybrids to evaluate.
        workers: worker processes; 1 evaluates here, one after the other.
        progress: told ``(done, total)`` as each hybrid's figures arrive.
    """
    tell = progress or (lambda _done, _total: None)
    total = len(rulebooks)
    if workers <= 1 or total < 2:
        return [_told(runner.try_figures(r), k + 1, total, tell) for k, r in enumerate(rulebooks)]
    context = multiprocessing.get_context("spawn")
    args = (type(runner), runner.book, runner.as_of, runner.changed)
    with ProcessPoolExecutor(
        min(workers, total), mp_context=context, initializer=_start, initargs=args
    ) as pool:
        # Contiguous chunks: each worker walks consecutive hybrids, which reuse each other.
        chunk = -(-total // min(workers, total))
        results = pool.map(_run, rulebooks, chunksize=chunk)
        return [_told(f, k + 1, total, tell) for k, f in enumerate(results)]


def _told(figures: Figures | None, done: int, total: int, tell: Progress) -> Figures | None:
    tell(done, total)
    return figures
