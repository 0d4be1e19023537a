"""Trust (issue 15): the ledger's id, signed checkpoints, and who ran each run.

Revision ID: 0002_trust
Revises: 0001_baseline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_trust"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add three tables (no column of an existing table changes: old rows read as before)."""
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("ledger_meta"):
        op.create_table(
            "ledger_meta",
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
    if not inspector.has_table("checkpoints"):
        op.create_table(
            "checkpoints",
            sa.Column("signature", sa.String(128), primary_key=True),
            sa.Column("body", sa.Text, nullable=False),
            sa.Column("head_seq", sa.BigInteger, nullable=False),
            sa.Column("run_id", sa.String(64), nullable=True),
        )
    if not inspector.has_table("run_origins"):
        op.create_table(
            "run_origins",
            sa.Column("run_id", sa.String(64), primary_key=True),
            sa.Column("operator", sa.Text, nullable=False),
            sa.Column("host", sa.Text, nullable=False),
            sa.Column("command_line", sa.Text, nullable=False),
        )


def downgrade() -> None:
    """A ledger is never downgraded: entries are never removed."""
    raise NotImplementedError("a ledger's schema is never downgraded")
