"""Evaluate the hybrids of many coalitions, sharing what they have in common.

A Shapley study evaluates hundreds of hybrids that each take a different subset of the
differing statements from the other rulebook. :class:`CoalitionRunner` keeps the runs of the
last ``pool`` coalitions and evaluates each new hybrid from the kept run that leaves the
least to do: the phases whose inputs (steps and parameters,
:func:`marginlex.engine.phases.reuse.phase_inputs`) differ from that run's, and the phases
that read them, run again; the others are taken as they are
(:mod:`marginlex.engine.phases.reuse`). Equal inputs to every phase give equal figures, so a
hybrid whose plan reads exactly like one already evaluated (e.g. two coalitions that differ
only in a statement not in force) is not evaluated at all. The walk
(:func:`marginlex.engine.variants.study.sampling.walk`) puts coalitions that differ in one
player next to each other, so the previous run is usually the best base.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict

import pandas as pd

from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book
from marginlex.engine.evaluate import evaluate_run
from marginlex.engine.phases.reuse import Reuse, phase_inputs, with_readers
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.plan.steps import Phase
from marginlex.engine.variants.attribution_pool import FigureRunner, Figures
from marginlex.engine.variants.figures import anchor_figures

# CPU per phase on the demo book (ms, measured), to pick the base that leaves the least work;
# only the ranking matters, and the phases rank alike on larger books.
PHASE_COST: dict[Phase, int] = {
    Phase.SCOPE: 1,
    Phase.ELIGIBILITY: 55,
    Phase.MARGIN_SETS: 28,
    Phase.SEGREGATION: 50,
    Phase.MARGIN: 75,
    Phase.INITIAL: 1,
    Phase.OFFSET: 43,
    Phase.HAIRCUT: 25,
    Phase.CONCENTRATION: 4,
    Phase.MINIMUM_EQUITY: 1,
    Phase.CONCENTRATION_ADD_ON: 2,
}
POOL = 32
POOL_ROWS = 2_000_000
"""Runs kept: at most :data:`POOL`, and at most this many position and lot rows in all."""

Signature = tuple[int, ...]


def pool_size(book: Book) -> int:
    """How many runs to keep for a book (at least 2: the previous one and another).

    >>> from marginlex.engine.book.load import load_demo_book
    >>> pool_size(load_demo_book())
    32
    """
    rows = len(book.positions) + len(book.collateral)
    return max(2, min(POOL, POOL_ROWS // max(rows, 1)))


class CoalitionRunner(FigureRunner):
    """A :class:`FigureRunner` that evaluates each rulebook from the best of its kept runs.

    Attributes:
        evaluations: hybrids evaluated (the others had a plan already seen).
        phases_run: phases run over all evaluations (9 per evaluation from scratch).
    """

    def __init__(self, book: Book, as_of: dt.date, changed: pd.Index) -> None:
        """Build the runner for ``book`` (kept runs: :func:`pool_size`)."""
        super().__init__(book, as_of, changed)
        self.pool = pool_size(book)
        self.runs: OrderedDict[Signature, Reuse] = OrderedDict()
        self.seen: dict[Signature, Figures] = {}
        self._ids: dict[tuple[object, ...], int] = {}
        self.evaluations = 0
        self.phases_run = 0

    def _signature(self, inputs: tuple[tuple[object, ...], ...]) -> Signature:
        return tuple(self._ids.setdefault(x, len(self._ids)) for x in inputs)

    def _base(self, sig: Signature) -> Reuse | None:
        """The kept run that leaves the fewest phases (by cost) to run, with those phases."""
        best: tuple[Signature, Reuse] | None = None
        cost = sum(PHASE_COST.values())
        for old, run in self.runs.items():
            redo = with_readers({p for p in Phase if old[p] != sig[p]})
            here = sum(PHASE_COST[p] for p in redo)
            if here < cost:
                best, cost = (old, Reuse(run.state, run.outputs, redo)), here
        if best is None:
            return None
        self.runs.move_to_end(best[0])  # kept longer: a good base for what follows
        return best[1]

    def figures(self, rulebook: ResolvedRulebook) -> Figures:
        """Requirement, value and call of each changed account (rows in ``changed`` order)."""
        plan = compile_plan(rulebook, self.as_of)
        sig = self._signature(phase_inputs(plan))
        if sig in self.seen:
            return self.seen[sig]
        base = self._base(sig)
        evaluation, fresh = evaluate_run(
            plan, self.book, self.as_of, self.graph, contexts=self.contexts, reuse=base
        )
        self.evaluations += 1
        self.phases_run += len(base.recompute) if base is not None else len(Phase)
        self.runs[sig] = fresh
        while len(self.runs) > self.pool:
            self.runs.popitem(last=False)
        figures = anchor_figures(evaluation.decisions, self.changed)
        self.seen[sig] = figures
        return figures
