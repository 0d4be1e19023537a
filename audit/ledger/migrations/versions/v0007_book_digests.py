"""Book digests (issue 16 part 2): a ``book_digests`` table holding, per stored book, the
digest a later ``run --since`` compares with today's book instead of reading the earlier
book back. Derived rows: the chain and its hashes do not change. Books recorded before it
get no digest: a ``--since`` over one of their runs compares the two books row by row, as
before, and records today's digest for the next.

Revision ID: 0007_book_digests
Revises: 0006_run_summaries
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_book_digests"
down_revision = "0006_run_summaries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table (empty: the books already stored are compared the old way)."""
    if not sa.inspect(op.get_bind()).has_table("book_digests"):
        op.create_table(
            "book_digests",
            sa.Column("book_sha256", sa.String(64), primary_key=True),
            sa.Column("body", sa.LargeBinary, nullable=False),
        )


def downgrade() -> None:
    """A ledger is never downgraded: entries are never removed."""
    raise NotImplementedError("a ledger's schema is never downgraded")
