"""Verify a ledger: re-walk the hash chain, check the runs and inputs, optionally replay.

The walk stops at the first entry that was changed, removed or reordered and names it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from contextlib import closing
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple

import zstandard
from pydantic import Field
from sqlalchemy import inspect, select

from marginlex.audit.canonical import sha256_hex
from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.acting_role import ROLE_KEYS
from marginlex.audit.ledger.book_digests import chained_digests, digest_problem, read_digest
from marginlex.audit.ledger.chain import (
    GENESIS,
    ZSTD_MAGIC,
    Dictionaries,
    TraceDecodeError,
    decompress_trace,
    trace_json,
)
from marginlex.audit.ledger.checkpoints import LedgerState, checkpoint_row_problem
from marginlex.audit.ledger.read import (
    BookBlobError,
    blob,
    inflate_book,
    rehash,
    run_digest,
    run_origins,
    select_runs,
)
from marginlex.audit.ledger.records import money_text
from marginlex.audit.ledger.replay import (
    CARRIED_FIELDS,
    ReplayDifference,
    ReplayedTrace,
    Replayer,
    column_differences,
    first_difference,
)
from marginlex.audit.ledger.schema_check import schema_problem
from marginlex.audit.ledger.store import Ledger, schema_revision
from marginlex.audit.ledger.unreadable import UNREADABLE
from marginlex.audit.ledger.verify_derived import DerivedProblem, KeyCheck, check_summaries
from marginlex.audit.trace.model import LedgerColumns, as_recorded
from marginlex.audit.trace.steps import TraceModel


class ProblemKind(StrEnum):
    """What went wrong at the first broken place of the ledger."""

    CHANGED = "changed"
    REMOVED = "removed"
    REORDERED = "reordered"
    RUN_CHANGED = "run_changed"
    INPUT_CHANGED = "input_changed"
    HEAD_MISMATCH = "head_mismatch"
    KEYS_CHANGED = "keys_changed"  # a decision_keys row disagrees with its entry
    SUMMARY_CHANGED = "summary_changed"  # a run_summaries row disagrees with its run
    SCHEMA_CHANGED = "schema_changed"  # a ledger table is a view, or a foreign trigger
    CHECKPOINT_CHANGED = "checkpoint_changed"  # a checkpoints row that is no checkpoint of it
    META_CHANGED = "meta_changed"  # a ledger_meta row no marginlex writes


class ChainProblem(TraceModel):
    """The first thing found wrong, and where."""

    decision_id: str | None = None
    kind: ProblemKind
    message: str
    run_id: str | None = None
    seq: int | None = None


class VerifyReport(TraceModel):
    """The outcome of :func:`verify`."""

    entries: int
    head_hash: str
    head_seq: int
    problem: ChainProblem | None
    replay_differences: tuple[ReplayDifference, ...] = ()
    replayed: int | None = Field(default=None, description="Decisions replayed, if any.")
    runs: int

    @property
    def ok(self) -> bool:
        """True when the chain is intact and every replayed decision matched."""
        return self.problem is None and not self.replay_differences


class _Walk:
    """State of one walk along the chain."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        with ledger.engine.connect() as conn:
            self.runs = {r.run_id: r for r in conn.execute(select_runs(conn))}
            origins = run_origins(conn)
        self.digests = {rid: run_digest(r, origins.get(rid)) for rid, r in self.runs.items()}
        self.seen: Counter[str] = Counter()
        self.statuses: dict[str, Counter[str]] = {}  # run id -> its entries by status
        self.spans: dict[str, tuple[int, int]] = {}  # run id -> its first and last seq
        self.run_ids: dict[str, int] = {}  # the walked run's decision ids -> their entry
        self.seq = 0
        self.prev = GENESIS
        self.hashes: set[str] = set()
        # Entries that later entries carry forward: their hash and trace hash, once walked.
        self.carried = _carried_sources(ledger)
        self.sources: dict[int, _Source] = {}
        self.keys = KeyCheck(ledger, self.carried)  # each entry's decision_keys, as walked
        # The Zstandard dictionaries the traces name, with the first entry naming each.
        self.dictionary_users: dict[int, Any] = {}

    def step(self, row: Any) -> ChainProblem | None:
        where = {"seq": row.seq, "decision_id": row.decision_id, "run_id": row.run_id}
        if row.seq != self.seq + 1:
            missing = self.seq + 1
            span = f"#{missing}" if row.seq == missing + 1 else f"#{missing}…#{row.seq - 1}"
            return ChainProblem(
                kind=ProblemKind.REMOVED,
                seq=missing,
                run_id=row.run_id,
                message=f"entry {span} is missing: removed (the chain jumps to #{row.seq})",
            )
        if row.prev_hash != self.prev:
            return self._broken_link(row, where)
        if (problem := self._in_its_run(row, where)) is not None:
            return problem
        if self.digests.get(row.run_id) is None:
            state = "removed" if row.run_id not in self.runs else "changed into invalid values"
            return ChainProblem(
                kind=ProblemKind.RUN_CHANGED,
                **where,
                message=f"entry #{row.seq} belongs to run {row.run_id}, whose record was {state}",
            )
        carried_from = getattr(row, "carried_from", None)
        body = None
        if carried_from is not None:
            if (problem := self._carries(row, carried_from, where)) is not None:
                return problem
            if row.trace_z:  # not chained: any bytes would pass, and a reader might show them
                return ChainProblem(
                    kind=ProblemKind.CHANGED,
                    **where,
                    message=(
                        f"entry #{row.seq} ({row.decision_id}) carries entry #{carried_from} "
                        f"forward, so it stores no trace, but it holds {len(row.trace_z):,} "
                        "bytes of one: they were written in"
                    ),
                )
        elif (body := _trace_body(row.trace_z, self.ledger.dictionaries)) is None or sha256_hex(
            body
        ) != row.trace_sha256:
            return ChainProblem(
                kind=ProblemKind.CHANGED,
                **where,
                message=f"the trace of entry #{row.seq} ({row.decision_id}) was changed",
            )
        if rehash(row, str(self.digests[row.run_id])) != row.entry_hash:
            return self._changed(row, where)
        derived = self.keys.entry(row, None if body is None else body.decode("utf-8"))
        if derived is not None:
            return derived_problem(ProblemKind.KEYS_CHANGED, derived)
        if body is not None and (dict_id := _dictionary_of(row.trace_z)):
            self.dictionary_users.setdefault(dict_id, row)
        self.seq, self.prev = row.seq, row.entry_hash
        if row.seq in self.carried and carried_from is None:
            self.sources[row.seq] = _Source(row.entry_hash, row.trace_sha256, _decided(row))
        self.hashes.add(row.entry_hash)
        self.seen[row.run_id] += 1
        self.statuses.setdefault(row.run_id, Counter())[str(row.status)] += 1
        first, _ = self.spans.get(row.run_id, (row.seq, row.seq))
        self.spans[row.run_id] = (first, row.seq)
        return None

    def _in_its_run(self, row: Any, where: dict[str, Any]) -> ChainProblem | None:
        """A run's entries are one block (recorded in one transaction), each decision id once."""
        if row.run_id not in self.spans:
            self.run_ids = {}
        elif self.spans[row.run_id][1] != self.seq:
            return ChainProblem(
                kind=ProblemKind.CHANGED,
                **where,
                message=(
                    f"entry #{row.seq} belongs to run {row.run_id}, whose entries ended at "
                    f"#{self.spans[row.run_id][1]}: a run is recorded as one block, so this "
                    "entry was added later"
                ),
            )
        earlier = self.run_ids.setdefault(str(row.decision_id), row.seq)
        if earlier != row.seq:
            return ChainProblem(
                kind=ProblemKind.CHANGED,
                **where,
                message=(
                    f"entry #{row.seq} repeats decision {row.decision_id} of run {row.run_id} "
                    f"(entry #{earlier}): a run decides each margin set once, so one of them "
                    "was added later"
                ),
            )
        return None

    def _carries(self, row: Any, carried_from: int, where: dict[str, Any]) -> ChainProblem | None:
        """A carried entry names an earlier entry holding a trace (its hash and trace hash)
        and says what that entry decided: its rulebook, margin set, accounts, status and
        figures. A row copied from a source edited for the moment (then restored) hashes
        well in its own run, so the two are compared here."""
        source = self.sources.get(carried_from)
        if source is None or (source.entry_hash, source.trace_sha256) != (
            row.carried_hash,
            row.trace_sha256,
        ):
            return ChainProblem(
                kind=ProblemKind.CHANGED,
                **where,
                message=(
                    f"entry #{row.seq} ({row.decision_id}) carries entry #{carried_from} "
                    "forward, which is not an earlier entry with the hash and trace it names"
                ),
            )
        differ = [
            n for n, a, b in zip(_DECIDED, source.decided, _decided(row), strict=True) if a != b
        ]
        if differ:
            return ChainProblem(
                kind=ProblemKind.CHANGED,
                **where,
                message=(
                    f"entry #{row.seq} ({row.decision_id}) carries entry #{carried_from} "
                    f"forward, but its {', '.join(differ)} differ from that entry's: one of the "
                    "two was edited when the later run copied it"
                ),
            )
        return None

    def _broken_link(self, row: Any, where: dict[str, Any]) -> ChainProblem:
        with self.ledger.engine.connect() as conn:
            linked = conn.scalar(
                select(t.decisions.c.seq).where(t.decisions.c.entry_hash == row.prev_hash)
            )
        if linked is not None:
            return ChainProblem(
                kind=ProblemKind.REORDERED,
                **where,
                message=(
                    f"entry #{row.seq} ({row.decision_id}) was recorded after the entry now "
                    f"at #{linked}, not after #{row.seq - 1}: entries were reordered"
                ),
            )
        return ChainProblem(
            kind=ProblemKind.CHANGED,
            seq=row.seq - 1,
            run_id=row.run_id,
            message=(
                f"entry #{row.seq} links to a hash no entry has: entry #{row.seq - 1} was "
                "changed and re-hashed, or entries before it were removed and renumbered"
            ),
        )

    def _changed(self, row: Any, where: dict[str, Any]) -> ChainProblem:
        stored_digest = self.runs[row.run_id].run_sha256
        if (
            stored_digest != self.digests[row.run_id]
            and rehash(row, stored_digest) == row.entry_hash
        ):
            return ChainProblem(
                kind=ProblemKind.RUN_CHANGED,
                **where,
                message=(
                    f"the record of run {row.run_id} (book, as-of, rulebooks, who ran it…) "
                    "was changed"
                ),
            )
        return ChainProblem(
            kind=ProblemKind.CHANGED,
            **where,
            message=(
                f"entry #{row.seq} ({row.decision_id}) was changed: its columns or trace "
                "no longer match its hash"
            ),
        )

    def saw(self, entry_hash: str) -> bool:
        """Whether the walk met an entry with this hash."""
        return entry_hash in self.hashes

    def run_counts(self) -> ChainProblem | None:
        for run_id, run in sorted(self.runs.items(), key=lambda kv: kv[1].first_seq or 0):
            if self.seen[run_id] != run.decisions:
                return ChainProblem(
                    kind=ProblemKind.REMOVED,
                    run_id=run_id,
                    seq=run.last_seq,
                    message=(
                        f"run {run_id} recorded {run.decisions} decisions (#{run.first_seq}"
                        f"…#{run.last_seq}); the ledger holds {self.seen[run_id]}: "
                        "entries were removed"
                    ),
                )
        for run_id, run in sorted(self.runs.items(), key=lambda kv: kv[1].first_seq or 0):
            problem = self._run_record(run_id, run)
            if problem is not None:
                return problem
        return None

    def _run_record(self, run_id: str, run: Any) -> ChainProblem | None:
        """A run record's own columns against what it chains and what its entries are: its
        stored digest (a run with no entry is checked by nothing else), its counts by status
        and the span of its sequence numbers (neither is chained: ``ledger runs`` and the
        console show them)."""
        if self.digests.get(run_id) is None or run.run_sha256 != self.digests[run_id]:
            return ChainProblem(
                kind=ProblemKind.RUN_CHANGED,
                run_id=run_id,
                message=(
                    f"the record of run {run_id} was changed (or made up): it no longer "
                    "hashes to the run_sha256 stored with it"
                ),
            )
        counts = self.statuses.get(run_id, Counter())
        stored = {name: getattr(run, name) for name in _STATUS_COUNTS}
        found = {name: counts[name] for name in _STATUS_COUNTS}
        if stored != found:
            return ChainProblem(
                kind=ProblemKind.RUN_CHANGED,
                run_id=run_id,
                message=(
                    f"run {run_id}'s record counts {_counted(stored)}; its entries are "
                    f"{_counted(found)}: the runs table was edited"
                ),
            )
        span = self.spans.get(run_id)
        if span is not None and span != (run.first_seq, run.last_seq):
            return ChainProblem(
                kind=ProblemKind.RUN_CHANGED,
                run_id=run_id,
                message=(
                    f"run {run_id}'s record says its entries are #{run.first_seq}…"
                    f"#{run.last_seq}; they are #{span[0]}…#{span[1]}: the runs table was edited"
                ),
            )
        return None


