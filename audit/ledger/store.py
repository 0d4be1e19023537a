"""The tamper-evident ledger: runs and chained decisions, on SQLite or PostgreSQL.

One storage interface over SQLAlchemy Core. A run is written in ONE transaction, under a
write lock taken before the chain head is read (SQLite ``BEGIN IMMEDIATE``, PostgreSQL a
transaction-scoped advisory lock), so a killed run leaves nothing and two writers at once
both land with the chain intact.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    delete,
    event,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, DBAPIError, OperationalError, ProgrammingError

from marginlex.audit.canonical import canonical_json, sha256_hex
from marginlex.audit.ledger import locks
from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.acting_role import Access, RoleRefused, act_as
from marginlex.audit.ledger.book_digests import write_digest
from marginlex.audit.ledger.carried_entries import CarriedEntries, CarriedMismatch
from marginlex.audit.ledger.chain import (
    GENESIS,
    PreparedDecision,
    entry_hash,
    entry_header,
    prepare,
    trace_json,
)
from marginlex.audit.ledger.decision_keys import (
    KeySets,
    backfill,
    has_keys,
    keys_of,
    named_of,
    read_sets,
    write_entry_keys,
)
from marginlex.audit.ledger.driver_rows import insert_sql
from marginlex.audit.ledger.entry_read import LedgerError
from marginlex.audit.ledger.locks import (
    BUSY_TIMEOUT_MS,
    LockTimeout,
    WaitingConnection,
    busy,
    run_waiting,
)
from marginlex.audit.ledger.read import LedgerReader, inflate_book
from marginlex.audit.ledger.records import RunCounts, RunRecord
from marginlex.audit.ledger.run_summaries import backfill as backfill_summaries
from marginlex.audit.ledger.run_summaries import has_summaries, write_summary
from marginlex.audit.ledger.sqlite_read import path_problem
from marginlex.audit.trace.dictionary import DICTIONARY_ID, shipped
from marginlex.audit.trace.model import DecisionTrace

ENV_VAR = "MARGINLEX_LEDGER"
_PG_LOCK_KEY = 0x6D6C6578  # "mlex": one advisory lock id for every marginlex ledger writer
_CHUNK = 5000


_Item = DecisionTrace | PreparedDecision | CarriedEntries
__all__ = [
    "ENV_VAR",
    "Ledger",
    "LedgerError",
    "check_ledger",
    "schema_revision",
    "shown_location",
]


def shown_location(location: str) -> str:
    """A ledger location fit to print: a URL's password hidden, a path as it is.

    >>> shown_location("postgresql+psycopg://auditor:s3cret@db:5432/margin")
    'postgresql+psycopg://auditor:***@db:5432/margin'
    >>> shown_location("runs/ledger.db")
    'runs/ledger.db'
    """
    if "://" not in location:
        return location
    return make_url(location).render_as_string(hide_password=True)


def schema_revision(conn: Connection) -> str | None:
    """The Alembic revision a ledger is stamped with (None: made before Alembic, or new)."""
    if not inspect(conn).has_table(t.VERSION_TABLE):
        return None
    found = conn.execute(text(f"SELECT version_num FROM {t.VERSION_TABLE}")).scalar()
    return None if found is None else str(found)


def has_entries(conn: Connection) -> bool:
    """Whether a ledger's ``decisions`` table exists and holds an entry."""
    if not inspect(conn).has_table(t.decisions.name):
        return False
    return conn.execute(select(t.decisions.c.seq).limit(1)).first() is not None


def _refuse_foreign_database(conn: Connection, location: str) -> None:
    """Refuse to make a ledger in a database that holds other tables (an application's
    database named by mistake): the ledger's tables would be added to it."""
    ours = set(t.metadata.tables) | {t.VERSION_TABLE}
    foreign = sorted(set(inspect(conn).get_table_names()) - ours)
    if foreign:
        more = f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        shown = ", ".join(foreign[:5]) + more
        raise LedgerError(
            f"{shown_location(location)} is a database holding other tables ({shown}), not a "
            "marginlex ledger: nothing was written to it; give a new file or an empty "
            "database for the ledger"
        )


