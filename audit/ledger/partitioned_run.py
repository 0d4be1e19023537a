"""Record a partitioned book's run from its workers, the client's memory bounded.

A recorded run of a partitioned book on a cluster
(:func:`~marginlex.engine.distributed.partition_files.hold_files_on_cluster`) leaves each
partition's traces on the worker that built them. The client holds what the run record
needs (each rulebook's decisions, the accounts out of every scope) and the book's recorded
copy, made by one worker that reads the book whole (:func:`recorded_book`): its sha256, the
canonical zip and the digest a later ``run --since`` reads. :meth:`PartitionedRun.record`
then streams the entries into the ledger's one transaction, rulebook by rulebook, the
partitions' traces fetched in ordered slices of :data:`SLICE` decisions and interleaved by
margin set id (:func:`heapq.merge`): the order, and so every hash, of a single-process run
of the same book. A failure while fetching (a worker lost, a task failed) rolls the
transaction back: nothing is recorded.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from marginlex.audit.ledger.chain import PreparedChunk, PreparedDecision
from marginlex.audit.ledger.fork_pool import WorkerError
from marginlex.audit.ledger.gathered import cluster_run_record, partition_traces
from marginlex.audit.ledger.record import RecordedRun
from marginlex.audit.ledger.recorded_inputs import book_blob, rulebook_bundle
from marginlex.audit.ledger.records import RunOrigin, RunRecord
from marginlex.audit.ledger.store import Ledger, shown_location
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.partitioned import load_partitioned
from marginlex.engine.distributed.digests import book_digest
from marginlex.engine.distributed.partition_files import (
    HeldPartitions,
    held_slices,
    hold_files_on_cluster,
)
from marginlex.engine.distributed.worker_code import (
    Stamp,
    WorkerCodeError,
    check_stamps,
    stamp,
)

if TYPE_CHECKING:
    import datetime as dt

    from distributed import Client

SLICE = 2000
"""Decisions fetched from a partition's worker at a time."""


@dataclass(frozen=True)
class RecordedBook:
    """What a run records of its book: the sha256, canonical zip and digest of the whole
    book (:func:`recorded_book`), and the stamp of the worker that made them."""

    made_by: Stamp
    sha256: str
    blob: bytes
    digest: bytes


def recorded_book(folder: str) -> RecordedBook:
    """A worker's task: read the partitioned book whole and make its recorded copy, as a
    single-process run makes it (the only task that holds every row)."""
    book = load_partitioned(Path(folder))
    digest = book_digest(book.contract_frames(), book.meta.currency).to_bytes()
    return RecordedBook(stamp(), book.sha256, book_blob(book), digest)


def chunk_rows(chunk: PreparedChunk, start: int, stop: int) -> PreparedChunk:
    """Decisions ``start:stop`` of a prepared chunk (lookup key sets shared)."""
    cut = slice(start, stop)
    inputs = chunk.inputs_sha256
    codes = chunk.key_codes
    return replace(
        chunk,
        decision_ids=chunk.decision_ids[cut],
        margin_set_ids=chunk.margin_set_ids[cut],
        account_ids=chunk.account_ids[cut],
        statuses=chunk.statuses[cut],
        calls=chunk.calls[cut],
        requirements=chunk.requirements[cut],
        trace_sha256=chunk.trace_sha256[cut],
        trace_z=chunk.trace_z[cut],
        inputs_sha256=None if inputs is None else inputs[cut],
        key_codes=None if codes is None else codes[cut],
    )


class PartitionedRun:
    """A partitioned book's run on a cluster, recorded as :class:`~.record.RunRecorder`
    records one. It keeps the cluster's client open (``stack``) until :meth:`close`."""

    def __init__(
        self,
        stack: ExitStack,
        client: Client,
        folder: Path,
        rulebooks: Sequence[ResolvedRulebook],
        as_of: dt.date | None = None,
        *,
        frames: bool = False,
    ) -> None:
        self.stack = stack
        self.client = client
        self.rulebooks = list(rulebooks)
        self.bundles = [rulebook_bundle(rb) for rb in self.rulebooks]
        task = client.submit(recorded_book, str(folder.resolve()), pure=False)
        self.book: RecordedBook = task.result()
        check_stamps([self.book.made_by])
        self.held: HeldPartitions = hold_files_on_cluster(
            client,
            rulebooks,
            folder,
            as_of,
            after=partition_traces,
            sha256=self.book.sha256,
            lean=not frames,
        )
        self.evaluations = self.held.evaluations

    @property
    def decision_count(self) -> int:
        """Decisions of the run: one per margin set per rulebook."""
        return sum(len(ev.decisions) for ev in self.evaluations)

    def decisions(self, size: int | None = None) -> Iterator[PreparedDecision]:
        """Every decision, rulebook by rulebook, in margin set order across partitions,
        fetched from the workers slice by slice (``size`` decisions, default :data:`SLICE`)."""
        size = size or SLICE
        for i in range(len(self.rulebooks)):  # a few rulebooks
            parts = [
                (d for chunk in slices for d in chunk.decisions())
                for slices in held_slices(self.client, self.held, i, chunk_rows, size)
            ]
            yield from heapq.merge(*parts, key=lambda d: d.margin_set_id)

    def run_record(self, origin: RunOrigin | None = None) -> RunRecord:
        """The run, as :meth:`~.record.RunRecorder.run_record` makes it."""
        return cluster_run_record(self, self.book.sha256, self.held.out_of_scope, origin)

    def record(self, location: str, origin: RunOrigin | None = None) -> RecordedRun:
        """Write the run to the ledger at ``location`` in one transaction (with ``origin``).

        Raises:
            LedgerError: the ledger cannot record the run; nothing is written.
            WorkerError: fetching a partition's traces failed; nothing is written.
        """
        ledger = Ledger.open(location)
        try:
            run_id = ledger.record_run(
                self.run_record(origin),
                self._fetched(),
                self.bundles,
                self.book.blob,
                book_digest=self.book.digest,
            )
        finally:
            ledger.close()
        shown = shown_location(location)
        return RecordedRun(run_id=run_id, decisions=self.decision_count, location=shown)

    def _fetched(self) -> Iterator[PreparedDecision]:
        """:meth:`decisions`, a cluster's failure said as a :class:`WorkerError`."""
        try:
            yield from self.decisions()
        except Exception as exc:  # a task's own error, a lost worker, a closed client
            if isinstance(exc, WorkerError):
                raise
            if isinstance(exc, WorkerCodeError):  # a slice made again by another worker
                raise WorkerError(str(exc)) from exc
            raise WorkerError(f"fetching traces from the cluster failed: {exc!r}") from exc

    def close(self) -> None:
        """Release the workers' partitions and close the cluster's client."""
        self.held = replace(self.held, futures=[])
        self.stack.close()