_STATUS_COUNTS = ("ok", "call", "breach")
"""The counts by status a run record keeps beside its entries."""


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {name}" for name, n in counts.items())


_DECIDED = ("rulebook_id", "margin_set_id", "account_ids", "status", "call", "requirement")
"""What a carried entry repeats of the entry it carries forward."""


class _Source(NamedTuple):
    """An entry some later entry carries forward, as the walk met it."""

    entry_hash: str
    trace_sha256: str
    decided: tuple[Any, ...]  # its _DECIDED columns


def _decided(row: Any) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in _DECIDED)


def _unreadable(row: Any, exc: Exception, *, after: int) -> ChainProblem:
    """The entry after #``after`` holds a value no marginlex writes: edited by hand. ``row``
    is None when the driver could not even read the row."""
    found = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
    return ChainProblem(
        kind=ProblemKind.CHANGED,
        seq=after + 1,
        decision_id=None if row is None else str(row.decision_id),
        run_id=None if row is None else str(row.run_id),
        message=(
            f"the entry after #{after} holds a value no marginlex writes ({found}): it was edited"
        ),
    )


def _carried_sources(ledger: Ledger) -> set[int]:
    """The sequence numbers of the entries some entry carries forward."""
    if "carried_from" not in ledger.column_names():
        return set()
    col = t.decisions.c.carried_from
    with ledger.engine.connect() as conn:
        return {int(s) for s in conn.scalars(select(col).where(col.is_not(None)).distinct())}