def _refuse_newer_schema(conn: Connection, location: str) -> None:
    revision = schema_revision(conn)
    if revision is not None and revision not in t.SCHEMA_REVISIONS:
        raise LedgerError(
            f"{shown_location(location)} has schema revision {revision!r}, which this "
            f"marginlex does not know (it knows up to {t.SCHEMA_HEAD!r}): a newer marginlex "
            "made it; use that version"
        )


def _stamp_head(conn: Connection) -> None:
    """Stamp a ledger whose tables ``create_all`` just completed with the head revision."""
    if schema_revision(conn) == t.SCHEMA_HEAD:
        return
    conn.execute(
        text(
            f"CREATE TABLE IF NOT EXISTS {t.VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
            f"CONSTRAINT {t.VERSION_TABLE}_pkc PRIMARY KEY (version_num))"
        )
    )
    conn.execute(text(f"DELETE FROM {t.VERSION_TABLE}"))
    conn.execute(text(f"INSERT INTO {t.VERSION_TABLE} VALUES (:v)"), {"v": t.SCHEMA_HEAD})


def _bring_to_head(conn: Connection) -> None:
    """Give a ledger opened to record what the head revision has (nothing when it has it)."""
    fill_keys = not has_keys(conn) and has_entries(conn)
    fill_summaries = not has_summaries(conn) and has_entries(conn)
    t.metadata.create_all(conn)  # new tables only: the ledger is at the head
    # A ledger made before an index was added gets it (create_all makes the indexes of new
    # tables only); a ledger without it still reads.
    for index in t.decisions.indexes:
        index.create(conn, checkfirst=True)
    _add_columns(conn)
    if schema_revision(conn) != t.SCHEMA_HEAD:  # as revision 0009 does
        _retire_indexes(conn)
    if fill_keys:  # an older ledger stamped to the head: index its entries
        backfill(conn)
    if fill_summaries:  # and count its runs' summaries
        backfill_summaries(conn)
    _stamp_head(conn)


def _schema_refused(
    location: str, made: bool, revision: str | None, exc: ProgrammingError
) -> LedgerError:
    """The error of a login that may not bring a ledger's schema to the head: an older
    ledger's (the writer of a ledger made with ``--roles``, which only inserts), or a new
    one's (not ``made``: no tables yet)."""
    shown = shown_location(location)
    reason = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
    if not made:
        return LedgerError(
            f"cannot make a ledger at {shown}: this login may not create its tables ({reason}); "
            "its owner makes it first (`marginlex ledger init URL`, logged in as the owner)"
        )
    was = f"revision {revision!r}" if revision else "the schema of marginlex 0.1"
    return LedgerError(
        f"{shown} has {was}, older than this marginlex's ({t.SCHEMA_HEAD!r}), and this login "
        f"may not bring it up to date ({reason}): the ledger's owner upgrades it first "
        "(`marginlex ledger upgrade --ledger URL`, logged in as the owner), then record again"
    )


def _retire_indexes(conn: Connection) -> None:
    """Drop the indexes revision 0009 retired (:data:`~.tables.RETIRED_INDEXES`) from a
    ledger about to be stamped with the head revision."""
    present = {ix["name"] for ix in inspect(conn).get_indexes(t.decisions.name)}
    for name in t.RETIRED_INDEXES:
        if name in present:
            conn.execute(text(f"DROP INDEX {name}"))


def _add_columns(conn: Connection) -> None:
    """Give a ledger opened for writing the columns of revisions 0004 (``decisions``), 0010
    and 0011 (``runs``) if it lacks them."""
    run_columns = (t.RUN_DIGEST_COLUMN, t.RUN_CODE_COLUMN)
    for table, names in ((t.decisions, t.CARRY_COLUMNS), (t.runs, run_columns)):
        present = {c["name"] for c in inspect(conn).get_columns(table.name)}
        for name in names:
            if name not in present:
                kind = table.c[name].type.compile(dialect=conn.dialect)
                conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}"))


