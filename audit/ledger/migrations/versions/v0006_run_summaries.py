"""Each run's summary (issue 12): a ``run_summaries`` table of one row per run (its totals per
rulebook, the distributions of requirements and calls, its eligibility failures), counted
from the entries. Derived rows: the chain and its hashes do not change.

Revision ID: 0006_run_summaries
Revises: 0005_decision_keys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from marginlex.audit.ledger.run_summaries import backfill

revision = "0006_run_summaries"
down_revision = "0005_decision_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table, then count every recorded run's summary."""
    if not sa.inspect(op.get_bind()).has_table("run_summaries"):
        op.create_table(
            "run_summaries",
            sa.Column("run_id", sa.String(64), primary_key=True),
            sa.Column("body", sa.Text, nullable=False),
        )
    backfill(op.get_bind())


def downgrade() -> None:
    """A ledger is never downgraded: entries are never removed."""
    raise NotImplementedError("a ledger's schema is never downgraded")