def _dictionary_of(trace_z: bytes) -> int:
    """The id of the Zstandard dictionary a stored trace's frame names (0: none, or zlib)."""
    if trace_z[:4] != ZSTD_MAGIC:
        return 0
    return int(zstandard.get_frame_parameters(trace_z).dict_id)


def _check_dictionaries(walk: _Walk) -> ChainProblem | None:
    """Each dictionary a trace names is stored in ``trace_dictionaries``: this marginlex
    reads its own dictionary without the row, but the row is what makes the ledger readable
    without the package that wrote it (``zstd -D``, another version); a row deleted passed."""
    stored = walk.ledger.dictionaries
    for dict_id, row in sorted(walk.dictionary_users.items(), key=lambda kv: kv[1].seq):
        if dict_id not in stored:
            return ChainProblem(
                kind=ProblemKind.INPUT_CHANGED,
                seq=row.seq,
                decision_id=row.decision_id,
                run_id=row.run_id,
                message=(
                    f"the Zstandard dictionary {dict_id:#x} that the traces of entry "
                    f"#{row.seq} and others were compressed with is not in trace_dictionaries: "
                    "it was removed, and without it the traces cannot be read but by a "
                    "marginlex that ships it"
                ),
            )
    return None


_META_KEYS = {"ledger_id", *ROLE_KEYS}
"""The ``ledger_meta`` keys marginlex writes: the ledger's id, the recorded roles."""


