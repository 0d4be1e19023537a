"""Stored book digests (revision ``0007_book_digests``): written with the run that first
records a book, read by a later ``run --since`` (:mod:`marginlex.engine.distributed.digests`).

Derived rows, like ``decision_keys``: not chained, one per book (the first recording wins).
A ledger without the table, or a book recorded before it, has none: the caller then
compares the two books row by row.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, inspect, select

from marginlex.audit.ledger import tables as t


def write_digest(conn: Connection, book_sha256: str, body: bytes) -> None:
    """Store a book's digest unless it is stored (within the caller's transaction)."""
    col = t.book_digests.c
    if conn.scalar(select(col.book_sha256).where(col.book_sha256 == book_sha256)) is None:
        conn.execute(insert(t.book_digests), [{"book_sha256": book_sha256, "body": body}])


def read_digest(conn: Connection, book_sha256: str) -> bytes | None:
    """A book's stored digest (None: none stored, or a ledger without the table)."""
    if not inspect(conn).has_table(t.book_digests.name):
        return None
    col = t.book_digests.c
    body = conn.scalar(select(col.body).where(col.book_sha256 == book_sha256))
    return None if body is None else bytes(body)
