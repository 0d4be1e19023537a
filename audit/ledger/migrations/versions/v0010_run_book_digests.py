"""The sha256 of each run's stored book digest, in the run record (issue 16 part 2): a
``book_digests`` row is derived and not chained, and a ``run --since`` trusts it to say which
accounts changed, so a digest edited by hand would carry forward decisions whose inputs
changed. A run now records the sha256 of its book's stored digest (``runs.book_digest_sha256``,
part of the run record chained into every entry): verify compares each stored digest with it,
and ``run --since`` refuses one that does not match. Runs recorded before keep a null there and
hash as they did; no data changes.

Revision ID: 0010_run_book_digests
Revises: 0009_retire_prefix_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_run_book_digests"
down_revision = "0009_retire_prefix_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the column unless the ledger has it (opening it to record may have added it)."""
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("runs")}
    if "book_digest_sha256" not in present:
        op.add_column("runs", sa.Column("book_digest_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    """A ledger is never downgraded: entries are never removed."""
    raise NotImplementedError("a ledger's schema is never downgraded")
