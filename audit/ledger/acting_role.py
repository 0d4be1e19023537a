"""The role a command acts as on a PostgreSQL ledger made with ``ledger init --roles``.

``ledger init --roles`` records the writer and reader roles' names in ``ledger_meta``. Every
command that opens such a ledger then issues ``SET ROLE`` on each of its connections: ``run``
and ``ledger checkpoint`` as the writer (INSERT, SELECT), ``verify``, ``explain``, ``ledger``
and ``serve`` as the reader (SELECT). The login the URL names must be a member of that role
(``GRANT marginlex_writer TO run_login``); whatever else it may do (own the tables, be a
superuser) is set aside for the command's session. ``ledger init`` and ``ledger upgrade`` act
as the login itself: the tables' owner.

A ledger without recorded roles (SQLite, or PostgreSQL made without ``--roles``) is opened as
before, as the login.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, event, insert, inspect, select
from sqlalchemy.exc import DBAPIError

from marginlex.audit.ledger import tables as t


class Access(StrEnum):
    """What a command does to a ledger, hence the role it acts as."""

    OWNER = "owner"  # ledger init, ledger upgrade: the login itself
    WRITE = "writer"  # run, ledger checkpoint
    READ = "reader"  # verify, explain, ledger, serve


_KEYS = {Access.WRITE: "writer_role", Access.READ: "reader_role"}
ROLE_KEYS = frozenset(_KEYS.values())
"""The ``ledger_meta`` keys that name the recorded roles."""


class RoleRefused(ValueError):
    """The login cannot act as the role the ledger records for the command."""


def recorded_roles(conn: Connection) -> dict[Access, str]:
    """The writer and reader roles a ledger records (empty: made without ``--roles``)."""
    if not inspect(conn).has_table(t.ledger_meta.name):
        return {}
    rows = conn.execute(
        select(t.ledger_meta.c.key, t.ledger_meta.c.value).where(
            t.ledger_meta.c.key.in_(list(_KEYS.values()))
        )
    )
    by_key = {str(key): str(value) for key, value in rows}
    return {access: by_key[key] for access, key in _KEYS.items() if key in by_key}


def record_roles(conn: Connection, writer: str, reader: str) -> None:
    """Record the roles' names in the ledger (once: they are never changed).

    Raises:
        RoleRefused: the ledger already records other roles.
    """
    wanted = {Access.WRITE: writer, Access.READ: reader}
    found = recorded_roles(conn)
    if found and found != wanted:
        raise RoleRefused(
            f"this ledger already records the roles {found[Access.WRITE]} (writer) and "
            f"{found[Access.READ]} (reader): run `ledger init --roles` with those names"
        )
    if not found:
        conn.execute(insert(t.ledger_meta), [{"key": _KEYS[a], "value": wanted[a]} for a in _KEYS])


def _set_role_on_connect(engine: Engine, role: str) -> None:
    @event.listens_for(engine, "connect")
    def _set_role(dbapi_conn: Any, _record: Any) -> None:
        # Session-wide, outside any transaction: a pooled connection keeps it.
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        try:
            dbapi_conn.execute(f'SET ROLE "{role}"')
        finally:
            dbapi_conn.autocommit = autocommit


def act_as(engine: Engine, access: Access) -> str | None:
    """Make every connection of ``engine`` act as the role the ledger records for ``access``.

    Returns:
        The role acted as (None: SQLite, the owner, or a ledger without recorded roles).

    Raises:
        RoleRefused: the login is not a member of that role.
    """
    if access is Access.OWNER or engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        role = recorded_roles(conn).get(access)
        login = str(conn.exec_driver_sql("SELECT session_user").scalar())
    if role is None:
        return None
    engine.dispose()  # the connection that looked it up did not SET ROLE
    _set_role_on_connect(engine, role)
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        engine.dispose()
        raise RoleRefused(
            f"the login {login} cannot act as {role}, the role this ledger records for "
            f"its {access.value}s ({str(exc.orig).splitlines()[0]}): a DBA grants it with "
            f"GRANT {role} TO {login}"
        ) from exc
    return role