def _check_trust_tables(ledger: Ledger) -> ChainProblem | None:
    """``ledger_meta`` holds only the keys marginlex writes, and each ``checkpoints`` row is a
    checkpoint of this ledger, its columns those of its signed body. Its signature, and the
    head it signs, need the public key (``verify --public-key``): a row made up whole,
    signature and all, is caught only there."""
    with ledger.engine.connect() as conn:
        tables = inspect(conn)
        # Without ledger_meta (dropped, or a ledger from before it) the checkpoints are
        # still checked: each names a ledger id this ledger no longer has.
        meta = tables.has_table(t.ledger_meta.name)
        query = select(t.ledger_meta.c.key, t.ledger_meta.c.value)
        for key, value in conn.execute(query) if meta else ():
            if key not in _META_KEYS or (key == "ledger_id" and not _LEDGER_ID.fullmatch(value)):
                what = "key" if key not in _META_KEYS else "ledger id"
                return ChainProblem(
                    kind=ProblemKind.META_CHANGED,
                    message=(
                        f"ledger_meta holds {key!r} = {str(value)[:40]!r}, a {what} no "
                        "marginlex writes: the row was added or edited"
                    ),
                )
        if not tables.has_table(t.checkpoints.name):
            return None
        rows = list(conn.execute(select(t.checkpoints).order_by(t.checkpoints.c.head_seq)))
    state = LedgerState(ledger)
    for number, row in enumerate(rows, start=1):
        found = checkpoint_row_problem(row, state)
        if found is not None:
            return ChainProblem(
                kind=ProblemKind.CHECKPOINT_CHANGED,
                message=f"checkpoint {number} of the checkpoints table: {found}",
            )
    return None


