"""Record a run evaluated on a Dask cluster: traces built by the workers, written in order.

Each worker builds the traces of its partition (:func:`partition_traces`, the ``after`` of
:func:`marginlex.engine.distributed.cluster.evaluate_on_cluster`) and each set's input hash
(so a later ``run --since`` can follow a cluster run), so the client receives compressed
traces, not trace frames. Each partition's decisions are in margin set order, so
the client interleaves the partitions' prepared decisions by margin set id
(:func:`heapq.merge`): the decisions reach the ledger in a single-process run's order, and
the chain, hashes included, is the same as that run's.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from marginlex.audit.ledger.chain import PreparedChunk, PreparedDecision, prepared
from marginlex.audit.ledger.record import (
    RecordedRun,
    out_of_every_scope,
    rulebook_ref,
    self_check,
)
from marginlex.audit.ledger.recorded_inputs import book_blob, rulebook_bundle
from marginlex.audit.ledger.records import RunOrigin, RunRecord
from marginlex.audit.ledger.store import Ledger, shown_location
from marginlex.audit.trace.from_evaluation import trace_columns
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine import version as engine_code
from marginlex.engine.book.load import Book
from marginlex.engine.distributed.cluster import Gathered
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.graph.set_inputs import set_input_hashes
from marginlex.engine.version import ENGINE_VERSION

if TYPE_CHECKING:
    from marginlex.audit.ledger.partitioned_run import PartitionedRun


def partition_traces(ev: Evaluation, rulebook: ResolvedRulebook, part: Book) -> PreparedChunk:
    """A worker's traces of its partition's decisions, hashed and compressed (the first
    ones checked against the trace model)."""
    ref = rulebook_ref(rulebook, ev, rulebook_bundle(rulebook))
    columns = trace_columns(ev, part, ref, ENGINE_VERSION)
    self_check(columns)
    inputs = set_input_hashes(ev.frames, ev.decisions["margin_set_id"], part)
    ids = columns.margin_set_ids
    return replace(prepared(columns), inputs_sha256=inputs.reindex(ids).tolist())


def cluster_run_record(
    run: GatheredRun | PartitionedRun,
    book_sha256: str,
    out_of_scope: int,
    origin: RunOrigin | None,
) -> RunRecord:
    """A run evaluated on a cluster, as :meth:`~.record.RunRecorder.run_record` makes it:
    each rulebook's reference from its evaluation and bundle, the book, as-of and engine."""
    refs = tuple(
        rulebook_ref(rb, ev, bundle)
        for rb, ev, bundle in zip(run.rulebooks, run.evaluations, run.bundles, strict=True)
    )
    return RunRecord(
        as_of=run.evaluations[0].as_of,
        book_sha256=book_sha256,
        engine_version=ENGINE_VERSION,
        engine_code_sha256=engine_code.engine_code_sha256(),
        origin=origin,
        out_of_scope=out_of_scope,
        rulebooks=refs,
    )


class GatheredRun:
    """A run gathered from a cluster, recorded as :class:`~.record.RunRecorder` records one."""

    def __init__(
        self,
        book: Book,
        gathered: Sequence[Gathered[PreparedChunk]],
        rulebooks: Sequence[ResolvedRulebook],
    ) -> None:
        self.book = book
        self.gathered = list(gathered)
        self.rulebooks = list(rulebooks)
        self.evaluations = [g.evaluation for g in self.gathered]
        self.bundles = [rulebook_bundle(rb) for rb in self.rulebooks]

    @property
    def decision_count(self) -> int:
        """Decisions of the run: one per margin set per rulebook."""
        return sum(len(ev.decisions) for ev in self.evaluations)

    def decisions(self) -> Iterator[PreparedDecision]:
        """Every decision, rulebook by rulebook, in margin set order across partitions."""
        for g in self.gathered:  # a few rulebooks
            parts = [chunk.decisions() for chunk in g.extras]
            yield from heapq.merge(*parts, key=lambda d: d.margin_set_id)

    def run_record(self, origin: RunOrigin | None = None) -> RunRecord:
        """The run: its rulebooks, book, as-of, engine version, accounts out of scope and
        (when given) who ran it, as :meth:`RunRecorder.run_record` makes it."""
        outside = out_of_every_scope(self.evaluations, self.book)
        return cluster_run_record(self, self.book.sha256, outside, origin)

    def record(self, location: str, origin: RunOrigin | None = None) -> RecordedRun:
        """Write the run to the ledger at ``location`` in one transaction (with ``origin``).

        Raises:
            LedgerError: the ledger cannot record the run; nothing is written.
        """
        ledger = Ledger.open(location)
        try:
            run_id = ledger.record_run(
                self.run_record(origin), self.decisions(), self.bundles, book_blob(self.book)
            )
        finally:
            ledger.close()
        shown = shown_location(location)
        return RecordedRun(run_id=run_id, decisions=self.decision_count, location=shown)

    def close(self) -> None:
        """Nothing to stop: the cluster's client is closed by whoever opened it."""
