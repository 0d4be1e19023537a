"""Record a run in the ledger: every rulebook's decisions, their texts and the book, at once.

``marginlex run --ledger`` calls :func:`record_run`. The traces are built and serialized
before the ledger is opened for writing, and the whole run (all rulebooks) is one
transaction: a run that fails to evaluate or to record leaves nothing.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from marginlex import __version__
from marginlex.audit.chain import PreparedDecision
from marginlex.audit.from_evaluation import (
    TraceColumns,
    prepared_decisions,
    trace_bytes,
    trace_columns,
)
from marginlex.audit.ledger import Ledger
from marginlex.audit.recorded_inputs import book_blob, rulebook_bundle, rulebook_sha256
from marginlex.audit.records import RunRecord
from marginlex.audit.trace import DecisionTrace, RulebookRef
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book import Book
from marginlex.engine.evaluation import Evaluation

PARALLEL_SETS = 20_000
"""Margin sets from which traces are built by worker processes, in chunks of this size."""
SELF_CHECK = 50
"""Traces per rulebook validated into the pydantic model before recording (a guard: the
column-wise serializer must write exactly the bytes the model does)."""


class TraceSerializationError(RuntimeError):
    """The fast serializer disagrees with the trace model: a bug, nothing is recorded."""


@dataclass(frozen=True)
class RecordedRun:
    """What :func:`record_run` wrote."""

    run_id: str
    decisions: int
    location: str


def out_of_every_scope(evaluations: Sequence[Evaluation], book: Book) -> int:
    """Accounts of the book that no rulebook of the run decided (in no margin set)."""
    decided = set()
    for ev in evaluations:  # a few rulebooks
        decided.update(ev.frames["sets"]["account_id"].astype("str").unique().tolist())
    return len(book.accounts) - len(decided)


def rulebook_ref(rulebook: ResolvedRulebook, ev: Evaluation, bundle: str) -> RulebookRef:
    """The trace's reference to a rulebook: id, title, version, canonical-text sha256."""
    return RulebookRef(
        id=ev.plan.rulebook_id,
        name=ev.plan.title,
        version=ev.plan.version,
        sha256=rulebook_sha256(bundle),
    )


def self_check(columns: TraceColumns, count: int = SELF_CHECK) -> None:
    """Validate the first traces and compare their bytes with the model's.

    Raises:
        TraceSerializationError: a trace does not validate or serializes differently.
    """
    for index, (did, body) in enumerate(trace_bytes(columns)):
        if index >= count:
            return
        try:
            model = DecisionTrace.model_validate_json(body)
        except ValueError as exc:
            raise TraceSerializationError(f"trace {did} does not validate: {exc}") from exc
        if model.canonical() != body:
            raise TraceSerializationError(f"trace {did}: serializer and model bytes differ")


def set_codes(ev: Evaluation) -> dict[str, npt.NDArray[np.int64]]:
    """Each trace frame row's margin set, as its row in ``ev.decisions`` (-1: none)."""
    index = pd.Index(ev.decisions["margin_set_id"].astype("str").to_numpy())
    return {
        name: np.asarray(
            index.get_indexer(pd.Index(frame["margin_set_id"].astype("str"))), np.int64
        )
        for name, frame in ev.frames.items()
    }


def slice_evaluation(
    ev: Evaluation, start: int, stop: int, codes: dict[str, npt.NDArray[np.int64]] | None = None
) -> Evaluation:
    """The evaluation cut to its decisions ``start:stop`` and their trace rows."""
    codes = codes if codes is not None else set_codes(ev)
    frames = {
        name: frame[(codes[name] >= start) & (codes[name] < stop)].reset_index(drop=True)
        for name, frame in ev.frames.items()
    }
    decisions = ev.decisions.iloc[start:stop].reset_index(drop=True)
    return ev.model_copy(update={"decisions": decisions, "frames": frames})