def _sqlite_engine(path: Path) -> Engine:
    # Every read waits for another process's lock as the first does: said, bounded.
    waiting = {"timeout": BUSY_TIMEOUT_MS / 1000, "factory": WaitingConnection}
    engine = create_engine(f"sqlite:///{path}", connect_args=waiting)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, issue BEGIN, so writers can ask for IMMEDIATE.
        # The journal stays the default rollback journal: WAL would write every recorded
        # trace twice (log, then checkpoint), a third slower on a 300k-decision run; the
        # price is that readers wait while a large run commits.
        dbapi_conn.isolation_level = None
        # 16 KiB pages hold several compressed traces each (4 KiB pages hold one, half
        # empty): a third smaller and faster. It only takes effect on a new file.
        # Each statement that locks waits for another process's lock as _waiting says.
        _waiting(dbapi_conn, path, "PRAGMA page_size=16384")
        # A 256 MiB page cache (the default is 2 MiB): a recorded run's index pages stay in
        # memory instead of being read back from the file as each batch of entries lands
        # (at 100k accounts, 181k page reads became 68k, the run 1 s faster). SQLite fills
        # it only as pages are used: a reader of one decision takes a few pages.
        _waiting(dbapi_conn, path, "PRAGMA cache_size=-262144")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("ledger_write", False):
            _waiting(conn.connection.dbapi_connection, path, "BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def _waiting(dbapi_conn: Any, path: Path, sql: str) -> None:
    """:func:`~marginlex.audit.ledger.locks.run_waiting`, its errors as the ledger's and
    SQLAlchemy's (``BEGIN IMMEDIATE`` takes the write lock; a pragma reads the header).

    Raises:
        LedgerError: the lock was still held after the wait; nothing was written.
        sqlalchemy.exc.DBAPIError: SQLite refused otherwise (not a database, an I/O error).
    """
    try:
        run_waiting(dbapi_conn, path, sql)
    except LockTimeout as exc:
        raise LedgerError(str(exc)) from exc
    except sqlite3.Error as exc:  # as SQLAlchemy would have raised it
        raise DBAPIError.instance(sql, None, exc, sqlite3.Error) from exc


def _engine(location: str, create: bool) -> Engine:
    if "://" in location:
        if location.startswith("sqlite:///"):
            return _engine(location.removeprefix("sqlite:///"), create)
        if location.startswith("postgresql://"):  # psycopg 3 is the driver we ship
            location = "postgresql+psycopg://" + location.removeprefix("postgresql://")
        if not location.startswith("postgresql+psycopg://"):
            raise LedgerError(
                f"unsupported ledger URL {location!r}: use a path or postgresql+psycopg://"
            )
        return create_engine(location, pool_pre_ping=True)
    return _sqlite_engine(_sqlite_path(location, create=create))


def _sqlite_path(location: str, *, create: bool) -> Path:
    """The file of a SQLite ledger (a path, or a ``sqlite:///`` URL's), checked.

    Raises:
        LedgerError: an in-memory database (it would record nothing, and SQLite's name was
            taken for a file named ``:memory:``), a folder, or no such folder.
    """
    name = location.removeprefix("sqlite:///")
    if name == ":memory:" or name.startswith("file::memory:"):
        raise LedgerError(
            f"{location} is an in-memory database: a ledger there would be gone when the "
            "command ends, so nothing could be audited; give a file path, such as ledger.db"
        )
    path = Path(name).expanduser().resolve()
    if (problem := path_problem(path, create=create)) is not None:
        raise LedgerError(problem)
    return path


def check_ledger(location: str) -> None:
    """Refuse, before a run evaluates anything, a ledger it could not record in: what
    :meth:`Ledger.open` refuses without writing (a file that is not a database, a database
    holding other tables, a newer schema, an in-memory database, a PostgreSQL server that
    refuses the login). Nothing is created or written; a SQLite file not yet there is made
    when the run records. A ledger locked by another writer is not waited for here.

    Raises:
        LedgerError: what is wrong, in one line.
    """
    shown = shown_location(location)
    if "://" not in location or location.startswith("sqlite:///"):
        path = _sqlite_path(location, create=True)
        if not path.exists():
            return
        shown = f"sqlite:///{path}"  # as the engine names it when the run records
        uri = f"file:{quote(str(path))}?mode=ro"
        engine = create_engine(
            "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, timeout=0.2)
        )
    else:
        engine = _engine(location, create=False)
    try:
        act_as(engine, Access.WRITE)
        with engine.connect() as conn:
            _refuse_newer_schema(conn, location)
            if not inspect(conn).has_table(t.decisions.name):
                _refuse_foreign_database(conn, location)
    except RoleRefused as exc:
        raise LedgerError(str(exc)) from exc
    except DatabaseError as exc:
        if isinstance(exc.orig, sqlite3.Error) and busy(exc.orig):
            return  # another writer holds it now: the run says so when it records
        hint = ""
        if isinstance(exc.orig, sqlite3.DatabaseError) and "not a database" in str(exc.orig):
            hint = "; it was left as it was: give a new file or a ledger's path"
        raise LedgerError(f"cannot open the ledger {shown}: {exc.orig}{hint}") from exc
    finally:
        engine.dispose()


def _pg_write_lock(conn: Connection) -> None:
    """Take the PostgreSQL ledgers' write lock (an advisory lock, held to the transaction's
    end), as :func:`~marginlex.audit.ledger.locks.run_waiting` does on SQLite: taken at
    once, or said with who holds it (``pg_locks``, ``pg_stat_activity``), then waited for
    at most :data:`~marginlex.audit.ledger.locks.LOCK_WAIT_SECONDS` (it waited for ever, in
    silence).

    Raises:
        LedgerError: still held after the wait; the transaction is rolled back.
    """
    key = {"k": _PG_LOCK_KEY}
    if conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), key).scalar():
        return
    total = max(locks.LOCK_WAIT_SECONDS, 0.001)
    where = conn.engine.url.render_as_string(hide_password=True)
    locks.lock_wait_notice(
        f"waiting for the ledger {where}: its write lock is {_pg_holders(conn)}; waiting up "
        f"to {locks.seconds(total)} (Ctrl+C stops the wait; nothing is written then)"
    )
    conn.execute(text(f"SET LOCAL lock_timeout = {int(total * 1000)}"))
    try:
        with conn.begin_nested():  # a timeout rolls back to here, so the holder can be read
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), key)
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        raise LedgerError(
            f"the ledger {where} stayed locked for {locks.seconds(total)}: its write lock is "
            f"{_pg_holders(conn)}: nothing was written; let that run finish (or stop it) and "
            "try again"
        ) from exc
    conn.execute(text("SET LOCAL lock_timeout = DEFAULT"))