_LEDGER_ID = re.compile(r"l-[0-9a-f]{32}")


def _trace_body(trace_z: bytes, dictionaries: Dictionaries) -> bytes | None:
    try:
        return decompress_trace(trace_z, dictionaries)
    except TraceDecodeError:  # bytes edited in place no longer decompress
        return None


def derived_problem(kind: ProblemKind, found: DerivedProblem) -> ChainProblem:
    """A derived row's disagreement with the entries as verify reports it."""
    return ChainProblem(
        kind=kind,
        message=found.message,
        seq=found.seq,
        run_id=found.run_id,
        decision_id=found.decision_id,
    )


_DERIVED_SINCE = {
    t.decision_keys.name: ("0005_decision_keys", ProblemKind.KEYS_CHANGED),
    t.run_summaries.name: ("0006_run_summaries", ProblemKind.SUMMARY_CHANGED),
}
"""The derived tables whose rows ``verify`` compares with the entries, and the revision that
made them: a ledger stamped with it or a later one holds them."""


def _dropped_derived(ledger: Ledger) -> ChainProblem | None:
    """A derived table dropped from a ledger whose revision made it: every row of it was
    compared with the entries, but with the table gone there was nothing to compare and
    verify said OK (readers take such a ledger for one recorded before the table)."""
    with ledger.engine.connect() as conn:
        revision = schema_revision(conn)
        if revision not in t.SCHEMA_REVISIONS:
            return None
        tables = inspect(conn)
        for name, (since, kind) in _DERIVED_SINCE.items():
            made = t.SCHEMA_REVISIONS.index(revision) >= t.SCHEMA_REVISIONS.index(since)
            if made and not tables.has_table(name):
                return ChainProblem(
                    kind=kind,
                    message=(
                        f"the table {name} is gone from a ledger at revision {revision!r} "
                        f"(revision {since!r} made it): it was dropped"
                    ),
                )
    return None


