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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pandas as pd

from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book, book_from_frames
from marginlex.engine.book.partitioned import (
    Layout,
    partitioned_sha256,
    read_layout,
    read_partition,
)
from marginlex.engine.book.problems import BookError, BookProblem, Severity
from marginlex.engine.distributed.cluster import After, Gathered
from marginlex.engine.distributed.merge import merge_evaluations
from marginlex.engine.distributed.worker_code import Stamp, check_stamps, stamp
from marginlex.engine.evaluate import evaluate
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.plan.compile import compile_plan

if TYPE_CHECKING:
    from distributed import Client, Future

T = TypeVar("T")
LEAN_FRAMES = ("segregation",)
"""The trace frames a lean evaluation keeps: what :meth:`Evaluation.summary` reads."""


@dataclass(frozen=True)
class PartitionRun(Generic[T]):
    """What a worker sends back for one partition: the worker's stamp, its problems (nothing
    evaluated when one is an error), its content hash, and per rulebook the evaluation and
    ``after``'s result."""

    made_by: Stamp
    problems: list[BookProblem]
    sha256: str = ""
    results: list[tuple[Evaluation, T | None]] = field(default_factory=list)
    out_of_scope: int = 0  # its accounts in no margin set of any rulebook


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
        return PartitionRun(stamp(), found)
    book = book_from_frames(parsed.meta, parsed.frames, found, task.book_sha256)
    graph = AccountGraph(book)
    results: list[tuple[Evaluation, T | None]] = []
    decided: set[str] = set()
    for rulebook in task.rulebooks:  # a few rulebooks, one graph
        ev = evaluate(compile_plan(rulebook, task.as_of), book, task.as_of, graph)
        extra = task.after(ev, rulebook, book) if task.after is not None else None
        decided.update(ev.frames["sets"]["account_id"].astype("str").unique().tolist())
        results.append((lean_evaluation(ev) if task.lean else ev, extra))
    outside = len(book.accounts) - len(decided)
    return PartitionRun(stamp(), found, book.sha256, results, outside)


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
        WorkerCodeError: a partition was read or evaluated by a worker running other code
            than the client; nothing is merged.
        BookError: with every problem of the book (its cut, then each partition's), when
            one is an error; nothing is merged.
    """
    layout, task, futures = _submit(
        client, rulebooks, folder, as_of, after=after, book=book, lean=lean
    )
    runs: list[PartitionRun[T]] = client.gather(futures)  # type: ignore[no-untyped-call]
    _refuse_problems(layout, runs)
    assert layout.meta is not None  # _submit refused a book without one
    sha = task.book_sha256 or partitioned_sha256(layout.meta, [r.sha256 for r in runs])
    return [_gathered(runs, i, sha) for i in range(len(rulebooks))]


def _submit(
    client: Client,
    rulebooks: Sequence[ResolvedRulebook],
    folder: Path,
    as_of: dt.date | None,
    *,
    after: After[T] | None,
    book: Book | str | None,
    lean: bool,
) -> tuple[Layout, PartitionTask[T], list[Future[Any]]]:
    """Read the layout (refusing a bad cut or date) and submit one task per partition.
    ``book``: the whole book, or its sha256, that the partitions carry (None: their own)."""
    layout = read_layout(folder)
    if layout.meta is None or _has_errors(layout.problems):
        raise BookError(list(layout.problems))
    day = as_of or layout.meta.as_of
    for rulebook in rulebooks:  # refuse a bad date before anything is shipped
        compile_plan(rulebook, day)
    sha = book.sha256 if isinstance(book, Book) else book
    task = PartitionTask(str(folder.resolve()), list(rulebooks), day, after, sha, lean)
    ids = client.scatter(layout.account_ids, broadcast=True)  # type: ignore[no-untyped-call]
    futures = [
        client.submit(run_partition, task, str(part.resolve()), ids, pure=False)
        for part in layout.partitions
    ]
    return layout, task, futures


def _refuse_problems(layout: Layout, runs: Sequence[PartitionRun[Any]]) -> None:
    """Raise :class:`~.worker_code.WorkerCodeError` when a partition was read by a worker
    running other code than the client's, else :class:`BookError` with the cut's and every
    partition's problems, if one is an error."""
    check_stamps(r.made_by for r in runs)
    found = list(dict.fromkeys([*layout.problems, *(p for r in runs for p in r.problems)]))
    if _has_errors(found):
        raise BookError(found)


@dataclass(frozen=True)
class HeldPartitions:
    """A partitioned book evaluated on the cluster, each partition's run kept by its worker
    (``futures``): the client holds each rulebook's merged lean evaluation (decisions and
    the segregation frame, or every frame when asked), how many decisions each partition
    has per rulebook (``counts[rulebook][partition]``) and the accounts out of every scope.
    """

    futures: list[Any]
    evaluations: list[Evaluation]
    counts: list[list[int]]
    out_of_scope: int


def partition_view(run: PartitionRun[Any]) -> PartitionRun[int]:
    """A worker's task: its partition's run without ``after``'s results, their place taken by
    the number of decisions of each rulebook."""
    return replace(run, results=[(ev, len(ev.decisions)) for ev, _ in run.results])


def hold_files_on_cluster(
    client: Client,
    rulebooks: Sequence[ResolvedRulebook],
    folder: Path,
    as_of: dt.date | None = None,
    *,
    after: After[T],
    sha256: str,
    lean: bool = True,
) -> HeldPartitions:
    """Evaluate every rulebook on the partitioned book ``folder`` as
    :func:`evaluate_files_on_cluster` does (partitions carrying the whole book's ``sha256``),
    but leave ``after``'s results on the workers: :func:`held_slices` fetches them.

    Raises:
        WorkerCodeError, BookError: as :func:`evaluate_files_on_cluster` does; nothing is
            kept.
    """
    layout, _, futures = _submit(
        client, rulebooks, folder, as_of, after=after, book=sha256, lean=lean
    )
    views = [client.submit(partition_view, f, pure=False) for f in futures]
    runs: list[PartitionRun[int]] = client.gather(views)  # type: ignore[no-untyped-call]
    _refuse_problems(layout, runs)
    evaluations = [_gathered(runs, i, sha256).evaluation for i in range(len(rulebooks))]
    counts = [[int(r.results[i][1] or 0) for r in runs] for i in range(len(rulebooks))]
    return HeldPartitions(futures, evaluations, counts, sum(r.out_of_scope for r in runs))


Cut = Callable[[T, int, int], T]
"""Rows ``start:stop`` of an ``after`` result (of :func:`held_slices`)."""


def held_slice(run: PartitionRun[T], i: int, cut: Cut[T], rows: tuple[int, int]) -> tuple[Stamp, T]:
    """A worker's task: rows ``rows`` of its partition's ``after`` result for rulebook ``i``,
    with the stamp of the worker that made the result (a lost one is made again, maybe by
    a worker that joined later)."""
    extra = run.results[i][1]
    assert extra is not None  # a held run has after's results
    return run.made_by, cut(extra, *rows)


def held_slices(
    client: Client, held: HeldPartitions, i: int, cut: Cut[T], size: int
) -> list[Iterator[T]]:
    """For each partition, its ``after`` results of rulebook ``i`` in slices of ``size``
    rows, fetched in order as the iterator is read, the next slice asked for ahead; a slice
    made by a worker running other code than the client raises
    :class:`~.worker_code.WorkerCodeError`."""
    return [
        _fetched(client, future, (i, cut), size, count)
        for future, count in zip(held.futures, held.counts[i], strict=True)
    ]


def _fetched(
    client: Client, future: Future[Any], what: tuple[int, Cut[T]], size: int, count: int
) -> Iterator[T]:
    i, cut = what

    def ask(start: int) -> Future[Any]:
        rows = (start, min(start + size, count))
        return client.submit(held_slice, future, i, cut, rows, pure=False)

    starts = range(0, count, size)
    ahead = ask(starts[0]) if starts else None
    for start in starts:  # a slice in memory, the next one on its way
        assert ahead is not None
        now, ahead = ahead, ask(start + size) if start + size < count else None
        made_by, rows = now.result()
        check_stamps([made_by])
        yield rows


def _gathered(runs: list[PartitionRun[Any]], i: int, sha: str) -> Gathered[Any]:
    merged = merge_evaluations([r.results[i][0] for r in runs])
    return Gathered(merged.model_copy(update={"book_sha256": sha}), [r.results[i][1] for r in runs])


def _has_errors(problems: Sequence[BookProblem]) -> bool:
    return any(p.severity is Severity.ERROR for p in problems)
