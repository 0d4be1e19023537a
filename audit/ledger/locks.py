"""Waiting for another process's lock on a SQLite ledger: said at once, bounded, and who
holds it, as far as the system says.

SQLite waited for a lock up to its busy timeout (5 minutes here) in silence. A statement run
through :func:`run_waiting` waits a second quietly (a small run committing), then says that it
waits and for whom (:data:`lock_wait_notice`, stderr), then waits the rest of
:data:`LOCK_WAIT_SECONDS` and gives up with :class:`LockTimeout`.

SQLite locks a database file with POSIX advisory locks; on Linux ``/proc/locks`` lists each
held lock with the holder's process id and the file's device and inode, so the processes
holding a lock on the ledger (and what they run) are named. Elsewhere (no ``/proc/locks``), or
where the holder is not visible (another container's process), nothing is named. Standard
library only: ``explain`` reads a SQLite ledger without SQLAlchemy.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import unquote

_T = TypeVar("_T")

LOCK_WAIT_SECONDS = 300.0
"""How long a command waits for another process's lock on a SQLite ledger."""
BUSY_TIMEOUT_MS = 300_000
"""SQLite's own wait for a lock a later statement needs (a commit waiting for readers)."""
_QUIET_WAIT_SECONDS = 1.0  # a lock held no longer than this (a small run committing): unsaid


def _say_on_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)  # sys.stderr as it is now: a test's capture


lock_wait_notice: Callable[[str], None] = _say_on_stderr
"""Where a command says that it waits for a ledger's lock (stderr; an application may
redirect it)."""


class LockTimeout(Exception):
    """The ledger stayed locked for all of :data:`LOCK_WAIT_SECONDS`."""


