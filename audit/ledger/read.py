"""Reading the ledger: one decision by id, filtered listings, runs, and the chain walk.

What one stored entry reads as, and its hash checks, are in ``entry_read.py`` (shared with
the ``sqlite3`` reader of ``sqlite_read.py``); their names are re-exported here.
"""

from __future__ import annotations

import zlib
from collections.abc import Generator, Iterable
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Label,
    LargeBinary,
    Select,
    and_,
    cast,
    func,
    inspect,
    select,
    type_coerce,
)

from marginlex.audit.canonical import canonical_json
from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.chain import TraceDecodeError, trace_json
from marginlex.audit.ledger.decision_keys import KeyKind, carried_or_own, has_keys, with_key
from marginlex.audit.ledger.entry_read import (
    MAX_KEY_LENGTH,
    NEAR_IDS,
    DecisionNotFoundError,
    LedgerError,
    RunDigests,
    carried_source_problem,
    hash_mismatch,
    not_found,
    rehash,
    row_summary,
    run_digest,
    run_from_row,
    set_part,
    stored_decision,
    too_long,
)
from marginlex.audit.ledger.records import (
    DecisionRow,
    RunCounts,
    RunOrigin,
    StoredDecision,
    StoredRun,
)
from marginlex.engine.book.memory import book_memory_limit
from marginlex.engine.outcomes import DecisionStatus

SQL_INT_MAX = 2**63 - 1
"""The largest integer SQLite and PostgreSQL take (a ``limit`` or ``offset`` is capped at it)."""
_SUMMARY = (
    t.decisions.c.seq,
    t.decisions.c.run_id,
    t.decisions.c.decision_id,
    t.decisions.c.rulebook_id,
    t.decisions.c.margin_set_id,
    t.decisions.c.account_ids,
    t.decisions.c.status,
    t.decisions.c.call,
    t.decisions.c.requirement,
    # What the entry hash is re-derived from, so each row shown is checked against it.
    t.decisions.c.trace_sha256,
    t.decisions.c.prev_hash,
    t.decisions.c.entry_hash,
)
_CARRIED = tuple(t.decisions.c[name] for name in t.CARRY_COLUMNS)


def blob(column: ColumnElement[bytes]) -> Label[bytes]:
    """A binary column read as bytes whatever SQLite holds in it.

    An insider's SQL can leave text where a blob was (``substr(trace_z, ...) || ...`` is
    text), which sqlite3 then fails to decode as UTF-8; cast to BLOB it reads as the bytes
    it is, and fails its hash like any other edit.
    """
    return type_coerce(cast(column, LargeBinary), LargeBinary).label(column.name)


def run_origins(conn: Connection, run_ids: Iterable[str] | None = None) -> dict[str, RunOrigin]:
    """Who ran each run (all, or these), as recorded; a ledger older than origins has none."""
    if not inspect(conn).has_table(t.run_origins.name):
        return {}
    query = select(t.run_origins)
    if run_ids is not None:
        query = query.where(t.run_origins.c.run_id.in_(set(run_ids)))
    return {
        r.run_id: RunOrigin(operator=r.operator, host=r.host, command_line=r.command_line)
        for r in conn.execute(query)
    }


def select_runs(conn: Connection) -> Select[Any]:
    """``SELECT`` of the ``runs`` columns this ledger has (revision 0010's column only once
    upgraded, or opened to record): a ledger made before it is read as it is."""
    present = {c["name"] for c in inspect(conn).get_columns(t.runs.name)}
    return select(*(c for c in t.runs.c if c.name in present))


def run_digests(conn: Connection, run_ids: Iterable[str]) -> dict[str, RunDigests]:
    """The digests of these runs (a run missing from ``runs`` is absent)."""
    wanted = set(run_ids)
    if not wanted:
        return {}
    rows = conn.execute(select_runs(conn).where(t.runs.c.run_id.in_(wanted)))
    origins = run_origins(conn, wanted)
    return {r.run_id: (run_digest(r, origins.get(r.run_id)), r.run_sha256) for r in rows}