def build_columns(
    evaluations: Sequence[Evaluation],
    rulebooks: Sequence[ResolvedRulebook],
    book: Book,
    engine_version: str = __version__,
) -> tuple[list[TraceColumns], list[str]]:
    """Every evaluation's traces and each rulebook's canonical text (bundle)."""
    columns, bundles = [], []
    for ev, rulebook in zip(evaluations, rulebooks, strict=True):  # a few rulebooks
        bundle = rulebook_bundle(rulebook)
        cols = trace_columns(ev, book, rulebook_ref(rulebook, ev, bundle), engine_version)
        self_check(cols)
        columns.append(cols)
        bundles.append(bundle)
    return columns, bundles


# Work handed to forked workers: they inherit it, so no frame is pickled to them.
_Work = tuple[Evaluation, dict[str, npt.NDArray[np.int64]], RulebookRef, Book, str]
_WORK: list[_Work] = []


def _prepare_part(task: tuple[int, int, int]) -> list[PreparedDecision]:
    index, start, stop = task
    ev, codes, ref, book, engine_version = _WORK[index]
    part = slice_evaluation(ev, start, stop, codes)
    return prepared_decisions(trace_columns(part, book, ref, engine_version), threads=1)


def prepare_run(
    evaluations: Sequence[Evaluation],
    rulebooks: Sequence[ResolvedRulebook],
    book: Book,
    engine_version: str = __version__,
) -> tuple[list[RulebookRef], list[str], list[PreparedDecision]]:
    """Each rulebook's reference and canonical text, and every decision ready to record.

    Large runs are cut into chunks of :data:`PARALLEL_SETS` margin sets, serialized by forked
    worker processes (one per CPU); the first traces of each rulebook are checked against
    the trace model first (:func:`self_check`).
    """
    refs, bundles = [], []
    for ev, rulebook in zip(evaluations, rulebooks, strict=True):  # a few rulebooks
        bundles.append(rulebook_bundle(rulebook))
        refs.append(rulebook_ref(rulebook, ev, bundles[-1]))
        head = slice_evaluation(ev, 0, SELF_CHECK)
        self_check(trace_columns(head, book, refs[-1], engine_version))
    tasks = [
        (k, start, start + PARALLEL_SETS)
        for k, ev in enumerate(evaluations)
        for start in range(0, len(ev.decisions), PARALLEL_SETS)
    ]
    _WORK[:] = [
        (ev, set_codes(ev), ref, book, engine_version)
        for ev, ref in zip(evaluations, refs, strict=True)
    ]
    try:
        if len(tasks) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
            parts = [_prepare_part(task) for task in tasks]
        else:
            context = multiprocessing.get_context("fork")
            workers = min(len(tasks), os.cpu_count() or 1)
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                parts = list(pool.map(_prepare_part, tasks))
    finally:
        _WORK.clear()
    return refs, bundles, [d for part in parts for d in part]


def record_run(
    location: str,
    evaluations: Sequence[Evaluation],
    rulebooks: Sequence[ResolvedRulebook],
    book: Book,
    engine_version: str = __version__,
) -> RecordedRun:
    """Record one run (every rulebook's decisions) in the ledger at ``location``.

    Args:
        location: a SQLite path or a PostgreSQL URL.
        evaluations: one evaluation per rulebook, of ``book``.
        rulebooks: the resolved rulebooks, in the same order.
        book: the book evaluated.
        engine_version: stamped in the run and every trace.

    Returns:
        The run id, the number of decisions and where they were written.
    """
    refs, bundles, decisions = prepare_run(evaluations, rulebooks, book, engine_version)
    blob = book_blob(book)
    run = RunRecord(
        as_of=evaluations[0].as_of,
        book_sha256=book.sha256,
        engine_version=engine_version,
        out_of_scope=out_of_every_scope(evaluations, book),
        rulebooks=tuple(refs),
    )
    ledger = Ledger.open(location)
    try:
        run_id = ledger.record_run(run, decisions, bundles, blob)
    finally:
        ledger.close()
    return RecordedRun(run_id=run_id, decisions=len(decisions), location=location)
