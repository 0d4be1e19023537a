"""The ledger schema's Alembic revisions, in a module that imports nothing heavy.

Both the SQLAlchemy tables (``tables.py``) and the standard library's reader
(``sqlite_read.py``) read this one list, so a new migration is named once.
"""

from __future__ import annotations

SCHEMA_REVISIONS = (
    "0001_baseline",
    "0002_trust",
    "0003_console_indexes",
    "0004_carried_decisions",
    "0005_decision_keys",
    "0006_run_summaries",
    "0007_book_digests",
    "0008_key_sets",
    "0009_retire_prefix_indexes",
    "0010_run_book_digests",
    "0011_run_code_fingerprints",
)
"""The Alembic revisions of this schema, oldest first (``migrations/versions``): the last is
what :data:`marginlex.audit.ledger.tables.metadata` creates; a ledger stamped with a revision
not here is newer."""
