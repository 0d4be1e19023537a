"""The ledger schema's versions, managed with Alembic (``migrations/``).

A ledger made by this marginlex is stamped with the head revision when created; a ledger
made before Alembic (marginlex 0.1: no ``alembic_version`` table) is the baseline. ``marginlex
ledger upgrade`` brings an older ledger to the head in place; opening a ledger stamped with
a revision this marginlex does not know is refused (``Ledger.open``). On a PostgreSQL ledger
made with ``--roles``, the upgrade protects and grants the tables a migration added, as
``ledger init --roles`` did the others (:func:`~marginlex.audit.ledger.roles.protect_all`).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.acting_role import Access
from marginlex.audit.ledger.roles import protect_all
from marginlex.audit.ledger.store import Ledger, schema_revision

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def revisions() -> list[str]:
    """Every revision of the migration scripts, oldest first."""
    script = ScriptDirectory.from_config(_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def upgrade_ledger(location: str) -> tuple[str, str]:
    """Upgrade a ledger's schema to the head, in place, in one transaction.

    Returns:
        The revision it was at (``0001_baseline`` for a ledger made before Alembic) and the
        one it is at now.

    Raises:
        LedgerError: no ledger there, or a newer schema than this marginlex knows.
    """
    ledger = Ledger.open(
        location, create=False, access=Access.OWNER
    )  # refuses a newer, unknown schema
    try:
        with ledger.transaction() as conn:
            before = schema_revision(conn)
            if before is None:  # made before Alembic: the baseline's tables are there
                command.stamp(_config(conn), t.SCHEMA_REVISIONS[0])
            command.upgrade(_config(conn), "head")
            protect_all(conn)  # a ledger made with --roles: its new tables too
            return before or t.SCHEMA_REVISIONS[0], str(schema_revision(conn))
    finally:
        ledger.close()
