"""What the console holds while it serves: the ledger (opened read-only on first use), the
verify jobs it started, renderings of runs that cannot change (runs are append-only), and
the workbench's book and rulebook folder."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import Request

from marginlex.audit.ledger.read_only import open_read_only
from marginlex.audit.ledger.sqlite_read import is_sqlite
from marginlex.audit.ledger.store import shown_location

if TYPE_CHECKING:
    from marginlex.audit.ledger.store import Ledger
    from marginlex.console.verify_jobs import VerifyJobs

T = TypeVar("T")


class ConsoleState:
    """One console's ledger and memory."""

    def __init__(
        self,
        location: str,
        jobs: VerifyJobs,
        book: Path | None = None,
        rulebooks: Path | None = None,
    ) -> None:
        self.location = location
        self.book = book  # the workbench's other book (``--book``), beside the demo book
        self.rulebooks = rulebooks  # where the workbench's "Save as" writes (``--rulebooks``)
        self.shown = shown_location(location)
        self.jobs = jobs
        self._ledger: Ledger | None = None
        self._opened: tuple[int, ...] | None = None  # the SQLite file's identity when opened
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, ...], Any] = {}

    def ledger(self) -> Ledger:
        """The ledger, opened read-only the first time (a failure is retried next request).

        A SQLite file removed, moved or replaced since it was opened is opened again (an
        open connection would go on reading the old file unseen): a file that is gone or
        is no ledger is then said on the page, and another ledger is read afresh (what was
        kept of the old one is dropped)."""
        with self._lock:
            now = _identity(self.location)
            if self._ledger is not None and now != self._opened:
                self._ledger.close()
                self._ledger = None
                self._cache.clear()
            if self._ledger is None:
                self._ledger = open_read_only(self.location)
                self._opened = now
            return self._ledger

    def cached(self, key: tuple[str, ...], make: Callable[[], T]) -> T:
        """A value computed once per key (for what a recorded run cannot change)."""
        if key not in self._cache:
            if len(self._cache) > 512:  # a bound, not an LRU: the console's memory stays small
                self._cache.clear()
            self._cache[key] = make()
        value: T = self._cache[key]
        return value

    def forget(self, key: tuple[str, ...]) -> None:
        """Drop a cached value (a workbench library, once a file was saved beside it)."""
        self._cache.pop(key, None)

    def close(self) -> None:
        """Release the ledger's connections."""
        if self._ledger is not None:
            self._ledger.close()


def state_of(request: Request) -> ConsoleState:
    """The console state of the app serving ``request`` (a FastAPI dependency)."""
    found: ConsoleState = request.app.state.console
    return found


def _identity(location: str) -> tuple[int, ...] | None:
    """A SQLite ledger file's device and inode (None: a server's URL, nothing to compare;
    ``(-1,)``: no file there now)."""
    if not is_sqlite(location):
        return None
    path = Path(location.removeprefix("sqlite:///")).expanduser()
    try:
        st = path.stat()
    except OSError:
        return (-1,)  # gone: opened again, which says so
    return (st.st_dev, st.st_ino)


def ledger_of(request: Request) -> Ledger:
    """The ledger the console serves (a FastAPI dependency)."""
    return state_of(request).ledger()
