"""Incremental runs (issue 16 part 2): each decision's input hash, and carried references.

Revision ID: 0004_carried_decisions
Revises: 0003_console_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_carried_decisions"
down_revision = "0003_console_indexes"
branch_labels = None
depends_on = None

COLUMNS = (
    ("inputs_sha256", sa.String(64)),
    ("carried_from", sa.BigInteger()),
    ("carried_hash", sa.String(64)),
)


def upgrade() -> None:
    """Add three nullable columns to ``decisions`` (old rows: NULL, read and hash as before)."""
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("decisions")}
    for name, kind in COLUMNS:
        if name not in present:
            op.add_column("decisions", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    """A ledger is never downgraded: entries are never removed."""
    raise NotImplementedError("a ledger's schema is never downgraded")