def _pg_holders(conn: Connection) -> str:
    """``held by pid 4242 (margin_writer, marginlex run ... from 10.0.0.7)``, as far as the
    server tells this login."""
    rows = conn.execute(
        text(
            "SELECT l.pid, a.usename, a.application_name, host(a.client_addr) AS addr "
            "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = :k "
            "AND l.pid <> pg_backend_pid()"
        ),
        {"k": _PG_LOCK_KEY},
    ).all()
    if not rows:
        return "held by another session (the server does not say which)"
    shown = []
    for pid, user, application, addr in rows:
        about = ", ".join(str(x) for x in (user, application or None) if x)
        about += f" from {addr}" if addr else ""
        shown.append(f"pid {pid}" + (f" ({about})" if about else ""))
    return "held by " + ", ".join(shown)


class Ledger(LedgerReader):
    """A ledger of runs and chained decisions.

    >>> import tempfile, pathlib
    >>> ledger = Ledger.open(str(pathlib.Path(tempfile.mkdtemp()) / "l.db"))
    >>> ledger.head()
    (0, '0000000000000000000000000000000000000000000000000000000000000000')
    """

    @staticmethod
    def open_engine(location: str) -> Engine:
        """An engine on the ledger's database, nothing read or created (the caller disposes
        of it).

        Raises:
            LedgerError: the location is neither a path nor a supported URL.
        """
        return _engine(location, False)

    @classmethod
    def open(cls, location: str, *, create: bool = True, access: Access = Access.WRITE) -> Ledger:
        """Open (and, with ``create``, initialise) a ledger by path or SQLAlchemy URL.

        On a PostgreSQL ledger made with ``--roles``, every connection acts as the role it
        records for ``access`` (:mod:`~marginlex.audit.ledger.acting_role`).
        """
        engine = _engine(location, create)
        ledger = cls(engine)
        try:
            act_as(engine, access)
            if create:
                with ledger._write() as conn:
                    _refuse_newer_schema(conn, location)
                    revision = schema_revision(conn)
                    made = inspect(conn).has_table(t.decisions.name)
                    if not made:
                        _refuse_foreign_database(conn, location)
                    try:
                        _bring_to_head(conn)
                    except ProgrammingError as exc:  # a --roles writer may not change it
                        if made and revision == t.SCHEMA_HEAD:
                            raise
                        raise _schema_refused(location, made, revision, exc) from exc
            elif not inspect(engine).has_table(t.decisions.name):
                raise LedgerError(f"{location} is not a marginlex ledger (no decisions table)")
            else:
                with engine.connect() as conn:
                    _refuse_newer_schema(conn, location)
            ledger.load_dictionaries()
        # DatabaseError: the server or file refused (OperationalError), or the file is not
        # a database at all (a path given by mistake): said in one line, never a traceback.
        except (LedgerError, DatabaseError, RoleRefused) as exc:
            engine.dispose()
            if isinstance(exc, LedgerError):
                raise
            if isinstance(exc, RoleRefused):
                raise LedgerError(str(exc)) from exc
            shown = engine.url.render_as_string(hide_password=True)
            raise LedgerError(f"cannot open the ledger {shown}: {exc.orig}") from exc
        return ledger

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction holding the ledger's write lock.

        Raises:
            LedgerError: the database refused to write (a full disk, an I/O error, a lost
                connection, a lock held past the timeout); the transaction is rolled back.
        """
        try:
            with self.engine.connect() as raw:
                conn = raw.execution_options(ledger_write=True)
                with conn.begin():
                    if self.engine.dialect.name == "postgresql":
                        _pg_write_lock(conn)
                    yield conn
        except OperationalError as exc:  # said in one line, never a traceback
            url = self.engine.url
            sqlite = url.get_backend_name() == "sqlite"
            where = url.database if sqlite else url.render_as_string(hide_password=True)
            raise LedgerError(f"cannot write the ledger {where}: {exc.orig}") from exc

    def transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction holding the ledger's write lock (signed checkpoints use it)."""
        return self._write()

    def record_run(
        self,
        run: RunRecord,
        decisions: Iterable[_Item],
        rulebook_texts: Iterable[str] = (),
        book_blob: bytes | None = None,
        chunk_size: int = _CHUNK,
        *,
        book_digest: bytes | None = None,
    ) -> str:
        """Append a run and its decisions to the chain, in one transaction.

        Args:
            run: the run's rulebooks, book sha256, as-of and engine version.
            decisions: one trace per margin set per rulebook (streamed, in chunks), or
                the same already serialized by :func:`~marginlex.audit.ledger.chain.prepare`;
                a run ``--since`` gives blocks of carried entries among them.
            rulebook_texts: the canonical text of each rulebook (stored once, for replay).
            book_blob: the canonical content of the book ``run.book_sha256`` names (any
                bytes the evaluator can rebuild the book from); its own sha256 is chained.
            chunk_size: decisions per bulk insert (memory stays bounded by one chunk).
            book_digest: the book's digest for a later ``run --since``
                (:mod:`~marginlex.audit.ledger.book_digests`; stored once per book).

        Returns:
            The run id.

        Raises:
            LedgerError: a decision or an input does not belong to the run; nothing is written.
        """
        texts = {sha256_hex(body): body for body in rulebook_texts}
        with self._write() as conn:
            if conn.execute(select(t.runs.c.run_id).where(t.runs.c.run_id == run.run_id)).first():
                raise LedgerError(f"run {run.run_id} is already recorded")
            blob_sha = self._store_inputs(conn, run, texts, book_blob)
            if book_digest is not None:  # in the same transaction, its sha256 in the record
                stored = write_digest(conn, run.book_sha256, book_digest)
                run = run.model_copy(update={"book_digest_sha256": stored})
            run_sha = run.digest(blob_sha)
            head = self._head(conn)
            counts, last = self._append(
                conn, run=run, run_sha=run_sha, traces=decisions, head=head, chunk_size=chunk_size
            )
            row = _run_row(run, run_sha, counts, (head[0] + 1, last)) | {
                "book_blob_sha256": blob_sha
            }
            conn.execute(insert(t.runs), [row])
            if run.origin is not None:
                origin = run.origin.model_dump() | {"run_id": run.run_id}
                conn.execute(insert(t.run_origins), [origin])
            write_summary(conn, run.run_id)  # derived, counted in the same transaction
        return run.run_id

    def _append(
        self,
        conn: Connection,
        *,
        run: RunRecord,
        run_sha: str,
        traces: Iterable[_Item],
        head: tuple[int, str],
        chunk_size: int,
    ) -> tuple[RunCounts, int]:
        seq, prev = head
        # Lookup rows past the head belong to no entry (entries deleted by hand, which verify
        # reports): the new entries' rows take their place.
        stale = t.decision_keys.c.seq > seq
        if conn.scalar(select(t.decision_keys.c.seq).where(stale).limit(1)) is not None:
            conn.execute(delete(t.decision_keys).where(stale))
        shas = {ref.sha256: ref.id for ref in run.rulebooks}
        status: Counter[str] = Counter()
        seen: set[str] = set()
        sql = insert_sql(conn, t.decisions.name, _DECISION_COLUMNS)
        to_money = float if conn.dialect.name == "sqlite" else _same
        dictionaries = {DICTIONARY_ID: shipped()} | self.dictionaries
        sets = KeySets(read_sets(conn))
        for batch in _batched(traces, chunk_size):
            rows, keys = [], []
            for item in batch:
                if isinstance(item, CarriedEntries):  # a --since run's, chained column-wise
                    block, (seq, prev) = _carried_rows(
                        item, run, (run_sha, shas, seen), (seq, prev), to_money
                    )
                    rows.extend(block)
                    status.update(item.status_counts())
                    continue
                decision = item if isinstance(item, PreparedDecision) else prepare(item)
                _check_belongs(decision, run, shas, seen)
                seq += 1
                row = _decision_row(decision, run.run_id, run_sha, seq, prev, to_money=to_money)
                prev = row[_ENTRY_HASH]
                status[decision.status] += 1
                rows.append(row)
                if getattr(decision, "carried_from", None) is not None:
                    continue  # no keys of its own: readers follow it to its reference's
                named = decision.named  # known as the trace was built, else read from it
                if named is None:
                    body = trace_json(decision.trace_z, dictionaries)
                    named = named_of(keys_of(seq, decision.account_ids, body))
                keys.extend(sets.stored(seq, decision.account_ids, named))
            # Plain tuples straight to the driver's executemany: SQLAlchemy's per-row
            # parameter processing was half the insert time. The values are already the
            # driver's types (``to_money`` does what the Numeric column's processor would).
            conn.exec_driver_sql(sql, rows)
            write_entry_keys(conn, keys, sets)  # derived lookup rows, in the same transaction
        counts = RunCounts(decisions=sum(status.values()), **status)
        return counts, seq

    def _store_inputs(
        self, conn: Connection, run: RunRecord, texts: Mapping[str, str], blob: bytes | None
    ) -> str:
        """Store rulebook texts and the book once; return the stored book blob's sha256."""
        have = set(conn.scalars(select(t.rulebook_texts.c.sha256)))
        for ref in run.rulebooks:
            if ref.sha256 not in texts and ref.sha256 not in have:
                raise LedgerError(
                    f"rulebook {ref.id} {ref.version}: its canonical text (sha256 "
                    f"{ref.sha256[:12]}…) was not given and is not in the ledger; replay needs it"
                )
        new_texts = [{"sha256": k, "text": v} for k, v in texts.items() if k not in have]
        if new_texts:
            conn.execute(insert(t.rulebook_texts), new_texts)
        stored = set(conn.scalars(select(t.trace_dictionaries.c.dict_id)))
        if DICTIONARY_ID not in stored:  # what compress_trace uses: readers need it
            row = {"dict_id": DICTIONARY_ID, "data": shipped()}
            conn.execute(insert(t.trace_dictionaries), [row])
        blob_sha = conn.scalar(
            select(t.books.c.blob_sha256).where(t.books.c.sha256 == run.book_sha256)
        )
        if blob_sha is not None:  # the book is stored once: the first recording wins
            if blob is not None and blob_sha != sha256_hex(blob):
                _same_book(conn, run.book_sha256)
            return str(blob_sha)
        if blob is None:
            raise LedgerError(
                f"the content of book {run.book_sha256[:12]}… was not given and is not in the "
                "ledger; replay needs it"
            )
        blob_sha = sha256_hex(blob)
        # Level 1: the blob's Parquet files are compressed already (level 6 took twice the
        # time, 0.32 s at 100k accounts, for 1.7% less).
        packed = zlib.compress(blob, 1)
        row = {"sha256": run.book_sha256, "blob_sha256": blob_sha, "blob": packed}
        conn.execute(insert(t.books), [row])
        return blob_sha

    def _head(self, conn: Connection) -> tuple[int, str]:
        row = conn.execute(
            select(t.decisions.c.seq, t.decisions.c.entry_hash).order_by(t.decisions.c.seq.desc())
        ).first()
        return (0, GENESIS) if row is None else (int(row.seq), str(row.entry_hash))

    def head(self) -> tuple[int, str]:
        """The last entry's sequence number and hash (``(0, GENESIS)`` when empty)."""
        with self.engine.connect() as conn:
            return self._head(conn)


