"""The fingerprint of the code that decided each run, in the run record: ``run --since``
carried an earlier run's decisions forward when the engine version was the same, but the
engine version is the package's (0.1.0) and does not move when a kernel is fixed, so a fixed
engine carried the old, wrong decisions forward. A run now records the sha256 of the sources
that decide (``runs.engine_code_sha256``, part of the run record chained into every entry;
:mod:`marginlex.engine.version`), and ``run --since`` re-decides every set when the
earlier run's differs from today's or is missing. Runs recorded before keep a null there and
hash as they did; no data changes.

Revision ID: 0011_run_code_fingerprints
Revises: 0010_run_book_digests
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_run_code_fingerprints"
down_revision = "0010_run_book_digests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the column unless the ledger has it (opening it to record may have added it)."""
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("runs")}
    if "engine_code_sha256" not in present:
        op.add_column("runs", sa.Column("engine_code_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    """A ledger is never downgraded: entries are never removed."""
    raise NotImplementedError("a ledger's schema is never downgraded")
