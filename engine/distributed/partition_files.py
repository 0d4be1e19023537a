"""Evaluate a partitioned book on a Dask cluster: each worker reads its own partitions.

The client reads only what it needs to start (``book.json``, two columns of each
partition's accounts: the cut's check and every account id, :func:`read_layout`) and ships
paths, not rows: one task per partition reads the partition's files and the whole book's
small tables (parties, relations, instruments), validates them, evaluates every rulebook
on them (one account graph shared by the rulebooks) and runs ``after`` on each evaluation.
With ``lean``, an evaluation travels back with its decisions and segregation frame only
(what a run's summary reads), not its trace frames. The client merges each rulebook's
partitions (:func:`~.merge.merge_evaluations`). The folder must be readable at the same path
on every worker (a shared file system, or the same copy on each host).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pandas as pd

from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book, book_from_frames
from marginlex.engine.book.partitioned import partitioned_sha256, read_layout, read_partition
from marginlex.engine.book.problems import BookError, BookProblem, Severity
from marginlex.engine.distributed.cluster import After, Gathered
from marginlex.engine.distributed.merge import merge_evaluations
from marginlex.engine.evaluate import evaluate
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.plan.compile import compile_plan

if TYPE_CHECKING:
    from distributed import Client

T = TypeVar("T")
LEAN_FRAMES = ("segregation",)
"""The trace frames a lean evaluation keeps: what :meth:`Evaluation.summary` reads."""


@dataclass(frozen=True)
class PartitionRun(Generic[T]):
    """What a worker sends back for one partition: its problems (nothing evaluated when one
    is an error), its content hash, and per rulebook the evaluation and ``after``'s result."""

    problems: list[BookProblem]
    sha256: str = ""
    results: list[tuple[Evaluation, T | None]] = field(default_factory=list)


@dataclass(frozen=True)
class PartitionTask(Generic[T]):
    """The work of one partition's task, the same for every partition but its path."""

    folder: str
    rulebooks: list[ResolvedRulebook]
    as_of: dt.date
    after: After[T] | None
    book_sha256: str | None
    lean: bool


def run_partition(task: PartitionTask[T], part: str, account_ids: pd.Series) -> PartitionRun[T]:
    """A worker's task: read, validate and evaluate one partition under every rulebook."""
    parsed, problems = read_partition(Path(task.folder), Path(part), account_ids)
    found = problems.to_list()
    if problems.has_errors() or parsed.meta is None:
        return PartitionRun(found)
    book = book_from_frames(parsed.meta, parsed.frames, found, task.book_sha256)
    graph = AccountGraph(book)
    results: list[tuple[Evaluation, T | None]] = []
    for rulebook in task.rulebooks:  # a few rulebooks, one graph
        ev = evaluate(compile_plan(rulebook, task.as_of), book, task.as_of, graph)
        extra = task.after(ev, rulebook, book) if task.after is not None else None
        results.append((lean_evaluation(ev) if task.lean else ev, extra))
    return PartitionRun(found, book.sha256, results)


def lean_evaluation(ev: Evaluation) -> Evaluation:
    """``ev`` with only the trace frames a summary reads (:data:`LEAN_FRAMES`)."""
    return ev.model_copy(
        update={"frames": {n: f for n, f in ev.frames.items() if n in LEAN_FRAMES}}
    )


def evaluate_files_on_cluster(
    client: Client,
    rulebooks: Sequence[ResolvedRulebook],
    folder: Path,
    as_of: dt.date | None = None,
    after: After[T] | None = None,
    *,
    book: Book | None = None,
    lean: bool = False,
) -> list[Gathered[T]]:
    """Evaluate every rulebook on the partitioned book ``folder``, partitions read by the
    workers.

    Args:
        client: a dask distributed client.
        rulebooks: resolved rulebooks, in run order.
        folder: a partitioned book (:mod:`marginlex.engine.book.partitioned`).
        as_of: the as-of date (default: the book's).
        after: run by the worker on each partition's evaluation (building traces, say).
        book: the book read whole, when the client has it (a recorded run): the partitions
            then carry its sha256; without it, the run's book sha256 is
            :func:`~marginlex.engine.book.partitioned.partitioned_sha256`.
        lean: send back decisions and the segregation frame only (no trace frames).

    Returns:
        One :class:`Gathered` per rulebook, in order.

    Raises:
        BookError: with every problem of the book (its cut, then each partition's), when
            one is an error; nothing is merged.
    """
    layout = read_layout(folder)
    if layout.meta is None or _has_errors(layout.problems):
        raise BookError(list(layout.problems))
    day = as_of or layout.meta.as_of
    for rulebook in rulebooks:  # refuse a bad date before anything is shipped
        compile_plan(rulebook, day)
    sha = book.sha256 if book is not None else None
    task = PartitionTask(str(folder.resolve()), list(rulebooks), day, after, sha, lean)
    ids = client.scatter(layout.account_ids, broadcast=True)  # type: ignore[no-untyped-call]
    futures = [
        client.submit(run_partition, task, str(part.resolve()), ids, pure=False)
        for part in layout.partitions
    ]
    runs: list[PartitionRun[T]] = client.gather(futures)  # type: ignore[no-untyped-call]
    found = list(dict.fromkeys([*layout.problems, *(p for r in runs for p in r.problems)]))
    if _has_errors(found):
        raise BookError(found)
    sha = sha or partitioned_sha256(layout.meta, [r.sha256 for r in runs])
    return [_gathered(runs, i, sha) for i in range(len(rulebooks))]


def _gathered(runs: list[PartitionRun[Any]], i: int, sha: str) -> Gathered[Any]:
    merged = merge_evaluations([r.results[i][0] for r in runs])
    return Gathered(merged.model_copy(update={"book_sha256": sha}), [r.results[i][1] for r in runs])


def _has_errors(problems: Sequence[BookProblem]) -> bool:
    return any(p.severity is Severity.ERROR for p in problems)
