"""Record a run in the ledger: every rulebook's decisions, their texts and the book, at once.

``marginlex run --ledger`` hands each evaluation to a :class:`RunRecorder` as soon as it
exists, so the traces of one rulebook are built by worker processes while the next is
evaluated; :meth:`RunRecorder.record` then streams every decision into the ledger in one
transaction (all rulebooks): a run that fails to evaluate or to record leaves nothing.
:func:`record_run` does the same for evaluations that already exist.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from itertools import repeat
from types import TracebackType

import numpy as np

from marginlex.audit.ledger.carried_entries import CarriedEntries, concat
from marginlex.audit.ledger.carry import (
    Since,
    carried_decisions,
    carried_mask,
    select_sets,
)
from marginlex.audit.ledger.chain import PreparedChunk, PreparedDecision, prepared
from marginlex.audit.ledger.decision_keys import entry_keys, keys_of
from marginlex.audit.ledger.fork_pool import ForkPool, WorkerError
from marginlex.audit.ledger.incremental import Incremental
from marginlex.audit.ledger.recorded_inputs import (
    book_blob,
    bundle_sources,
    rulebook_bundle,
    rulebook_sha256,
)
from marginlex.audit.ledger.records import RunOrigin, RunRecord
from marginlex.audit.ledger.store import Ledger, LedgerError, check_recordable, shown_location
from marginlex.audit.ledger.tables import CENTS_LIMIT
from marginlex.audit.trace.from_evaluation import (
    SetCodes,
    TraceColumns,
    set_codes,
    trace_bytes,
    trace_columns,
)
from marginlex.audit.trace.model import DecisionTrace, RulebookRef, RulebookSource
from marginlex.dsl.provenance import shown_file
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine import version as engine_code
from marginlex.engine.book.load import Book
from marginlex.engine.distributed.digests import BookDigest, book_digest
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.graph.set_inputs import BookRows, set_input_hashes
from marginlex.engine.version import ENGINE_VERSION

PARALLEL_SETS = 8_000
"""Traces are built in chunks of this many margin sets, each by its own worker process.
Smaller chunks hold less at once: at 100k accounts a recorded run peaks at 2.2 GB instead of
2.8 GB with chunks of 20,000, as fast (32.4 s against 32.9 s, medians of three)."""
MIN_FORK_SETS = 2_000
"""While fewer margin sets wait for their traces, no worker is forked for them: the recording
process builds them itself (a small book is not worth a process)."""
SELF_CHECK = 50
"""Traces per rulebook validated into the pydantic model before recording (a guard: the
column-wise serializer must write exactly the bytes the model does)."""


class TraceSerializationError(RuntimeError):
    """The fast serializer disagrees with the trace model: a bug, nothing is recorded."""


@dataclass(frozen=True)
class RecordedRun:
    """What :func:`record_run` wrote (``location`` with any password hidden)."""

    run_id: str
    decisions: int
    location: str


def out_of_every_scope(
    evaluations: Sequence[Evaluation], book: Book, also: Iterable[str] = ()
) -> int:
    """Accounts of the book that no rulebook of the run decided (in no margin set); ``also``,
    accounts of sets a ``--since`` run carried without evaluating them."""
    decided = set(also)
    for ev in evaluations:  # a few rulebooks
        decided.update(ev.frames["sets"]["account_id"].astype("str").unique().tolist())
    return len(book.accounts) - len(decided)


def rulebook_ref(rulebook: ResolvedRulebook, ev: Evaluation, bundle: str) -> RulebookRef:
    """The trace's reference to a rulebook: id, title, version, canonical-text sha256, and
    the file and sha256 of every source (from the bundle's texts, so replay agrees)."""
    sources = tuple(
        RulebookSource(id=source_id, path=shown_file(source), sha256=sha)
        for (source_id, sha), source in zip(bundle_sources(bundle), rulebook.sources, strict=True)
    )
    return RulebookRef(
        id=ev.plan.rulebook_id,
        name=ev.plan.title,
        version=ev.plan.version,
        sha256=rulebook_sha256(bundle),
        sources=sources,
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
        if columns.keys is not None:  # the lookup keys the ledger would read from it
            accounts, named = (
                columns.account_ids[index],
                columns.keys.sets[columns.keys.codes[index]],
            )
            if entry_keys(0, accounts, named) != keys_of(0, accounts, body.decode("utf-8")):
                raise TraceSerializationError(
                    f"trace {did}: its lookup keys differ from its JSON's"
                )


def slice_evaluation(
    ev: Evaluation, start: int, stop: int, codes: SetCodes | None = None
) -> tuple[Evaluation, SetCodes]:
    """The evaluation cut to its decisions ``start:stop`` and their trace rows.

    Returns:
        The slice, and its frames' set codes (rows of the slice's ``decisions``).
    """
    codes = codes if codes is not None else set_codes(ev)
    kept = {name: (c >= start) & (c < stop) for name, c in codes.items()}
    frames = {name: frame[kept[name]].reset_index(drop=True) for name, frame in ev.frames.items()}
    decisions = ev.decisions.iloc[start:stop].reset_index(drop=True)
    part = ev.model_copy(update={"decisions": decisions, "frames": frames})
    return part, {name: codes[name][kept[name]] - start for name in frames}


@dataclass(frozen=True)
class _StoredInputs:
    """The book's digest (its bytes) and recorded content, made in a worker at the start of a
    run while the first rulebook is evaluated (both read only the book)."""

    book: Book

    def __call__(self) -> tuple[bytes, bytes]:
        digest = book_digest(self.book.contract_frames(), self.book.meta.currency)
        return digest.to_bytes(), book_blob(self.book)


@dataclass(frozen=True)
class _Chunk:
    """Build the traces of decisions ``start:stop`` of one evaluation (run in a worker)."""

    ev: Evaluation
    codes: SetCodes
    ref: RulebookRef
    book: Book
    engine_version: str
    start: int
    stop: int

    def __call__(self) -> PreparedChunk:
        part, codes = slice_evaluation(self.ev, self.start, self.stop, self.codes)
        columns = trace_columns(part, self.book, self.ref, self.engine_version, codes=codes)
        if self.start == 0:  # a rulebook's first traces are checked against the model
            self_check(columns)
        return prepared(columns)


class RunRecorder:
    """Records a run whose rulebooks are evaluated one after another, building traces meanwhile.

    :meth:`add` takes each evaluation as soon as it exists and queues its traces in chunks
    of :data:`PARALLEL_SETS` margin sets, built by worker processes forked as the chunks are
    queued (:class:`~marginlex.audit.ledger.fork_pool.ForkPool`): a worker reads the evaluation
    from the memory it inherited, so no frame is copied to it, and a rulebook's first chunk
    checks its first traces against the model. While the caller evaluates the next rulebook
    one CPU is left to it; :meth:`record` opens the ledger's one transaction and streams
    every decision in, in order, as the chunks arrive. Nothing is written before
    :meth:`record`, and nothing at all if it fails. The book's digest and recorded content,
    which every run stores, are made by a worker forked when the recorder is made, while
    the caller evaluates the first rulebook on the other CPU (at 100k accounts 0.9 s that
    no longer competes with the trace workers).

    Use it as a context manager: leaving it stops any worker still running.
    """

    def __init__(
        self,
        book: Book,
        engine_version: str = ENGINE_VERSION,
        *,
        workers: int | None = None,
        since: Since | None = None,
        code_sha256: str | None = None,
    ) -> None:
        self.book = book
        self.engine_version = engine_version
        # the code that decides (default this process's), recorded with the run
        self.code_sha256 = code_sha256 or engine_code.engine_code_sha256()
        self.redecided: dict[str, str] = {}  # with since: rulebook id -> why all its sets
        self.evaluations: list[Evaluation] = []
        self.refs: list[RulebookRef] = []
        self.bundles: list[str] = []
        self.since = since
        self.inputs: dict[tuple[str, str], str] = {}
        self.seconds: dict[str, float] = {}  # time spent: book blob, cut, hash
        self._blob: bytes | None = None
        self._books: dict[str, Book] = {}  # a rulebook's id: the book it was evaluated on
        self._rows: dict[int, tuple[Book, BookRows]] = {}  # by id(book): its rows, made once
        # a rulebook's canonical text, made once (formatting costs); the rulebook held with it
        self._texts: dict[int, tuple[ResolvedRulebook, str]] = {}
        self._carried: list[CarriedEntries | None] = []  # per rulebook, set id order
        self._chunks: list[int] = []  # per rulebook: its chunks of traces
        self._outside: list[str] = []  # accounts of sets carried without being evaluated
        self._outside_sets = 0  # and how many sets
        self._pool = ForkPool[PreparedChunk](workers, min_fork_weight=MIN_FORK_SETS)
        self.incremental = None
        self._digest: BookDigest | None = None
        self._stored: ForkPool[tuple[bytes, bytes]] | None = None
        self._pair: tuple[bytes, bytes] | None = None  # the digest's bytes and the blob
        if since is None:  # a CPU is free while the first rulebook is evaluated: use it
            self._stored = ForkPool(1, min_fork_weight=MIN_FORK_SETS)
            self._stored.submit(_StoredInputs(book), weight=len(book.accounts))
            self._stored.pump()
        else:
            digest = self.digest
            start = time.perf_counter()
            today = (digest, lambda: self.blob)
            engine = (engine_version, self.code_sha256)
            self.incremental = Incremental(since, book, today, engine)
            self.seconds["cut"] = time.perf_counter() - start

    def _stored_inputs(self) -> tuple[bytes, bytes]:
        """The book's digest (its bytes) and recorded content, as the run stores them."""
        if self._pair is None and self._stored is not None:
            start = time.perf_counter()
            try:
                self._pair = next(iter(self._stored.results()))
            except WorkerError as exc:  # its last line says why (a full temporary folder)
                reason = str(exc).strip().splitlines()[-1]
                raise LedgerError(f"the book could not be stored with the run: {reason}") from exc
            self._stored.close()
            self.seconds["digest and blob"] = time.perf_counter() - start
        if self._pair is None:
            self._pair = (self.digest.to_bytes(), self.blob)
        return self._pair

    @property
    def blob(self) -> bytes:
        """The book's recorded content (made once)."""
        if self._blob is None and self._stored is not None:
            self._blob = self._stored_inputs()[1]
        if self._blob is None:
            start = time.perf_counter()
            self._blob = book_blob(self.book)
            self.seconds["blob"] = time.perf_counter() - start
        return self._blob

    @property
    def digest(self) -> BookDigest:
        """The book's digest, stored for a later ``--since`` (made once)."""
        if self._digest is None:
            start = time.perf_counter()
            currency = self.book.meta.currency
            self._digest = book_digest(self.book.contract_frames(), currency)
            self.seconds["digest"] = time.perf_counter() - start
        return self._digest

    @property
    def carried_count(self) -> int:
        """How many entries carry earlier decisions forward (``--since``)."""
        return sum(len(entries) for entries in self._carried if entries is not None)

    def book_for(self, rulebook: ResolvedRulebook, as_of: date | None = None) -> Book:
        """The book to evaluate ``rulebook`` on (as of ``as_of``, default the book's): the
        whole book, or with ``since`` the book cut to the sets that may have changed."""
        if self.incremental is None:
            return self.book
        sha256 = rulebook_sha256(self._bundle(rulebook))
        book = self.incremental.book_for((rulebook.id, sha256), as_of or self.book.as_of)
        self._books[rulebook.id] = book
        return book

    def _bundle(self, rulebook: ResolvedRulebook) -> str:
        """The rulebook's canonical text, formatted once for :meth:`book_for` and :meth:`add`."""
        if id(rulebook) not in self._texts:
            self._texts[id(rulebook)] = (rulebook, rulebook_bundle(rulebook))
        return self._texts[id(rulebook)][1]

    def _carry(self, ev: Evaluation, ref: RulebookRef, book: Book) -> Evaluation:
        """Note each set's input hash; with ``since``, keep aside the sets it carries forward
        and return the evaluation cut to the sets to decide."""
        start = time.perf_counter()
        if id(book) not in self._rows:
            self._rows[id(book)] = (book, BookRows(book))
        rows = self._rows[id(book)][1]
        inputs = set_input_hashes(ev.frames, ev.decisions["margin_set_id"], book, rows)
        self.seconds["hash"] = self.seconds.get("hash", 0.0) + time.perf_counter() - start
        self.inputs.update(
            zip(zip(repeat(ref.id), inputs.index.tolist()), inputs.tolist(), strict=True)
        )
        if self.since is None:
            self._carried.append(None)
            return ev
        engine = (self.engine_version, self.code_sha256)
        why = self.since.why_all(ev.as_of, (ref.id, ref.sha256), engine)
        if why is not None:
            self.redecided[ref.id] = why
            self._carried.append(None)
            return ev
        carried = carried_mask(self.since, ref.id, inputs.reindex(ev.decisions["margin_set_id"]))
        entries = carried_decisions(self.since, ev, ref, self.book.sha256, carried)
        if self.incremental is not None and book is not self.book:  # a cut: the rest carried
            outside, accounts = self.incremental.outside(ref, ev.as_of)
            self._outside += accounts.tolist()
            self._outside_sets += len(outside)
            entries = concat([entries, outside])
        self._carried.append(entries)
        return select_sets(ev, ~carried) if carried.any() else ev

    def add(self, ev: Evaluation, rulebook: ResolvedRulebook) -> None:
        """Queue an evaluation's traces to be built (the first chunk checks its first traces).
        With ``since``, ``ev`` is of the book :meth:`book_for` gave for ``rulebook``."""
        bundle = self._bundle(rulebook)
        ref = rulebook_ref(rulebook, ev, bundle)
        book = self._books.get(rulebook.id, self.book)
        self.evaluations.append(ev)
        decided = self._carry(ev, ref, book)
        self.refs.append(ref)
        self.bundles.append(bundle)
        ev = decided
        codes = set_codes(ev)
        sets = len(ev.decisions)
        starts = range(0, sets, PARALLEL_SETS)
        for start in starts:  # a few chunks per rulebook
            stop = start + PARALLEL_SETS
            job = _Chunk(ev, codes, ref, book, self.engine_version, start, stop)
            self._pool.submit(job, weight=min(stop, sets) - start)
        self._chunks.append(len(starts))
        self._pool.pump(limit=self._pool.workers - 1)  # one CPU for the caller's evaluation

    def decisions(self) -> Iterator[PreparedDecision | CarriedEntries]:
        """Every decision of the run, in rulebook order, as its chunk is built; in each
        rulebook, the sets decided and those carried forward in margin set id order (the
        order of a single-process run of the whole book): carried ones in blocks, each
        the run of them between two decided sets."""
        results = iter(self._pool.results())
        for count, carried in zip(self._chunks, self._carried, strict=True):
            decided = (d for _ in range(count) for d in self._with_inputs(next(results)))
            yield from interleave(decided, carried)

    def _with_inputs(self, chunk: PreparedChunk) -> Iterator[PreparedDecision]:
        """A chunk's decisions, each with its set's input hash (one list per chunk: a
        NamedTuple's ``_replace`` per decision cost about a second at 100k accounts)."""
        rulebook, inputs = chunk.rulebook_id, self.inputs
        hashes = [inputs.get((rulebook, set_id)) for set_id in chunk.margin_set_ids]
        return replace(chunk, inputs_sha256=hashes).decisions()

    def run_record(self, origin: RunOrigin | None = None) -> RunRecord:
        """The run: its rulebooks, book, as-of, engine version, accounts out of scope, and
        (when given) who ran it."""
        if not self.evaluations:
            raise ValueError("a run records at least one evaluation")
        return RunRecord(
            as_of=self.evaluations[0].as_of,
            book_sha256=self.book.sha256,
            engine_version=self.engine_version,
            engine_code_sha256=self.code_sha256,
            origin=origin,
            out_of_scope=out_of_every_scope(self.evaluations, self.book, self._outside),
            rulebooks=tuple(self.refs),
        )

    def record(self, location: str, origin: RunOrigin | None = None) -> RecordedRun:
        """Write the run to the ledger at ``location`` in one transaction (with ``origin``,
        who ran it: chained with the run record).

        Raises:
            LedgerError: the ledger cannot record the run; nothing is written.
            WorkerError: building traces failed (its traceback, e.g. a TraceSerializationError
                when the fast serializer disagrees with the model), or a worker died;
                nothing is written.
        """
        for ev in self.evaluations:  # before a worker's trace check trips on its cents
            _check_figures(ev)
        self._pool.pump()  # every CPU on traces now, while the run record and book blob are made
        run = self.run_record(origin)
        digest, blob = self._stored_inputs()
        ledger = Ledger.open(location)
        try:
            run_id = ledger.record_run(
                run, self.decisions(), self.bundles, blob, book_digest=digest
            )
        finally:
            ledger.close()
        shown = shown_location(location)
        return RecordedRun(run_id=run_id, decisions=self.decision_count, location=shown)

    @property
    def decision_count(self) -> int:
        """Decisions of the evaluations added so far (one per margin set), and the sets a
        ``--since`` run carried without evaluating them."""
        decided = sum(len(ev.decisions) for ev in self.evaluations)
        return decided + self._outside_sets

    def close(self) -> None:
        """Stop the workers still building traces (and the book's digest)."""
        self._pool.close()
        if self._stored is not None:
            self._stored.close()

    def __enter__(self) -> RunRecorder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


_FIGURES = {
    "maintenance": "requirement",
    "call": "call",
    "initial": "initial requirement",
    "value": "value",
    "equity": "equity",
    "excess": "excess",
}
"""The decision figures a run records, by column, and what a message calls each."""


def _check_figures(ev: Evaluation) -> None:
    """Refuse an evaluation whose figures a ledger cannot record to the cent (the first
    decision past the limit is named: :func:`~marginlex.audit.ledger.store.check_recordable`)."""
    d = ev.decisions
    names = [c for c in _FIGURES if c in d.columns]
    amounts = d[names].to_numpy(np.float64)
    past = np.abs(amounts) >= float(CENTS_LIMIT)
    if past.any():
        row, column = (int(i[0]) for i in np.nonzero(past))
        decision = f"{d['margin_set_id'].iloc[row]} of {ev.rulebook_id}"
        check_recordable(decision, {_FIGURES[names[column]]: float(amounts[row, column])})


def interleave(
    decided: Iterable[PreparedDecision], carried: CarriedEntries | None
) -> Iterator[PreparedDecision | CarriedEntries]:
    """Decided entries (in margin set id order) with the carried block cut between them."""
    start = 0
    for decision in decided:  # the sets decided anew: a few hundred
        stop = start if carried is None else carried.before(decision.margin_set_id)
        if carried is not None and stop > start:
            yield carried.take(start, stop)
            start = stop
        yield decision
    if carried is not None and start < len(carried):
        yield carried.take(start, len(carried))


def record_run(
    location: str,
    evaluations: Sequence[Evaluation],
    rulebooks: Sequence[ResolvedRulebook],
    book: Book,
    engine_version: str = ENGINE_VERSION,
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
    with RunRecorder(book, engine_version) as recorder:
        for ev, rulebook in zip(evaluations, rulebooks, strict=True):  # a few rulebooks
            recorder.add(ev, rulebook)
        return recorder.record(location)