def _derived(walk: _Walk) -> ChainProblem | None:
    """Key rows past the last entry, then the runs' summaries (once the chain holds)."""
    dropped = _dropped_derived(walk.ledger)
    if dropped is not None:
        return dropped
    found = walk.keys.finish()
    if found is not None:
        return derived_problem(ProblemKind.KEYS_CHANGED, found)
    found = check_summaries(walk.ledger)
    return None if found is None else derived_problem(ProblemKind.SUMMARY_CHANGED, found)


def _blob_sha256(blob: bytes) -> str | None:
    try:
        return sha256_hex(inflate_book(blob))
    except BookBlobError:  # bytes edited in place no longer decompress, or forged to inflate
        return None


def _check_inputs(ledger: Ledger) -> ChainProblem | None:
    """Recorded rulebook texts and books still hash to what the runs chained, and each run's
    are there."""
    return _check_rulebook_texts(ledger) or _check_books(ledger)


def _check_rulebook_texts(ledger: Ledger) -> ChainProblem | None:
    with ledger.engine.connect() as conn:
        texts = set()
        for sha, body in conn.execute(select(t.rulebook_texts)):
            texts.add(sha)
            if sha256_hex(body) != sha:
                return ChainProblem(
                    kind=ProblemKind.INPUT_CHANGED,
                    message=f"the recorded text of rulebook {sha[:12]}… was changed",
                )
    for stored in ledger.runs():  # each run's rulebooks: replay and the console read them
        for ref in stored.record.rulebooks:
            if ref.sha256 not in texts:
                run_id = stored.record.run_id
                return ChainProblem(
                    kind=ProblemKind.INPUT_CHANGED,
                    run_id=run_id,
                    message=(
                        f"the recorded text of rulebook {ref.id} ({ref.sha256[:12]}…) of run "
                        f"{run_id} was removed"
                    ),
                )
    return None


def _check_books(ledger: Ledger) -> ChainProblem | None:
    with ledger.engine.connect() as conn:
        blobs = {}
        b = t.books.c
        for sha, blob_sha, body in conn.execute(select(b.sha256, b.blob_sha256, blob(b.blob))):
            blobs[sha] = blob_sha
            if _blob_sha256(body) != blob_sha:
                by = select(t.runs.c.run_id).where(t.runs.c.book_sha256 == sha)
                used = sorted(conn.scalars(by))
                runs = ", ".join(used) or "no run"
                return ChainProblem(
                    kind=ProblemKind.INPUT_CHANGED,
                    run_id=used[0] if used else None,
                    message=f"the recorded content of book {sha[:12]}… (of {runs}) was changed",
                )
        for run in conn.execute(
            select(t.runs.c.run_id, t.runs.c.book_sha256, t.runs.c.book_blob_sha256)
        ):
            if blobs.get(run.book_sha256) != run.book_blob_sha256:
                return ChainProblem(
                    kind=ProblemKind.INPUT_CHANGED,
                    run_id=run.run_id,
                    message=f"the book recorded for run {run.run_id} was replaced or removed",
                )
    return None


def _check_digests(ledger: Ledger, runs: Iterable[Any]) -> ChainProblem | None:
    """Each run's stored book digest is the one its record chains (``runs``, as the walk read
    them: runs recorded since revision 0010 name one): a later ``run --since`` of the run
    trusts it to say what changed."""
    hashed: dict[str, str | None] = {}  # book sha256 -> its stored digest's sha256
    chained: dict[str, set[str]] = {}  # book sha256 -> the digest sha256s its runs chain
    with ledger.engine.connect() as conn:
        for run in sorted(runs, key=lambda r: r.first_seq or 0):
            recorded = getattr(run, "book_digest_sha256", None)
            if recorded is None:
                continue
            if run.book_sha256 not in hashed:
                body = read_digest(conn, run.book_sha256)
                hashed[run.book_sha256] = None if body is None else sha256_hex(body)
                chained[run.book_sha256] = chained_digests(conn, run.book_sha256)
            stored = hashed[run.book_sha256]
            problem = digest_problem(run.run_id, recorded, stored, chained[run.book_sha256])
            if problem is not None:
                since = (
                    "compares the two books row by row instead" if stored is None else "refuses it"
                )
                return ChainProblem(
                    kind=ProblemKind.INPUT_CHANGED,
                    run_id=run.run_id,
                    message=f"{problem} (a `run --since {run.run_id}` {since})",
                )
    return None