def _runs_between(since: datetime | None, until: datetime | None) -> Select[Any]:
    """The ids of runs recorded in ``[since, until]`` (times compared as stored, ISO UTC)."""
    query: Select[Any] = select(t.runs.c.run_id)
    if since is not None:
        query = query.where(t.runs.c.created_at >= _stored_time(since))
    if until is not None:
        query = query.where(t.runs.c.created_at <= _stored_time(until))
    return query


def _stored_time(moment: datetime) -> str:
    """A time as the ``runs`` table stores ``created_at``."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # a bare time is UTC
    return aware.astimezone(UTC).replace(microsecond=0).isoformat()


_ORDERABLE = {"seq", "call", "requirement", "margin_set_id", "rulebook_id", "decision_id"}


def _by_seq() -> ColumnElement[Any]:
    """Chain order as an expression no index serves, for a lookup narrowed by a selective
    index (one decision id, one margin set): without statistics, SQLite would otherwise walk
    the whole run in ``(run_id, seq)`` order to skip the sort of a handful of rows.

    >>> str(_by_seq())
    'decisions.seq + :seq_1'
    """
    return t.decisions.c.seq + 0


def _order(order: tuple[str, ...], narrow: bool = False) -> list[Any]:
    """Sort clauses from column names (``-`` for descending), chain order last (``narrow``:
    the rows are few and found by another index, see :func:`_by_seq`).

    >>> [str(c) for c in _order(("-call",))]
    ['decisions.call DESC', 'decisions.seq']
    """
    clauses: list[Any] = []
    for name in order:
        column = name.removeprefix("-")
        if column not in _ORDERABLE:
            raise ValueError(f"cannot sort decisions on {column!r}")
        sort = _by_seq() if narrow and column == "seq" else t.decisions.c[column]
        clauses.append(sort.desc() if name.startswith("-") else sort)
    if not any(name.removeprefix("-") == "seq" for name in order):
        clauses.append(_by_seq() if narrow else t.decisions.c.seq)
    return clauses


def comparable_bound(amount: Decimal) -> Decimal:
    """A ``call_above`` bound every backend can compare, choosing the same calls: within
    :data:`~marginlex.audit.ledger.tables.CENTS_LIMIT` either way (every recorded call is
    below it) and to the cent, rounded down (calls are whole cents). PostgreSQL refused
    1e131072 and 1e-1000000 ("value overflows numeric format"): a 500 page on the console,
    a traceback from ``ledger --call-above``.

    >>> comparable_bound(Decimal("1e131072")) == t.CENTS_LIMIT
    True
    >>> comparable_bound(Decimal("1e-1000000")), comparable_bound(Decimal("1000.005"))
    (Decimal('0.00'), Decimal('1000.00'))
    """
    bounded = max(-t.CENTS_LIMIT, min(amount, t.CENTS_LIMIT))
    if bounded.as_tuple().exponent >= -2:  # type: ignore[operator]  # finite: an int
        return bounded
    return bounded.quantize(Decimal("0.01"), rounding=ROUND_FLOOR)


def _where(
    *,
    run: str | None,
    account: str | None,
    rulebook: str | None,
    status: DecisionStatus | None,
    call_above: Decimal | None,
    since: datetime | None,
    until: datetime | None,
    margin_set: str | None,
    keys: dict[str, str] | None = None,
    sets: bool = False,
) -> list[Any]:
    """The conditions of a decision listing (every filter given must hold).

    ``keys``: ``decision_keys`` kinds and the key each must name (the ledger has the table);
    ``sets``: the ledger has ``key_sets`` too, which entries recorded since name.
    """
    col = t.decisions.c
    where: list[Any] = []
    if run is not None:
        where.append(col.run_id == run)
    for kind, key in (keys or {}).items():
        where.append(carried_or_own(with_key(kind, key, sets=sets)))
    if account is not None and not (keys and "account" in keys):
        # written as the entry wrote it (UTF-8 kept: json.dumps wrote é as \u00e9, which
        # never matched an id holding a letter outside ASCII)
        quoted = canonical_json(account).decode("utf-8")
        where.append(col.account_ids.contains(quoted, autoescape=True))
    if rulebook is not None:
        where.append(col.rulebook_id == rulebook)
    if margin_set is not None:
        where.append(col.margin_set_id == margin_set)
    if status is not None:
        where.append(col.status == status.value)
    if call_above is not None:
        where.append(col.call > comparable_bound(call_above))
    if since is not None or until is not None:
        where.append(col.run_id.in_(_runs_between(since, until)))
    return where


def _near(conn: Connection, decision_id: str) -> list[str]:
    """The ``RULEBOOK:MARGIN_SET`` ids of the sets whose id holds the set part of an id that
    names no entry (``A01_ALICE`` finds ``sec:ms:A01_ALICE_PM``), at most :data:`NEAR_IDS`."""
    part = set_part(decision_id)
    if not part or len(part) > MAX_KEY_LENGTH:  # no set's id holds it (nor can SQLite LIKE it)
        return []
    col = t.decisions.c
    query = (
        select(col.rulebook_id, col.margin_set_id)
        .where(col.margin_set_id.icontains(part, autoescape=True))
        .distinct()
        .order_by(col.margin_set_id, col.rulebook_id)
        .limit(NEAR_IDS)
    )
    return [f"{rulebook}:{margin_set}" for rulebook, margin_set in conn.execute(query)]


def _find_row(
    conn: Connection, decision_id: str, run_id: str | None, summary: tuple[Any, ...]
) -> Any:
    """The latest ``decisions`` row (with its trace) of a ledger id, else of the
    ``RULEBOOK:MARGIN_SET`` id; one lookup at a time, since an OR of the two would keep the
    database from its indexes."""
    col = t.decisions.c
    wanted = [col.decision_id == decision_id]
    rulebook, _, margin_set = decision_id.partition(":")
    if margin_set:
        # ``rulebook_id || ''``: no index serves it, so the margin set's index is the one
        # SQLite (no statistics) searches, never the rulebook's (a third of the ledger)
        unindexed = col.rulebook_id.concat("")
        wanted.append(and_(unindexed == rulebook, col.margin_set_id == margin_set))
    for by_id in wanted:
        query = select(*summary, blob(col.trace_z)).where(by_id)
        if run_id is not None:
            query = query.where(col.run_id == run_id)
        row = conn.execute(query.order_by(_by_seq().desc()).limit(1)).first()
        if row is not None:
            return row
    return None


__all__ = [
    "DecisionNotFoundError",
    "LedgerReader",
    "TraceDecodeError",
    "rehash",
    "row_summary",
    "run_digest",
    "run_digests",
    "run_from_row",
    "run_origins",
]


class LedgerReader:
    """The read side of :class:`marginlex.audit.ledger.store.Ledger`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dictionaries: dict[int, bytes] = {}
        self._keyed: bool | None = None
        self._key_sets: bool | None = None

    @property
    def summary_columns(self) -> tuple[Any, ...]:
        """The columns a listing reads (with revision 0004's, when the ledger has them)."""
        if not hasattr(self, "_summary"):
            present = {c["name"] for c in inspect(self.engine).get_columns(t.decisions.name)}
            carried = tuple(c for c in _CARRIED if c.name in present)
            self._summary: tuple[Any, ...] = _SUMMARY + carried
            self._all = tuple(c for c in t.decisions.c if c.name in present)
        return self._summary

    def _source(self, conn: Connection, row: Any) -> tuple[Any, str | None]:
        """The earlier entry a carried entry refers to, and what is wrong with the link or
        with that entry itself (its run and decision id are shown: an edit of them is named)."""
        _ = self.summary_columns  # which columns this ledger has
        columns = [blob(c) if c.name == "trace_z" else c for c in self._all]
        query = select(*columns).where(t.decisions.c.seq == row.carried_from)
        source = conn.execute(query).first()
        digests = None if source is None else run_digests(conn, [source.run_id])
        broken = carried_source_problem(row, source, digests)
        gone = source is None or source.seq >= row.seq
        return (None if gone else source), broken

    def load_dictionaries(self) -> None:
        """Read the Zstandard dictionaries this ledger's traces were compressed with."""
        if not inspect(self.engine).has_table(t.trace_dictionaries.name):
            return  # a ledger written before dictionaries, or not created yet
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.trace_dictionaries))
            self.dictionaries = {int(row.dict_id): bytes(row.data) for row in rows}

    def get_decision(self, decision_id: str, run_id: str | None = None) -> StoredDecision:
        """The most recent recording of a decision (or its recording in one run).

        ``decision_id`` is the ledger's id (``d-ms:A01-...``, as ``marginlex ledger`` lists
        it) or the ``RULEBOOK:MARGIN_SET`` id that ``marginlex run --json`` prints
        (``sec:ms:A01_ALICE_PM``).

        Raises:
            DecisionNotFoundError: no such decision (in that run).
        """
        summary = self.summary_columns
        with self.engine.connect() as conn:
            row = _find_row(conn, decision_id, run_id, summary)
            if row is None:
                recorded = run_id is None or conn.scalar(
                    select(t.runs.c.run_id).where(t.runs.c.run_id == run_id)
                )
                raise not_found(decision_id, run_id, _near(conn, decision_id), bool(recorded))
            digests = run_digests(conn, [row.run_id])
            created = conn.scalar(select(t.runs.c.created_at).where(t.runs.c.run_id == row.run_id))
            origin = run_origins(conn, [row.run_id]).get(row.run_id)
            carried: tuple[Any, str | None] = (None, None)
            if getattr(row, "carried_from", None) is not None:
                carried = self._source(conn, row)
            after = conn.scalar(
                select(t.decisions.c.prev_hash).where(t.decisions.c.seq == row.seq + 1)
            )
        return stored_decision(
            row,
            digests=digests,
            created=created,
            origin=origin,
            carried=carried,
            dictionaries=self.dictionaries,
            next_link=None if after is None else str(after),
        )

    def query(
        self,
        *,
        run: str | None = None,
        account: str | None = None,
        rulebook: str | None = None,
        status: DecisionStatus | None = None,
        call_above: Decimal | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
        margin_set: str | None = None,
        order: tuple[str, ...] = ("seq",),
        keys: dict[str, str] | None = None,
    ) -> list[DecisionRow]:
        """Decisions matching every filter given, in chain order, each checked against its hash.

        ``since`` and ``until`` bound the recorded time of the entry's run (inclusive).
        ``order`` names columns to sort on (``-call``: descending), then chain order.
        ``keys``: ``decision_keys`` rows each decision must have (see :meth:`keyed`).
        """
        where = _where(
            keys=self._keys(account, keys),
            sets=self.has_key_sets(),
            run=run,
            account=account,
            rulebook=rulebook,
            status=status,
            call_above=call_above,
            since=since,
            until=until,
            margin_set=margin_set,
        )
        summary = self.summary_columns
        narrow = margin_set is not None
        query: Select[Any] = select(*summary).where(*where).order_by(*_order(order, narrow))
        # A row count past a 64-bit integer means "all" (or "past the end"), not an error.
        if limit is not None:
            query = query.limit(min(limit, SQL_INT_MAX))
        if offset:
            query = query.offset(min(offset, SQL_INT_MAX))
        with self.engine.connect() as conn:
            rows = list(conn.execute(query))
            digests = run_digests(conn, {row.run_id for row in rows})
        return [row_summary(row, hash_mismatch(row, digests)) for row in rows]

    def count(
        self,
        *,
        run: str | None = None,
        account: str | None = None,
        rulebook: str | None = None,
        status: DecisionStatus | None = None,
        call_above: Decimal | None = None,
        margin_set: str | None = None,
        keys: dict[str, str] | None = None,
    ) -> int:
        """How many decisions :meth:`query` would list with these filters (no limit)."""
        where = _where(
            keys=self._keys(account, keys),
            sets=self.has_key_sets(),
            run=run,
            account=account,
            rulebook=rulebook,
            status=status,
            call_above=call_above,
            since=None,
            until=None,
            margin_set=margin_set,
        )
        with self.engine.connect() as conn:
            found = conn.scalar(select(func.count()).select_from(t.decisions).where(*where))
        return int(found or 0)

    def keyed(self) -> bool:
        """Whether the ledger has its decisions' lookup keys (``decision_keys``)."""
        if self._keyed is None:
            self._keyed = inspect(self.engine).has_table(t.decision_keys.name)
        return self._keyed

    def has_key_sets(self) -> bool:
        """Whether the ledger has ``key_sets`` (revision 0008), which its newer entries name."""
        if self._key_sets is None:
            self._key_sets = inspect(self.engine).has_table(t.key_sets.name)
        return self._key_sets

    def _keys(self, account: str | None, keys: dict[str, str] | None) -> dict[str, str]:
        found = dict(keys or {})
        if account is not None and self.keyed():
            found["account"] = account
        return found

    def trace_bodies(self, seqs: Iterable[int]) -> dict[int, str]:
        """The trace JSON of these ledger entries, by sequence number (missing ones absent)."""
        wanted = list(seqs)
        if not wanted:
            return {}
        col = t.decisions.c
        carried = col.carried_from if "carried_from" in self.column_names() else None
        query = select(col.seq, blob(col.trace_z), *([carried] if carried is not None else []))
        with self.engine.connect() as conn:
            rows = list(conn.execute(query.where(col.seq.in_(wanted))))
            # an entry carried forward reads the trace of the entry it refers to
            sources = {int(r.carried_from) for r in rows if getattr(r, "carried_from", None)}
            by_seq = {int(r.seq): r.trace_z for r in rows}
            if sources:
                found = select(col.seq, blob(col.trace_z)).where(col.seq.in_(sources))
                by_seq |= {int(r.seq): r.trace_z for r in conn.execute(found)}
        return {
            int(r.seq): trace_json(
                by_seq[int(r.carried_from)] if getattr(r, "carried_from", None) else r.trace_z,
                self.dictionaries,
            )
            for r in rows
            if not getattr(r, "carried_from", None) or int(r.carried_from) in by_seq
        }

    def column_names(self) -> set[str]:
        """The ``decisions`` columns this ledger has (revision 0004's only once upgraded)."""
        _ = self.summary_columns
        return {c.name for c in self._all}

    def runs(self) -> list[StoredRun]:
        """Every recorded run, oldest first."""
        with self.engine.connect() as conn:
            order = (t.runs.c.first_seq, t.runs.c.created_at)
            rows = conn.execute(select_runs(conn).order_by(*order))
            origins = run_origins(conn)
            return [
                StoredRun(
                    record=run_from_row(r, origins.get(r.run_id)),
                    counts=RunCounts(decisions=r.decisions, ok=r.ok, call=r.call, breach=r.breach),
                )
                for r in rows
            ]

    def unknown_filter(
        self, run: str | None, rulebook: str | None, account: str | None = None
    ) -> str | None:
        """Why a listing filtered by ``run``, ``rulebook`` or ``account`` is empty when one
        names nothing recorded (None when each names something): an empty listing would read
        as "no such decision"."""
        if account is not None and (unknown := self._unknown_account(account)) is not None:
            return unknown
        if run is None and rulebook is None:
            return None
        records = [r.record for r in self.runs()]
        if run is not None and run not in {r.run_id for r in records}:
            return f"no run {run!r} in the ledger; `marginlex ledger runs` lists them"
        used = sorted({ref.id for r in records for ref in r.rulebooks})
        if rulebook is not None and rulebook not in used:
            recorded = ", ".join(used) or "none"
            return f"no run in the ledger used rulebook {rulebook!r}; recorded: {recorded}"
        return None

    def _unknown_account(self, account: str) -> str | None:
        """Why no decision holds ``account`` (None: one does, or the ledger has no lookup
        rows to tell), with the accounts whose id holds it in other capitals or in part
        (``a09_golf`` finds ``A09_GOLF_FUT``), at most :data:`NEAR_IDS`."""
        if (long := too_long("account", account)) is not None:
            return long
        kc = t.decision_keys.c
        accounts = kc.kind == KeyKind.ACCOUNT.value
        with self.engine.connect() as conn:
            if not has_keys(conn):
                return None
            if conn.scalar(select(kc.seq).where(accounts, kc.key == account).limit(1)):
                return None
            near = list(
                conn.scalars(
                    select(kc.key)
                    .where(accounts, kc.key.icontains(account, autoescape=True))
                    .distinct()
                    .order_by(kc.key)
                    .limit(NEAR_IDS)
                )
            )
        meant = f"; did you mean {', '.join(near)}?" if near else ""
        return f"no decision in the ledger holds account {account!r}{meant}"

    def rulebook_text(self, sha256: str) -> str | None:
        """The recorded canonical text of a rulebook, by its sha256."""
        with self.engine.connect() as conn:
            query = select(t.rulebook_texts.c.text).where(t.rulebook_texts.c.sha256 == sha256)
            return conn.scalar(query)

    def book_blob(self, sha256: str) -> bytes | None:
        """The recorded canonical book content, by its sha256 (decompressed)."""
        with self.engine.connect() as conn:
            body = conn.scalar(select(blob(t.books.c.blob)).where(t.books.c.sha256 == sha256))
        return None if body is None else inflate_book(body)

    def walk(self, batch: int = 2000) -> Generator[Any, None, None]:
        """Every ``decisions`` row in chain order, streamed (all columns)."""
        with self.engine.connect() as conn:
            _ = self.summary_columns
            columns = [blob(c) if c.name == "trace_z" else c for c in self._all]
            result = conn.execution_options(yield_per=batch).execute(
                select(*columns).order_by(t.decisions.c.seq)
            )
            try:
                yield from result
            finally:
                result.close()  # a server-side cursor on PostgreSQL: close it when cut short

    def close(self) -> None:
        """Release the ledger's connections."""
        self.engine.dispose()


class BookBlobError(LedgerError):
    """A stored book that does not decompress, or would inflate past the memory a book may
    take (a forged blob: a few megabytes of zlib can stand for a hundred gigabytes)."""


def inflate_book(body: bytes, limit: int | None = None) -> bytes:
    """A stored book blob decompressed, at most ``limit`` bytes (default: the memory one
    book may take now, :func:`~marginlex.engine.book.memory.book_memory_limit`).

    Raises:
        BookBlobError: the bytes do not decompress, or inflate past the limit.
    """
    cap = book_memory_limit() if limit is None else limit
    inflate = zlib.decompressobj()
    try:
        content = inflate.decompress(body, cap + 1)
    except zlib.error as exc:
        raise BookBlobError(f"the stored book does not decompress: {exc}") from exc
    if len(content) > cap or inflate.unconsumed_tail:
        raise BookBlobError(
            f"the stored book inflates past {cap / 1e9:,.1f} GB (half the memory available "
            "now): a forged or damaged blob"
        )
    return content