def _batched(items: Iterable[_Item], size: int) -> Iterator[list[_Item]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _carried_rows(
    block: CarriedEntries,
    run: RunRecord,
    checks: tuple[str, Mapping[str, str], set[str]],
    head: tuple[int, str],
    to_money: Callable[[Decimal], Any],
) -> tuple[list[tuple[Any, ...]], tuple[int, str]]:
    """A block of carried entries' rows, chained after ``head``, and the new head.
    ``checks``: the run's sha256, its rulebooks (sha256 -> id), the decision ids seen."""
    run_sha, shas, seen = checks
    try:
        block.check(run.run_id, shas, (run.book_sha256, run.as_of))
    except CarriedMismatch as exc:
        raise LedgerError(str(exc)) from exc
    ids = set(block.decision_ids)
    if len(ids) != len(block) or not seen.isdisjoint(ids):
        raise LedgerError(f"a carried decision of {block.rulebook_id} appears twice in the run")
    seen.update(ids)
    return block.rows((run.run_id, run_sha), head, to_money)


def _check_belongs(
    decision: PreparedDecision, run: RunRecord, shas: Mapping[str, str], seen: set[str]
) -> None:
    did = decision.decision_id
    if shas.get(decision.rulebook_sha256) != decision.rulebook_id:
        raise LedgerError(f"decision {did}: rulebook {decision.rulebook_id} is not in the run")
    if decision.book_sha256 != run.book_sha256 or decision.as_of != run.as_of:
        raise LedgerError(f"decision {did}: book or as-of differs from the run's")
    if did in seen:
        raise LedgerError(f"decision {did} appears twice in the run")
    seen.add(did)
    check_recordable(did, {"requirement": decision.requirement, "call": decision.call})


def check_recordable(decision: str, figures: Mapping[str, Decimal | float]) -> None:
    """Refuse a decision with a figure a ledger cannot record to the cent.

    Raises:
        LedgerError: naming the decision, the figure and the limit.
    """
    for name, amount in figures.items():
        if abs(float(amount)) >= float(t.CENTS_LIMIT):  # PostgreSQL refused 10**16 mid-run
            raise LedgerError(
                f"decision {decision}: its {name} of {amount:,.2f} USD is past what a "
                f"ledger records to the cent (less than {t.CENTS_LIMIT:,.2f} USD: a float64 "
                "holds every cent only below 2**53 cents): one margin set this large is a "
                "book error (quantities or prices) or an account to split"
            )


_DECISION_COLUMNS = tuple(t.decisions.c.keys())
"""The ``decisions`` columns, in table order: :func:`_decision_row` fills them so."""


_ENTRY_HASH = _DECISION_COLUMNS.index("entry_hash")


def _same(value: Decimal) -> Decimal:
    return value


def _decision_row(
    d: PreparedDecision,
    run_id: str,
    run_sha: str,
    seq: int,
    prev: str,
    *,
    to_money: Callable[[Decimal], Any],
) -> tuple[Any, ...]:
    """One ``decisions`` row as a plain tuple in :data:`_DECISION_COLUMNS` order."""
    header = entry_header(d, run_id, run_sha)
    return (
        seq,
        run_id,
        d.decision_id,
        d.rulebook_id,
        d.margin_set_id,
        d.account_ids,
        d.status,
        to_money(d.call),
        to_money(d.requirement),
        d.trace_sha256,
        d.trace_z,
        prev,
        entry_hash(prev, header, seq),
        d.inputs_sha256,
        d.carried_from,
        d.carried_hash,
    )


def _run_row(
    run: RunRecord, run_sha: str, counts: RunCounts, seqs: tuple[int, int]
) -> dict[str, Any]:
    first, last = seqs
    return {
        "run_id": run.run_id,
        "created_at": run.created_at.isoformat(),
        "engine_version": run.engine_version,
        "book_sha256": run.book_sha256,
        "as_of": run.as_of.isoformat(),
        "rulebooks": canonical_json([r.model_dump(mode="json") for r in run.rulebooks]).decode(),
        "out_of_scope": run.out_of_scope,
        "decisions": counts.decisions,
        "ok": counts.ok,
        "call": counts.call,
        "breach": counts.breach,
        "first_seq": first if counts.decisions else None,
        "last_seq": last if counts.decisions else None,
        "run_sha256": run_sha,
        "book_digest_sha256": run.book_digest_sha256,
        "engine_code_sha256": run.engine_code_sha256,
    }


def _same_book(conn: Connection, book_sha256: str) -> None:
    """The book stored under ``book_sha256`` is that book, though its bytes differ from the
    run's (a Parquet writer of another version writes other bytes for the same content).

    Raises:
        LedgerError: the stored content is another book: a row planted under this book's
            sha256 would become this run's recorded input.
    """
    # only here (bytes that differ: rare): loading a book needs pandas, which reading does not
    from marginlex.audit.ledger.recorded_inputs import (  # noqa: PLC0415
        RecordedInputError,
        book_from_blob,
    )
    from marginlex.engine.book.problems import BookError  # noqa: PLC0415

    packed = conn.scalar(select(t.books.c.blob).where(t.books.c.sha256 == book_sha256))
    try:
        stored = book_from_blob(inflate_book(bytes(packed or b""))).sha256
    except (LedgerError, RecordedInputError, BookError):
        stored = None
    if stored != book_sha256:
        raise LedgerError(
            f"the ledger already holds a book under this book's sha256 ({book_sha256[:12]}…) "
            "whose content is another book: the books table was edited, and this run would "
            "be recorded against it"
        )
