"""Each run's summary (issue 12): a ``run_summaries`` table of one row per run (its totals per
rulebook, the distributions of requirements and calls, its eligibility failures), counted
from the entries, and indexes on ``decisions (run_id, status, seq)`` (a run's breaches, in
chain order) and ``(rulebook_id, status, seq)``. Derived rows: the chain and its hashes do
not change.

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
    """Create the table and the indexes, then count every recorded run's summary."""
    present = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("decisions")}
    for narrowed_by in ("run_id", "rulebook_id"):
        name = f"ix_decisions_{narrowed_by}_status_seq"
        if name not in present:
            op.create_index(name, "decisions", [narrowed_by, "status", "seq"])
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
