"""The ledger schema of marginlex 0.1: runs, decisions, rulebook texts, books, dictionaries.

Revision ID: 0001_baseline
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the 0.1 tables (a ledger that already has them is stamped, not upgraded)."""
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("engine_version", sa.String(64), nullable=False),
        sa.Column("book_sha256", sa.String(64), nullable=False),
        sa.Column("as_of", sa.String(10), nullable=False),
        sa.Column("rulebooks", sa.Text, nullable=False),
        sa.Column("out_of_scope", sa.Integer, nullable=False),
        sa.Column("decisions", sa.Integer, nullable=False),
        sa.Column("ok", sa.Integer, nullable=False),
        sa.Column("call", sa.Integer, nullable=False),
        sa.Column("breach", sa.Integer, nullable=False),
        sa.Column("first_seq", sa.BigInteger, nullable=True),
        sa.Column("last_seq", sa.BigInteger, nullable=True),
        sa.Column("book_blob_sha256", sa.String(64), nullable=False),
        sa.Column("run_sha256", sa.String(64), nullable=False),
    )
    op.create_table(
        "rulebook_texts",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_table(
        "trace_dictionaries",
        sa.Column("dict_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "books",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("blob_sha256", sa.String(64), nullable=False),
        sa.Column("blob", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "decisions",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("decision_id", sa.String(200), nullable=False),
        sa.Column("rulebook_id", sa.String(200), nullable=False),
        sa.Column("margin_set_id", sa.String(200), nullable=False),
        sa.Column("account_ids", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("call", sa.Numeric(18, 2), nullable=False),
        sa.Column("requirement", sa.Numeric(18, 2), nullable=False),
        sa.Column("trace_sha256", sa.String(64), nullable=False),
        sa.Column("trace_z", sa.LargeBinary, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
    )
    for column in ("decision_id", "run_id", "rulebook_id"):
        op.create_index(f"ix_decisions_{column}", "decisions", [column])


def downgrade() -> None:
    """A ledger is never downgraded: entries are never removed."""
    raise NotImplementedError("a ledger's schema is never downgraded")
