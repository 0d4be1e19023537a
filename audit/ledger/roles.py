"""A PostgreSQL ledger that refuses edits: a writer and a reader role, and triggers.

``marginlex ledger init URL --roles`` creates the ledger's tables, then (as the tables'
owner) a writer role that may INSERT and SELECT, a reader role that may only SELECT, and on
every ledger table a trigger that rejects UPDATE, DELETE and TRUNCATE whoever asks, the
owner too. The roles are NOLOGIN groups, their names recorded in the ledger: grant them to the login
roles that run ``marginlex run`` (writer) and ``serve`` / ``verify`` (reader), which act as
them (``SET ROLE``, :mod:`~marginlex.audit.ledger.acting_role`). A superuser can still drop a
trigger: that is what signed checkpoints kept outside the database are for.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, text
from sqlalchemy.exc import DatabaseError

from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.acting_role import Access, RoleRefused, record_roles, recorded_roles
from marginlex.audit.ledger.sqlite_read import is_sqlite
from marginlex.audit.ledger.store import Ledger, LedgerError

WRITER = "marginlex_writer"
READER = "marginlex_reader"
_FUNCTION = "marginlex_refuse_edit"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

_REFUSE = f"""
CREATE OR REPLACE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'marginlex ledger: % on table % refused: the ledger is append-only',
    TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Ledger entries are never changed or removed; record a new run instead.';
END
$$
"""

_ROLE = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN
    CREATE ROLE {name} NOLOGIN;
  END IF;
END $$
"""


def _ledger_tables() -> list[str]:
    return sorted(t.metadata.tables)


def _protect(conn: Connection, table: str) -> None:
    for name, when, each in (
        ("marginlex_no_edit", "UPDATE OR DELETE", "ROW"),
        ("marginlex_no_truncate", "TRUNCATE", "STATEMENT"),
    ):
        conn.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
        conn.execute(
            text(
                f"CREATE TRIGGER {name} BEFORE {when} ON {table} "
                f"FOR EACH {each} EXECUTE FUNCTION {_FUNCTION}()"
            )
        )


def _grant(conn: Connection, writer: str, reader: str) -> None:
    # GRANT ... ON SCHEMA takes a name, not a function: look it up.
    schema = str(conn.scalar(text("SELECT current_schema()"))).replace('"', '""')
    for role in (writer, reader):
        conn.execute(text(_ROLE.format(name=role)))
        conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}'))
    for table in _ledger_tables():
        conn.execute(text(f"GRANT SELECT, INSERT ON {table} TO {writer}"))
        conn.execute(text(f"GRANT SELECT ON {table} TO {reader}"))
    # Both read the schema's revision when they open the ledger; only the owner upgrades it.
    conn.execute(text(f"GRANT SELECT ON {t.VERSION_TABLE} TO {writer}, {reader}"))


def protect_all(conn: Connection) -> list[str]:
    """Triggers and grants on every ledger table, for the roles the ledger records.

    ``ledger upgrade`` calls it after a migration that adds a table, so that a ledger made
    with ``--roles`` keeps refusing edits on the new table and its writer can still record.

    Returns:
        The tables protected (empty: a ledger made without roles, or not on PostgreSQL).
    """
    roles = recorded_roles(conn)
    if not roles or conn.dialect.name != "postgresql":
        return []
    conn.execute(text(_REFUSE))
    for table in _ledger_tables():
        _protect(conn, table)
    _grant(conn, roles[Access.WRITE], roles[Access.READ])
    return _ledger_tables()


_SQLITE_ROLES = (
    "--roles needs a PostgreSQL ledger; protect a SQLite file with file permissions and "
    "signed checkpoints"
)


def _may_create_roles(location: str, names: tuple[str, str]) -> None:
    """Refuse, before anything is created, a login that cannot create the roles it needs.

    Raises:
        LedgerError: a role is missing and the login has neither CREATEROLE nor superuser.
    """
    engine = Ledger.open_engine(location)
    try:
        with engine.connect() as conn:
            user = str(conn.scalar(text("SELECT current_user")))
            allowed = conn.scalar(
                text("SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user")
            )
            have = set(
                conn.scalars(
                    text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:names)"),
                    {"names": list(names)},
                )
            )
    except DatabaseError as exc:  # the server refused: said as opening the ledger says it
        shown = engine.url.render_as_string(hide_password=True)
        raise LedgerError(f"cannot open the ledger {shown}: {exc.orig}") from exc
    finally:
        engine.dispose()
    missing = [n for n in names if n not in have]
    if missing and not allowed:
        raise LedgerError(
            f"ledger init --roles creates the roles {' and '.join(missing)}, and the login "
            f"{user} may not create roles: a superuser can allow it (ALTER ROLE {user} "
            "CREATEROLE) or create them (CREATE ROLE name NOLOGIN); nothing was created"
        )


def init_ledger(
    location: str, *, roles: bool, writer: str = WRITER, reader: str = READER
) -> list[str]:
    """Create a ledger's tables; with ``roles``, its roles and append-only triggers too.

    Returns:
        The tables protected (empty without ``roles``).

    Raises:
        LedgerError: roles asked of a SQLite ledger, or role names that are not plain
            lower-case identifiers.
    """
    if roles:
        for name in (writer, reader):
            if not _NAME.match(name):
                raise LedgerError(f"role name {name!r}: use lower-case letters, digits and _")
        if is_sqlite(location):
            raise LedgerError(_SQLITE_ROLES)
        _may_create_roles(location, (writer, reader))
    ledger = Ledger.open(location, access=Access.OWNER)
    try:
        if not roles:
            return []
        if ledger.engine.dialect.name != "postgresql":
            raise LedgerError(_SQLITE_ROLES)
        with ledger.transaction() as conn:
            t.metadata.create_all(conn)
            record_roles(conn, writer, reader)
            return protect_all(conn)
    except RoleRefused as exc:
        raise LedgerError(str(exc)) from exc
    finally:
        ledger.close()
