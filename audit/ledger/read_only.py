"""Opening a ledger read-only, for a surface that must never write to what it shows.

SQLite is opened with ``mode=ro`` (the file cannot be written through this connection, nor
created); PostgreSQL runs every transaction ``READ ONLY``. A :class:`Ledger` is handed back so
that ``verify`` and the readers take it as they are; any write through it fails in the
database.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, inspect
from sqlalchemy.exc import SQLAlchemyError

from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.acting_role import Access, RoleRefused, act_as
from marginlex.audit.ledger.locks import WaitingConnection
from marginlex.audit.ledger.sqlite_read import path_problem
from marginlex.audit.ledger.store import Ledger, LedgerError, shown_location


def _sqlite_read_only(path: Path) -> Engine:
    if (problem := path_problem(path, create=False)) is not None:
        raise LedgerError(problem)
    uri = f"file:{quote(str(path))}?mode=ro"
    return create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(
            uri, uri=True, check_same_thread=False, factory=WaitingConnection
        ),
    )


def _engine(location: str) -> Engine:
    if location.startswith("sqlite:///"):
        location = location.removeprefix("sqlite:///")
    if "://" not in location:
        return _sqlite_read_only(Path(location).expanduser().resolve())
    if location.startswith("postgresql://"):
        location = "postgresql+psycopg://" + location.removeprefix("postgresql://")
    if not location.startswith("postgresql+psycopg://"):
        raise LedgerError(
            f"unsupported ledger URL {shown_location(location)!r}: use a path or "
            "postgresql+psycopg://"
        )
    # Every transaction of every pooled connection is READ ONLY.
    return create_engine(
        location, pool_pre_ping=True, execution_options={"postgresql_readonly": True}
    )


def open_read_only(location: str) -> Ledger:
    """A ledger opened so that nothing can be written through it.

    Raises:
        LedgerError: no ledger there, not a marginlex ledger, or it cannot be opened.
    """
    engine = _engine(location)
    try:
        if not inspect(engine).has_table(t.decisions.name):
            raise LedgerError(
                f"{shown_location(location)} is not a marginlex ledger (no decisions table)"
            )
        act_as(engine, Access.READ)
        ledger = Ledger(engine)
        ledger.load_dictionaries()
    except RoleRefused as exc:
        engine.dispose()
        raise LedgerError(str(exc)) from exc
    except SQLAlchemyError as exc:
        engine.dispose()
        cause = getattr(exc, "orig", None) or exc
        raise LedgerError(f"cannot open the ledger {shown_location(location)}: {cause}") from exc
    except LedgerError:
        engine.dispose()
        raise
    return ledger