def verify(
    ledger: Ledger, *, replayer: Replayer | None = None, expect_head: str | None = None
) -> VerifyReport:
    """Re-walk the chain from the first entry; with a replayer, re-evaluate every run.

    Args:
        ledger: the ledger to check.
        replayer: re-evaluates a run from its recorded inputs (from the evaluator).
        expect_head: a head hash noted at an earlier verify: the chain must still hold an
            entry with that hash (catches a tail cut off, which chaining alone cannot).

    Returns:
        A report naming the first problem, if any.
    """
    with ledger.engine.connect() as conn:  # first: a view in a table's place answers reads
        schema = schema_problem(conn)
    if schema is not None:
        changed = ChainProblem(kind=ProblemKind.SCHEMA_CHANGED, message=schema)
        return VerifyReport(entries=0, runs=0, head_seq=0, head_hash=GENESIS, problem=changed)
    ledger.load_dictionaries()  # as stored now: an edited dictionary garbles the traces
    walk = _Walk(ledger)
    problem: ChainProblem | None = None
    # closing(): stopping early must still close the (server-side) cursor.
    with closing(ledger.walk()) as rows, closing(walk.keys):
        while problem is None:
            try:
                row = next(rows, None)
            except UNREADABLE as exc:  # the driver could not convert a column of a row
                problem = _unreadable(None, exc, after=walk.seq)
                break
            if row is None:
                break
            try:
                problem = walk.step(row)
            except UNREADABLE as exc:
                problem = _unreadable(row, exc, after=walk.seq)
        problem = (
            problem
            or walk.run_counts()
            or _check_inputs(ledger)
            or _check_digests(ledger, walk.runs.values())
            or _derived(walk)
            or _check_dictionaries(walk)
            or _check_trust_tables(ledger)
        )
    if problem is None and expect_head is not None and not walk.saw(expect_head):
        problem = ChainProblem(
            kind=ProblemKind.HEAD_MISMATCH,
            seq=walk.seq,
            message=(
                f"no entry has the noted head hash {expect_head[:12]}…: the chain was cut "
                f"back below it, or replaced (it now ends at #{walk.seq} {walk.prev[:12]}…)"
            ),
        )
    differences: list[ReplayDifference] = []
    replayed = None
    if replayer is not None and problem is None:
        replayed = 0
        for run in ledger.runs():
            checked, found = replay_run(ledger, run.record.run_id, replayer)
            replayed += checked
            differences.extend(found)
    return VerifyReport(
        entries=walk.seq,
        runs=len(walk.runs),
        head_seq=walk.seq,
        head_hash=walk.prev,
        problem=problem,
        replayed=replayed,
        replay_differences=tuple(differences),
    )


class Recorded(NamedTuple):
    """A recorded decision as replay compares it: its entry, trace JSON and columns (for an
    entry carried forward, the trace of the entry it refers to)."""

    seq: int
    trace: str
    columns: LedgerColumns
    carried: bool = False
    inputs_sha256: str | None = None  # what a later ``run --since`` compares (not chained)


def _recorded(row: Any, dictionaries: Dictionaries, carried: dict[int, str]) -> Recorded:
    columns = LedgerColumns(
        account_ids=row.account_ids,
        status=row.status,
        call=money_text(Decimal(row.call)),
        requirement=money_text(Decimal(row.requirement)),
    )
    inputs = getattr(row, "inputs_sha256", None)
    if getattr(row, "carried_from", None) is not None:
        return Recorded(row.seq, carried.get(row.seq, ""), columns, True, inputs)
    return Recorded(row.seq, trace_json(row.trace_z, dictionaries), columns, False, inputs)


