"""The ledger's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

from marginlex.audit.ledger import revisions

metadata = MetaData()
CENTS_LIMIT = Decimal(2**53) / 100
"""The figures a run records are less than this (90,071,992,547,409.92 USD): the engine
computes in float64, which holds every cent only below 2**53 cents; past it a figure's cents
are not its own, and the trace's figures no longer add up to the cent (the NUMERIC(18,2)
columns ``decisions.call`` and ``requirement`` would hold up to 10**16)."""

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("created_at", String(32), nullable=False),
    Column("engine_version", String(64), nullable=False),
    Column("book_sha256", String(64), nullable=False),
    Column("as_of", String(10), nullable=False),
    # The canonical JSON of the run's rulebook refs (id, name, version, sha256).
    Column("rulebooks", Text, nullable=False),
    Column("out_of_scope", Integer, nullable=False),
    Column("decisions", Integer, nullable=False),
    Column("ok", Integer, nullable=False),
    Column("call", Integer, nullable=False),
    Column("breach", Integer, nullable=False),
    Column("first_seq", BigInteger, nullable=True),
    Column("last_seq", BigInteger, nullable=True),
    # sha256 of the stored book blob, and of the run record with it (chained in each entry).
    Column("book_blob_sha256", String(64), nullable=False),
    Column("run_sha256", String(64), nullable=False),
    # sha256 of the book's stored digest (``book_digests.body``) as the run recorded it, part
    # of the run record (revision 0010): a digest edited by hand no longer matches it, so
    # verify names it and ``run --since`` refuses it. Null for runs recorded before.
    Column("book_digest_sha256", String(64), nullable=True),
    # sha256 of the sources that decided the run (``engine/version.py``), part of
    # the run record (revision 0011): ``run --since`` carries nothing from a run whose code
    # differs from today's. Null for runs recorded before.
    Column("engine_code_sha256", String(64), nullable=True),
)

rulebook_texts = Table(
    "rulebook_texts",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("text", Text, nullable=False),
)

trace_dictionaries = Table(
    "trace_dictionaries",
    metadata,
    # A Zstandard dictionary decisions' traces are compressed with, by the id each frame
    # names (stored once, so a ledger is read without the package that wrote it).
    Column("dict_id", BigInteger, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
)

books = Table(
    "books",
    metadata,
    # The book's content sha256 (as the engine computes it), not the blob's.
    Column("sha256", String(64), primary_key=True),
    Column("blob_sha256", String(64), nullable=False),
    # zlib-compressed canonical book content, stored once however many runs use it.
    Column("blob", LargeBinary, nullable=False),
)

decisions = Table(
    "decisions",
    metadata,
    # Assigned by the ledger under its write lock, and hashed: not an autoincrement.
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("run_id", String(64), nullable=False),
    Column("decision_id", String(200), nullable=False),
    Column("rulebook_id", String(200), nullable=False),
    Column("margin_set_id", String(200), nullable=False),
    # Canonical JSON list of account ids, e.g. ["ACC-1","ACC-2"].
    Column("account_ids", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("call", Numeric(18, 2), nullable=False),
    Column("requirement", Numeric(18, 2), nullable=False),
    # sha256 of the canonical trace JSON, and that JSON compressed (a zstd frame; older
    # ledgers hold zlib, which still reads).
    Column("trace_sha256", String(64), nullable=False),
    Column("trace_z", LargeBinary, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
    # Incremental runs (``run --since``, revision 0004): the engine's hash of the margin
    # set's input rows (not chained: a hint a later run compares with), and for an entry
    # carried forward the sequence number and entry hash of the decision it refers to
    # (both chained; such an entry stores no trace of its own: ``trace_z`` is empty).
    Column("inputs_sha256", String(64), nullable=True),
    Column("carried_from", BigInteger, nullable=True),
    Column("carried_hash", String(64), nullable=True),
    # No single-column index on decision_id, run_id or rulebook_id: each is the first column
    # of one below, which serves its lookups (revision 0009 retired them, RETIRED_INDEXES).
    # For the console: one decision of one run, and one margin set across runs (two columns,
    # so that without ANALYZE statistics SQLite prefers them to the run_id index).
    Index("ix_decisions_decision_id_run_id", "decision_id", "run_id"),
    Index("ix_decisions_margin_set_id_run_id", "margin_set_id", "run_id"),
    Index("ix_decisions_run_id_seq", "run_id", "seq"),  # a run's decisions, a page at a time
    Index("ix_decisions_run_id_call", "run_id", "call"),  # a run's largest calls
    Index("ix_decisions_run_id_status_seq", "run_id", "status", "seq"),  # a run's breaches
    # one rulebook's decisions of one status, across runs
    Index("ix_decisions_rulebook_id_status_seq", "rulebook_id", "status", "seq"),
)

ledger_meta = Table(
    "ledger_meta",
    metadata,
    # ``ledger_id``: the ledger's identity, made once, named by every signed checkpoint.
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    # A signed head, as also appended to the checkpoint file outside the ledger: ``body`` is
    # the canonical JSON signed, ``signature`` its Ed25519 signature (base64).
    Column("signature", String(128), primary_key=True),
    Column("body", Text, nullable=False),
    Column("head_seq", BigInteger, nullable=False),
    Column("run_id", String(64), nullable=True),
)

run_origins = Table(
    "run_origins",
    metadata,
    # Who ran a run, where and how: part of the run record, so in its chained sha256. A table
    # of its own, so that ledgers made before it read unchanged (their runs: not recorded).
    Column("run_id", String(64), primary_key=True),
    Column("operator", Text, nullable=False),
    Column("host", Text, nullable=False),
    Column("command_line", Text, nullable=False),
)

decision_keys = Table(
    "decision_keys",
    metadata,
    # Derived lookup rows, not entries (not chained; rebuilt from the traces): an entry's
    # accounts, the eligibility requirements it failed, the rule ids it used.
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(16), primary_key=True),
    Column("key", String(200), primary_key=True),
    Index("ix_decision_keys_kind_key_seq", "kind", "key", "seq"),
)

key_sets = Table(
    "key_sets",
    metadata,
    # Derived, like decision_keys (revision 0008): each distinct set of an entry's failed
    # requirements and rules used, stored once under an id made from its content
    # (decision_keys.set_id); an entry's decision_keys row of kind "key_set" names it.
    Column("set_id", String(32), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("key", String(200), primary_key=True),
    Index("ix_key_sets_kind_key_set_id", "kind", "key", "set_id"),
)

run_summaries = Table(
    "run_summaries",
    metadata,
    # Derived, like decision_keys (not chained; counted again from the entries): a run's
    # totals, distributions and eligibility failures as canonical JSON (``RunSummary``).
    Column("run_id", String(64), primary_key=True),
    Column("body", Text, nullable=False),
)

book_digests = Table(
    "book_digests",
    metadata,
    # Derived (not chained; made again from the book): the digest of a stored book, by the
    # book's sha256, that a later ``run --since`` compares instead of reading the book back
    # (``marginlex.engine.distributed.digests``; one Arrow IPC stream).
    Column("book_sha256", String(64), primary_key=True),
    Column("body", LargeBinary, nullable=False),
)

RETIRED_INDEXES = (
    "ix_decisions_decision_id",
    "ix_decisions_run_id",
    "ix_decisions_rulebook_id",
)
"""Indexes of ``decisions`` that revision 0009 dropped: each was the first column of another
(``decision_id, run_id``; ``run_id, seq``; ``rulebook_id, status, seq``), which answers the same
lookups, while every entry paid for it. A ``run --since`` carrying 195k entries into a 200k-entry
ledger inserted them in 4.0 s with them, 2.4 s without."""

SCHEMA_REVISIONS = revisions.SCHEMA_REVISIONS  # named once, in a module without SQLAlchemy
SCHEMA_HEAD = SCHEMA_REVISIONS[-1]
VERSION_TABLE = "alembic_version"
CARRY_COLUMNS = ("inputs_sha256", "carried_from", "carried_hash")
"""The ``decisions`` columns revision 0004 added (a ledger not upgraded lacks them)."""
RUN_DIGEST_COLUMN = "book_digest_sha256"
"""The ``runs`` column revision 0010 added (a ledger not upgraded lacks it)."""
RUN_CODE_COLUMN = "engine_code_sha256"
"""The ``runs`` column revision 0011 added (a ledger not upgraded lacks it)."""