def busy(exc: sqlite3.Error) -> bool:
    """Whether SQLite refused for a lock another connection holds."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def run_waiting(conn: sqlite3.Connection, path: Path, sql: str) -> sqlite3.Cursor:
    """``conn.execute(sql)``, waiting for another process's lock on ``path`` at most
    :data:`LOCK_WAIT_SECONDS`: past a second it is said at once, with who holds it when the
    system says. Afterwards the connection keeps SQLite's long timeout.

    Raises:
        LockTimeout: still locked after the wait (what was waited for is said).
        sqlite3.Error: SQLite refused otherwise (not a database, an I/O error).
    """
    return _waiting(lambda: conn.execute(sql), _timeout_setter(conn), path)


def _timeout_setter(conn: sqlite3.Connection) -> Callable[[int], object]:
    """Sets the connection's busy timeout (a cursor of its own: a read's stays whole)."""
    return lambda ms: sqlite3.Cursor(conn).execute(f"PRAGMA busy_timeout={ms}")


def _waiting(execute: Callable[[], _T], set_timeout: Callable[[int], object], path: Path) -> _T:
    """``execute()``, waiting for a lock as :func:`run_waiting` says."""
    total = max(LOCK_WAIT_SECONDS, 0.0)
    quiet = min(_QUIET_WAIT_SECONDS, total)
    try:
        for step, timeout in enumerate((quiet, total - quiet)):
            set_timeout(int(timeout * 1000))
            try:
                return execute()
            except sqlite3.Error as exc:
                if not busy(exc):
                    raise
            if step == 0:
                lock_wait_notice(
                    f"waiting for the ledger {path}: it is locked, {_holders(path)}; waiting "
                    f"up to {seconds(total)} (Ctrl+C stops the wait; nothing is written then)"
                )
        raise LockTimeout(
            f"the ledger {path} stayed locked for {seconds(total)}, {_holders(path)}: "
            "nothing was written; let that process finish (or stop it) and try again"
        )
    finally:
        set_timeout(BUSY_TIMEOUT_MS)


def _reads(sql: str) -> bool:
    """Whether a statement only reads (a query, or a pragma that sets nothing): one that
    SQLite refused for a lock had no effect and is run again.

    >>> _reads("SELECT 1"), _reads(" with x as (select 1) select * from x")
    (True, True)
    >>> _reads('PRAGMA main.table_info("runs")'), _reads("PRAGMA busy_timeout=5")
    (True, False)
    >>> _reads("BEGIN IMMEDIATE"), _reads("INSERT INTO runs VALUES (1)")
    (False, False)
    """
    head = sql.lstrip()[:6].upper()
    return head.startswith(("SELECT", "WITH")) or (head == "PRAGMA" and "=" not in sql)


class WaitingCursor(sqlite3.Cursor):
    """A cursor whose reads wait for another process's lock as :func:`run_waiting` does:
    said past a second, bounded, then :class:`LockTimeout`. Writes are run as they are
    (a writer takes its lock first, through :func:`run_waiting`)."""

    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        """``sqlite3.Cursor.execute``; a read waits for a lock as said above."""
        if not _reads(sql):
            return super().execute(sql, parameters)
        conn = self.connection
        path = getattr(conn, "ledger_path", None) or Path(str(conn))

        def execute() -> None:
            super(WaitingCursor, self).execute(sql, parameters)

        _waiting(execute, _timeout_setter(conn), path)
        return self  # as sqlite3's execute returns it


class WaitingConnection(sqlite3.Connection):
    """A connection to a SQLite ledger whose cursors are :class:`WaitingCursor`: every read,
    not only the first, says that it waits for another process's lock and gives up in
    :data:`LOCK_WAIT_SECONDS` (``sqlite3.connect(..., factory=WaitingConnection)``)."""

    def __init__(self, database: str | os.PathLike[str], *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self.ledger_path = ledger_file(str(database))

    def cursor(self, factory: Any = WaitingCursor) -> Any:
        """A :class:`WaitingCursor`."""
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        """``sqlite3.Connection.execute`` with a :class:`WaitingCursor` (the C method makes
        a plain cursor)."""
        cursor: sqlite3.Cursor = self.cursor().execute(sql, parameters)
        return cursor


def ledger_file(database: str) -> Path:
    """The file a ``sqlite3.connect`` database argument names (a ``file:`` URI's path).

    >>> ledger_file("file:/tmp/a%20b.db?mode=ro"), ledger_file("/tmp/l.db")
    (PosixPath('/tmp/a b.db'), PosixPath('/tmp/l.db'))
    """
    if database.startswith("file:"):
        return Path(unquote(database.removeprefix("file:").split("?", 1)[0]))
    return Path(database)


def seconds(amount: float) -> str:
    """``5 minutes``, ``90 s``, ``2 s``.

    >>> seconds(300.0), seconds(90.0), seconds(2.0)
    ('5 minutes', '90 s', '2 s')
    """
    if amount >= 120 and amount % 60 == 0:
        return f"{int(amount // 60)} minutes"
    return f"{amount:g} s"


def _holders(path: Path) -> str:
    """``held by pid 3783 (marginlex run ...)``, or that the system does not say who."""
    holders = lock_holders(path)
    if not holders:
        return "held by another process (the system does not say which)"
    return "held by " + ", ".join(holders)


_PROC_LOCKS = Path("/proc/locks")
_MAX_COMMAND = 120  # characters of a holder's command line shown


def _command(pid: int) -> str | None:
    """A process's command line, its arguments spaced, cut to a readable length."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    text = raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace").strip()
    if len(text) > _MAX_COMMAND:
        text = text[: _MAX_COMMAND - 1] + "…"
    return text or None


def _pids(locks: str, device: tuple[int, int], inode: int) -> list[int]:
    """The process ids holding a lock (not waiting for one) on the file, in order.

    >>> _pids("1: POSIX  ADVISORY  WRITE 3783 fe:00:2148191 1073741824 1073742335\\n"
    ...       "1: -> POSIX  ADVISORY  WRITE 3790 fe:00:2148191 1073741824 1073742335\\n"
    ...       "2: POSIX  ADVISORY  READ 3801 fe:00:99 1073741826 1073742335", (254, 0), 2148191)
    [3783]
    """
    found: list[int] = []
    for line in locks.splitlines():
        fields = line.split()
        if len(fields) < 6 or fields[1] == "->":  # "->": a process waiting, not holding
            continue
        try:
            pid = int(fields[4])
            major, minor, ino = fields[5].split(":")
            where = (int(major, 16), int(minor, 16)), int(ino)
        except ValueError:
            continue
        if where == (device, inode) and pid > 0 and pid not in found:
            found.append(pid)
    return found


def lock_holders(path: Path) -> list[str]:
    """The other processes holding a lock on ``path``: ``pid 3783 (marginlex run ...)``
    each (empty when the system does not say).

    >>> lock_holders(Path("/no/such/file"))
    []
    """
    try:
        stat = path.stat()
        locks = _PROC_LOCKS.read_text(encoding="ascii", errors="replace")
    except OSError:
        return []
    device = (os.major(stat.st_dev), os.minor(stat.st_dev))
    mine = os.getpid()
    shown = []
    for pid in _pids(locks, device, stat.st_ino):
        if pid == mine:
            continue
        command = _command(pid)
        shown.append(f"pid {pid}" + (f" ({command})" if command else ""))
    return shown
