"""Retire three indexes of ``decisions`` (issue 16 part 2): ``decision_id``, ``run_id`` and
``rulebook_id`` alone. Each is the first column of another index (``decision_id, run_id``;
``run_id, seq``; ``rulebook_id, status, seq``) that answers the same lookups, while every
entry recorded paid for three more B-tree inserts, most of all a ``run --since`` carrying
its entries into a large ledger. No data changes; the chain and its hashes do not change.

Revision ID: 0009_retire_prefix_indexes
Revises: 0008_key_sets
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_retire_prefix_indexes"
down_revision = "0008_key_sets"
branch_labels = None
depends_on = None

RETIRED = ("ix_decisions_decision_id", "ix_decisions_run_id", "ix_decisions_rulebook_id")


def upgrade() -> None:
    """Drop the indexes a ledger still has (opening it to write may have dropped them)."""
    present = {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes("decisions")}
    for name in RETIRED:
        if name in present:
            op.drop_index(name, table_name="decisions")


def downgrade() -> None:
    """A ledger is never downgraded: entries are never removed."""
    raise NotImplementedError("a ledger's schema is never downgraded")
