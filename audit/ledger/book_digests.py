"""Stored book digests (revision ``0007_book_digests``): written with the run that first
records a book, read by a later ``run --since`` (:mod:`marginlex.engine.distributed.digests`).

Derived rows, like ``decision_keys``: one per book (the first recording wins), not chained
themselves, but each run recorded since revision 0010 chains the sha256 of its book's stored
digest in its run record, so a digest edited by hand is named by verify and refused by
``run --since`` (:func:`digest_problem`). A stored digest some run of the same book chains is
that book's, whoever made it: a later library version whose digest of the same book differs
(``DIGEST_VERSION``, or a column the contract added) finds it stored, chains it in turn and
never reports it as edited. A ledger without the table, or a book recorded before it, has
none: the caller then compares the two books row by row.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, insert, inspect, select

from marginlex.audit.canonical import sha256_hex
from marginlex.audit.ledger import tables as t


def write_digest(conn: Connection, book_sha256: str, body: bytes) -> str:
    """Store a book's digest unless it is stored (within the caller's transaction); return
    the sha256 the run records (``runs.book_digest_sha256``, revision 0010): of the stored
    digest when it is this one (the first recording's, maybe written by another library
    version) or an earlier run of the book chains it (a digest another library version made
    otherwise), else of this one, so that a stored digest edited by hand is never vouched for."""
    col = t.book_digests.c
    stored = conn.scalar(select(col.body).where(col.book_sha256 == book_sha256))
    if stored is None:
        conn.execute(insert(t.book_digests), [{"book_sha256": book_sha256, "body": body}])
        return sha256_hex(body)
    stored = bytes(stored)
    if stored == body or _same_digest(stored, body):  # (written by another library version)
        return sha256_hex(stored)
    if sha256_hex(stored) in chained_digests(conn, book_sha256):  # made by another version
        return sha256_hex(stored)
    # Not this book's digest (edited by hand): the run records its own, so that verify names
    # the stored one and a later --since refuses it, rather than the run vouching for it.
    return sha256_hex(body)


def chained_digests(conn: Connection, book_sha256: str) -> set[str]:
    """The digest sha256s the recorded runs of a book chain (revision 0010's column)."""
    col = t.runs.c
    query = select(col.book_digest_sha256).where(col.book_sha256 == book_sha256)
    return {str(v) for v in conn.scalars(query) if v is not None}


def _same_digest(stored: bytes, body: bytes) -> bool:
    """Whether two digests' bytes hold the same digest (the same rows, read back)."""
    from marginlex.engine.distributed.digests import BookDigest  # noqa: PLC0415 - rare, heavy

    try:
        found = BookDigest.from_bytes(stored)
    except Exception:
        return False
    made = BookDigest.from_bytes(body)
    return found.meta == made.meta and found.keys.equals(made.keys)


def digest_problem(
    run_id: str, recorded: str | None, stored: str | None, chained: Collection[str] = ()
) -> str | None:
    """What is wrong with a run's stored book digest, or None: ``recorded`` is the sha256 its
    run record chains (None: a run recorded before revision 0010, nothing to compare),
    ``stored`` the sha256 of the digest stored now (None: none), ``chained`` those every run
    of the same book chains (:func:`chained_digests`): a stored digest one of them chains is
    the book's, made by another library version than this run's (which found it stored).

    >>> digest_problem("r-1", "ab", "ab") is None
    True
    >>> print(digest_problem("r-1", "ab", "cd"))
    the stored digest of run r-1's book is not the one the run recorded: book_digests was edited
    >>> digest_problem("r-2", "ab", "cd", chained={"ab", "cd"}) is None  # r-1 chains "cd"
    True
    """
    if recorded is None or stored == recorded or (stored is not None and stored in chained):
        return None
    what = "was removed" if stored is None else "is not the one the run recorded"
    return f"the stored digest of run {run_id}'s book {what}: book_digests was edited"


def read_digest(conn: Connection, book_sha256: str) -> bytes | None:
    """A book's stored digest (None: none stored, or a ledger without the table)."""
    if not inspect(conn).has_table(t.book_digests.name):
        return None
    col = t.book_digests.c
    body = conn.scalar(select(col.body).where(col.book_sha256 == book_sha256))
    return None if body is None else bytes(body)
