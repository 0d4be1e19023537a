"""Key sets (issue 16 part 1): a ``key_sets`` table holding each distinct set of an entry's
failed requirements and rules used once, which an entry's ``decision_keys`` row of kind
``key_set`` names. Derived rows: the chain and its hashes do not change. The entries recorded
before it keep their failed and rule rows, which every reader still follows.

Revision ID: 0008_key_sets
Revises: 0007_book_digests
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_key_sets"
down_revision = "0007_book_digests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table (empty: the entries already stored keep their rows)."""
    if not sa.inspect(op.get_bind()).has_table("key_sets"):
        op.create_table(
            "key_sets",
            sa.Column("set_id", sa.String(32), primary_key=True),
            sa.Column("kind", sa.String(16), primary_key=True),
            sa.Column("key", sa.String(200), primary_key=True),
        )
        op.create_index("ix_key_sets_kind_key_set_id", "key_sets", ["kind", "key", "set_id"])


def downgrade() -> None:
    """A ledger is never downgraded: entries are never removed."""
    raise NotImplementedError("a ledger's schema is never downgraded")
