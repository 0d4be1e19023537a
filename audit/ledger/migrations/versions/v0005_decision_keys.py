"""The decisions' lookup keys (issue 12): a ``decision_keys`` table of (entry, kind, key)
rows naming each entry's accounts, failed eligibility requirements and used rule ids,
backfilled from the traces. Derived rows: the chain and its hashes do not change.

Revision ID: 0005_decision_keys
Revises: 0004_carried_decisions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from marginlex.audit.ledger.decision_keys import backfill

revision = "0005_decision_keys"
down_revision = "0004_carried_decisions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table and its index, then fill it from every entry's trace."""
    if not sa.inspect(op.get_bind()).has_table("decision_keys"):
        op.create_table(
            "decision_keys",
            sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("kind", sa.String(16), primary_key=True),
            sa.Column("key", sa.String(200), primary_key=True),
        )
        op.create_index("ix_decision_keys_kind_key_seq", "decision_keys", ["kind", "key", "seq"])
    backfill(op.get_bind())


def downgrade() -> None:
    """A ledger is never downgraded: entries are never removed."""
    raise NotImplementedError("a ledger's schema is never downgraded")
