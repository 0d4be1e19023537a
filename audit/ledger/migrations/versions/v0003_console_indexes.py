"""The console's indexes (issue 12): a decision by id in a run, a margin set's history, a
run's decisions a page at a time, a run's largest calls.

Revision ID: 0003_console_indexes
Revises: 0002_trust
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_console_indexes"
down_revision = "0002_trust"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_decisions_decision_id_run_id", ("decision_id", "run_id")),
    ("ix_decisions_margin_set_id_run_id", ("margin_set_id", "run_id")),
    ("ix_decisions_run_id_seq", ("run_id", "seq")),
    ("ix_decisions_run_id_call", ("run_id", "call")),
)


def upgrade() -> None:
    """Add the indexes a ledger opened for writing may already have (no data changes)."""
    present = {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes("decisions")}
    for name, columns in INDEXES:
        if name not in present:
            op.create_index(name, "decisions", list(columns))


def downgrade() -> None:
    """A ledger is never downgraded: entries are never removed."""
    raise NotImplementedError("a ledger's schema is never downgraded")