def replay_run(
    ledger: Ledger, run_id: str, replayer: Replayer
) -> tuple[int, list[ReplayDifference]]:
    """Replay one run; compare every decision's trace (byte for byte) and stored columns."""
    run = next(r.record for r in ledger.runs() if r.record.run_id == run_id)
    texts = {ref.sha256: ledger.rulebook_text(ref.sha256) or "" for ref in run.rulebooks}
    book = ledger.book_blob(run.book_sha256) or b""
    c = t.decisions.c
    extra = [c.carried_from, c.inputs_sha256] if "carried_from" in ledger.column_names() else []
    query = select(
        c.decision_id,
        c.seq,
        blob(c.trace_z),
        c.account_ids,
        c.status,
        c.call,
        c.requirement,
        *extra,
    ).where(c.run_id == run_id)
    with ledger.engine.connect() as conn:
        rows = list(conn.execute(query))
    carried = ledger.trace_bodies(r.seq for r in rows if getattr(r, "carried_from", None))
    stored = {r.decision_id: _recorded(r, ledger.dictionaries, carried) for r in rows}
    found = compare_replay(run_id, stored, replayer(run, texts, book))
    kept = {entry.seq for entry in stored.values()}
    found += [  # verify's walk names these first; replay must not compare one and pass
        ReplayDifference(
            decision_id=r.decision_id,
            run_id=run_id,
            seq=r.seq,
            detail="the run holds this decision id twice: only one of its entries is the run's",
        )
        for r in rows
        if r.seq not in kept
    ]
    return len(rows), found


def _differences(recorded: Recorded, trace: ReplayedTrace) -> list[str]:
    """What differs between a recording and its replay: the trace's first JSON path, then
    each stored column that is not what the engine computes."""
    found = []
    fresh = as_recorded(trace.canonical(), recorded.trace or "").decode("utf-8")
    if recorded.carried:
        # The earlier decision names its own book and id: everything else must be what the
        # engine decides on this run's book today.
        stored_doc, fresh_doc = json.loads(recorded.trace or "{}"), json.loads(fresh)
        fresh_doc |= {k: stored_doc.get(k) for k in CARRIED_FIELDS}
        if stored_doc != fresh_doc:
            difference = first_difference(stored_doc, fresh_doc) or "differs"
            found.append(f"carried forward, but this run's book decides otherwise: {difference}")
    elif fresh != recorded.trace:
        stored_doc, fresh_doc = json.loads(recorded.trace), json.loads(fresh)
        found.append(first_difference(stored_doc, fresh_doc) or "bytes differ")
    found += column_differences(recorded.columns, trace.ledger_columns())
    # Not chained (a derived column): a changed one would make a later ``run --since`` carry
    # a decision its inputs no longer give, or re-decide one they still do.
    replayed, stored = getattr(trace, "inputs_sha256", None), recorded.inputs_sha256
    if stored is not None and replayed is not None and stored != replayed:
        found.append(
            f"inputs_sha256: recorded {stored}, replayed {replayed} (the set's input hash, "
            "which a later run --since compares)"
        )
    return found


def compare_replay(
    run_id: str, stored: dict[str, Recorded], replayed: Iterable[ReplayedTrace]
) -> list[ReplayDifference]:
    """Differences between recorded decisions (by id) and replayed ones."""
    found: list[ReplayDifference] = []
    left = dict(stored)
    for trace in replayed:
        did = trace.decision_id
        entry = left.pop(did, None)
        if entry is None:
            detail = "replay makes a decision that was not recorded"
            found.append(ReplayDifference(decision_id=did, run_id=run_id, seq=None, detail=detail))
            continue
        found.extend(
            ReplayDifference(decision_id=did, run_id=run_id, seq=entry.seq, detail=detail)
            for detail in _differences(entry, trace)
        )
    found.extend(
        ReplayDifference(
            decision_id=did,
            run_id=run_id,
            seq=entry.seq,
            detail="recorded, but replay no longer makes this decision",
        )
        for did, entry in left.items()
    )
    return found
