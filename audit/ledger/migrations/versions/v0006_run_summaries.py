"""Each run's summary (issue 12): a ``run_summaries`` table of one row per run (its totals per
rulebook, the distributions of requirements and calls, its eligibility failures), counted
from the entries, and an index on ``decisions (run_id, status, seq)`` (a run's breaches, in
chain order). Derived rows: the chain and its hashes do not change.

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
    """Create the table and the index, then count every recorded run's summary."""
    present = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("decisions")}
    if "ix_decisions_run_id_status_seq" not in present:
        op.create_index("ix_decisions_run_id_status_seq", "decisions", ["run_id", "status", "seq"])
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
