"""One decision read from a SQLite ledger with the standard library's ``sqlite3``.

``marginlex explain ID`` reads one entry: importing SQLAlchemy would cost it more than
everything else it does (about 300 ms of CPU). This reader runs the SQLAlchemy reader's
queries (``read.py``: the same columns, conditions and order) on a connection opened
read-only, converts the columns as SQLAlchemy's types do (``Numeric(18, 2)``: a
``Decimal`` of two places; ``LargeBinary``: bytes), and checks the entry with the same
functions (``entry_read.py``): the same :class:`StoredDecision`, hashes checked, and the
same errors. A PostgreSQL ledger is read with SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from marginlex.audit.ledger.chain import Dictionaries
from marginlex.audit.ledger.entry_read import (
    MAX_KEY_LENGTH,
    NEAR_IDS,
    LedgerError,
    RunDigests,
    carried_source_problem,
    not_found,
    run_digest,
    set_part,
    stored_decision,
)
from marginlex.audit.ledger.locks import LockTimeout, WaitingConnection
from marginlex.audit.ledger.records import RunOrigin, StoredDecision
from marginlex.audit.ledger.revisions import SCHEMA_REVISIONS

_SCHEMA_REVISIONS = SCHEMA_REVISIONS  # the one list, without SQLAlchemy
_SUMMARY = (
    "seq, run_id, decision_id, rulebook_id, margin_set_id, account_ids, status, call, "
    "requirement, trace_sha256, prev_hash, entry_hash"
)
_CARRY_COLUMNS = ("inputs_sha256", "carried_from", "carried_hash")
_MONEY = frozenset({"call", "requirement"})  # decisions' Numeric(18, 2) columns


def is_sqlite(location: str) -> bool:
    """Whether a ledger location is a SQLite file (a path, or a ``sqlite:///`` URL).

    >>> is_sqlite("runs/ledger.db"), is_sqlite("postgresql+psycopg://db/margin")
    (True, False)
    """
    return "://" not in location or location.startswith("sqlite:///")


def _money(value: Any) -> Any:
    """A ``Numeric(18, 2)`` value as SQLAlchemy's SQLite dialect returns it."""
    return None if value is None else Decimal("%.2f" % value)  # noqa: UP031 - its format


def _rows(cursor: sqlite3.Cursor, money: bool = False) -> list[Any]:
    """The rows of an executed query, with attribute access as SQLAlchemy's rows have."""
    names = [d[0] for d in cursor.description]
    row_type = namedtuple("Row", names)  # type: ignore[misc]
    rows = cursor.fetchall()
    if money:
        at = [k for k, name in enumerate(names) if name in _MONEY]
        rows = [tuple(_money(v) if k in at else v for k, v in enumerate(r)) for r in rows]
    return [row_type(*r) for r in rows]


def path_problem(path: Path, *, create: bool) -> str | None:
    """What is wrong with ``path`` as a SQLite ledger file, before SQLite says "unable to
    open database file": a folder given for the file, no file there (to open one: nothing,
    or a device or a pipe), or (to create one) no such folder, or a device or a pipe there
    (SQLite's open of a named pipe waited for a writer for ever; ``/dev/null`` was "disk I/O
    error" after the whole evaluation).

    >>> path_problem(Path("/"), create=True).split(";")[0]
    'cannot open the ledger /: it is a folder'
    >>> path_problem(Path("/no/such/folder/l.db"), create=True)
    'cannot create the ledger /no/such/folder/l.db: there is no folder /no/such/folder'
    >>> path_problem(Path("/dev/null"), create=True).split(";")[0]
    'cannot record in /dev/null: it is not a file (a device, a named pipe or a socket)'
    """
    if path.is_dir():
        return (
            f"cannot open the ledger {path}: it is a folder; give the path of a ledger file "
            f"in it, such as {path / 'ledger.db'}"
        )
    if not create and not path.is_file():  # nothing there, or a device or a pipe
        return f"no ledger at {path}: record a run first, or pass --ledger PATH"
    if create and path.exists() and not path.is_file():  # a named pipe hung `run` for ever
        return (
            f"cannot record in {path}: it is not a file (a device, a named pipe or a socket); "
            "give the path of a ledger file"
        )
    if create and not path.exists() and not path.parent.is_dir():
        return f"cannot create the ledger {path}: there is no folder {path.parent}"
    return None


class SqliteDecisionReader:
    """A SQLite ledger opened read-only, to read one decision.

    Raises (on opening):
        LedgerError: no file there, not a marginlex ledger, a newer schema, or unreadable.
    """

    def __init__(self, location: str) -> None:
        self.location = location
        path = Path(location.removeprefix("sqlite:///")).expanduser().resolve()
        if (problem := path_problem(path, create=False)) is not None:
            raise LedgerError(problem)
        self.path = path
        self.url = f"sqlite:///{path}"  # as SQLAlchemy names the engine in its errors
        uri = f"file:{quote(str(path))}?mode=ro"
        try:
            self.conn = sqlite3.connect(
                uri, uri=True, timeout=300, isolation_level=None, factory=WaitingConnection
            )
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"cannot open the ledger {self.url}: {exc}") from exc
        try:
            self.dictionaries = self._open()
        except LockTimeout as exc:
            self.conn.close()
            raise LedgerError(str(exc)) from exc
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise LedgerError(f"cannot open the ledger {self.url}: {exc}") from exc
        except LedgerError:
            self.conn.close()
            raise

    def _open(self) -> Dictionaries:
        # a writer committing holds the file: this read, as every later one, says so when
        # it waits past a second, and gives up (locks.WaitingConnection)
        kinds = dict(self.conn.execute("SELECT name, type FROM sqlite_master"))
        tables = {name for name, kind in kinds.items() if kind == "table"}
        if "decisions" not in tables:
            if "decisions" in kinds:  # a view put in its place shows what it likes
                raise LedgerError(
                    f"the ledger {self.location} was edited: its decisions table is a "
                    f"{kinds['decisions']}, not a table; marginlex verify names it"
                )
            raise LedgerError(f"{self.location} is not a marginlex ledger (no decisions table)")
        if "alembic_version" in tables:
            found = self.conn.execute("SELECT version_num FROM alembic_version").fetchone()
            if found is not None and found[0] is not None and found[0] not in _SCHEMA_REVISIONS:
                raise LedgerError(
                    f"{self.location} has schema revision {str(found[0])!r}, which this "
                    f"marginlex does not know (it knows up to {_SCHEMA_REVISIONS[-1]!r}): a "
                    "newer marginlex made it; use that version"
                )
        self.tables = tables
        columns = {r[1] for r in self.conn.execute("PRAGMA table_info(decisions)")}
        self.summary = ", ".join([_SUMMARY, *(c for c in _CARRY_COLUMNS if c in columns)])
        if "trace_dictionaries" not in tables:
            return {}
        rows = self.conn.execute("SELECT dict_id, data FROM trace_dictionaries")
        return {int(dict_id): bytes(data) for dict_id, data in rows}

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def get_decision(self, decision_id: str, run_id: str | None = None) -> StoredDecision:
        """As :meth:`marginlex.audit.ledger.read.LedgerReader.get_decision`.

        Raises:
            DecisionNotFoundError: no such decision (in that run).
            TraceDecodeError: its trace no longer reads.
        """
        self.conn.execute("BEGIN")  # one snapshot, as SQLAlchemy's connection reads in
        try:
            row = self._find_row(decision_id, run_id)
            if row is None:
                query = "SELECT 1 FROM runs WHERE run_id = ?"
                recorded = run_id is None or self.conn.execute(query, (run_id,)).fetchone()
                raise not_found(decision_id, run_id, self._near(decision_id), bool(recorded))
            query = "SELECT created_at FROM runs WHERE run_id = ?"
            created = self.conn.execute(query, (row.run_id,)).fetchone()
            digests, origins = self._digests(row.run_id), self._origins(row.run_id)
            carried: tuple[Any, str | None] = (None, None)
            if getattr(row, "carried_from", None) is not None:
                carried = self._source(row)
            query = "SELECT prev_hash FROM decisions WHERE seq = ?"
            after = self.conn.execute(query, (row.seq + 1,)).fetchone()
        finally:
            self.conn.rollback()
        return stored_decision(
            row,
            digests=digests,
            created=None if created is None else created[0],
            origin=origins.get(row.run_id),
            carried=carried,
            dictionaries=self.dictionaries,
            next_link=None if after is None else str(after[0]),
        )

    def _find_row(self, decision_id: str, run_id: str | None) -> Any:
        """``read._find_row``: by the ledger id, else by ``RULEBOOK:MARGIN_SET``."""
        wanted: list[tuple[str, tuple[str, ...]]] = [("decision_id = ?", (decision_id,))]
        rulebook, _, margin_set = decision_id.partition(":")
        if margin_set:
            # ``+rulebook_id``: SQLite (no ANALYZE statistics) would otherwise search the
            # rulebook's index, a third of the ledger, not the margin set's (70 ms against 1 ms
            # on a 200k-decision ledger).
            wanted.append(("+rulebook_id = ? AND margin_set_id = ?", (rulebook, margin_set)))
        if run_id is not None:
            wanted = [(f"{where} AND run_id = ?", (*args, run_id)) for where, args in wanted]
        for where, args in wanted:
            query = (
                f"SELECT {self.summary}, CAST(trace_z AS BLOB) AS trace_z FROM decisions "
                f"WHERE {where} ORDER BY seq + 0 DESC LIMIT 1"
            )
            found = _rows(self.conn.execute(query, args), money=True)
            if found:
                return found[0]
        return None

    def _near(self, decision_id: str) -> list[str]:
        """``LedgerReader._near``: the ``RULEBOOK:MARGIN_SET`` ids of the sets whose id holds
        the given id's set part (LIKE ignores ASCII case, as ``ilike`` does there)."""
        part = set_part(decision_id)
        if not part or len(part) > MAX_KEY_LENGTH:  # SQLite refuses a LIKE pattern of 50 KB
            return []
        escaped = part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = (
            "SELECT DISTINCT rulebook_id, margin_set_id FROM decisions WHERE margin_set_id "
            "LIKE ? ESCAPE '\\' ORDER BY margin_set_id, rulebook_id LIMIT ?"
        )
        found = self.conn.execute(query, (f"%{escaped}%", NEAR_IDS)).fetchall()
        return [f"{rulebook}:{margin_set}" for rulebook, margin_set in found]

    def _source(self, row: Any) -> tuple[Any, str | None]:
        """``LedgerReader._source``: the entry a carried entry refers to, and its link."""
        query = (
            f"SELECT {self.summary}, CAST(trace_z AS BLOB) AS trace_z FROM decisions WHERE seq = ?"
        )
        found = _rows(self.conn.execute(query, (row.carried_from,)), money=True)
        source = found[0] if found else None
        digests = None if source is None else self._digests(source.run_id)
        broken = carried_source_problem(row, source, digests)
        gone = source is None or source.seq >= row.seq
        return (None if gone else source), broken

    def _origins(self, run_id: str) -> dict[str, RunOrigin]:
        """``read.run_origins`` of one run."""
        if "run_origins" not in self.tables:
            return {}
        query = "SELECT * FROM run_origins WHERE run_id = ?"
        return {
            r.run_id: RunOrigin(operator=r.operator, host=r.host, command_line=r.command_line)
            for r in _rows(self.conn.execute(query, (run_id,)))
        }

    def _digests(self, run_id: str) -> dict[str, RunDigests]:
        """``read.run_digests`` of one run."""
        rows = _rows(self.conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)))
        origins = self._origins(run_id)
        return {r.run_id: (run_digest(r, origins.get(r.run_id)), r.run_sha256) for r in rows}
