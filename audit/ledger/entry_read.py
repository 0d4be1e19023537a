"""One stored entry read back: its row as typed records, its hashes checked, its trace
decoded. No SQLAlchemy here: the SQLAlchemy reader (``read.py``) and the standard library's
``sqlite3`` reader of one decision (``sqlite_read.py``, what ``marginlex explain`` uses on a
SQLite ledger) hand it the rows their queries found, so both check an entry the same way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from marginlex.audit.canonical import sha256_hex
from marginlex.audit.ledger.chain import (
    Dictionaries,
    TraceDecodeError,
    entry_hash,
    entry_header,
    trace_json,
)
from marginlex.audit.ledger.records import (
    CarriedFrom,
    DecisionRow,
    RunOrigin,
    RunRecord,
    StoredDecision,
)
from marginlex.audit.trace.model import DecisionTrace
from marginlex.engine.outcomes import DecisionStatus

RunDigests = tuple[str | None, str]  # a run's digest re-derived from its row, and as stored


class LedgerError(ValueError):
    """A ledger that cannot be opened, or a run that cannot be recorded as given."""


class DecisionNotFoundError(LookupError):
    """No decision with that id in the ledger."""


NEAR_IDS = 5
"""Decision ids offered for one that names no entry, at most."""


MAX_KEY_LENGTH = 200
"""Characters of the longest id the ledger can hold (a decision, rulebook, margin set or
account key: VARCHAR(200), :mod:`~marginlex.audit.ledger.tables`). A longer id names no
entry, and is not searched for: SQLite refuses a LIKE pattern of 50,000 bytes ("LIKE or
GLOB pattern too complex"), which came out as a traceback, or as a ledger that "cannot be
read", with the SQL statement."""


def too_long(what: str, value: str) -> str | None:
    """Why ``value`` (a ``what``: decision, account) names nothing in any ledger, when it
    is longer than any id one holds (None: it is not).

    >>> too_long("decision", "x" * 60_000)
    "no decision 'xxxxxxxxxxxxxxxxxxxxxxxx…' in the ledger: the id given is 60,000 characters, longer than any the ledger can hold (200)"
    """  # noqa: E501
    if len(value) <= MAX_KEY_LENGTH:
        return None
    return (
        f"no {what} {value[:24] + '…'!r} in the ledger: the id given is {len(value):,} "
        f"characters, longer than any the ledger can hold ({MAX_KEY_LENGTH})"
    )


def set_part(decision_id: str) -> str:
    """The part of a decision id a margin set id holds (an account id, as often as not), to
    find the ids meant by one mistyped: ``A01`` of ``sec:ms:A01``.

    >>> set_part("sec:ms:A01_ALICE"), set_part("A01_ALICE_PM")
    ('A01_ALICE', 'A01_ALICE_PM')
    """
    return decision_id.rsplit(":", 1)[-1]


def not_found(
    decision_id: str, run_id: str | None, near: Sequence[str] = (), run_recorded: bool = True
) -> DecisionNotFoundError:
    """The error of a decision id that names no entry (in that run), with the ids of the
    sets whose id holds its :func:`set_part` (``near``), if any; a run the ledger has not
    recorded is named as the reason (the decision's own id was offered as the one meant).

    >>> str(not_found("A01", None, ["sec:ms:A01_PM"]))
    "no decision 'A01' in the ledger; did you mean sec:ms:A01_PM? `marginlex ledger` lists them"
    >>> str(not_found("sec:ms:A01", "r-zz", ["sec:ms:A01"], run_recorded=False))
    "no run 'r-zz' in the ledger; `marginlex ledger runs` lists them"
    """
    if (long := too_long("decision", decision_id)) is not None:
        return DecisionNotFoundError(long)
    if run_id and not run_recorded:
        return DecisionNotFoundError(
            f"no run {run_id!r} in the ledger; `marginlex ledger runs` lists them"
        )
    where = f" in run {run_id}" if run_id else ""
    meant = f"did you mean {' or '.join(near)}? " if near else ""
    return DecisionNotFoundError(
        f"no decision {decision_id!r}{where} in the ledger; {meant}`marginlex ledger` lists them"
    )


def row_summary(row: Any, mismatch: str | None = None) -> DecisionRow:
    """A ``decisions`` row as a :class:`DecisionRow` (with what its hash check found)."""
    return DecisionRow(
        mismatch=mismatch,
        seq=row.seq,
        run_id=row.run_id,
        decision_id=row.decision_id,
        rulebook_id=row.rulebook_id,
        margin_set_id=row.margin_set_id,
        account_ids=tuple(json.loads(row.account_ids)),
        status=DecisionStatus(row.status),
        call=row.call,
        requirement=row.requirement,
    )


def run_from_row(row: Any, origin: RunOrigin | None = None) -> RunRecord:
    """Rebuild the caller's run record from a ``runs`` row (to re-derive its sha256)."""
    return RunRecord.model_validate(
        {
            "run_id": row.run_id,
            "created_at": row.created_at,
            "engine_version": row.engine_version,
            "book_sha256": row.book_sha256,
            "as_of": row.as_of,
            "origin": origin,
            "rulebooks": json.loads(row.rulebooks),
            "out_of_scope": row.out_of_scope,
            # revision 0010's column (a ledger not upgraded lacks it)
            "book_digest_sha256": getattr(row, "book_digest_sha256", None),
            # revision 0011's column
            "engine_code_sha256": getattr(row, "engine_code_sha256", None),
        }
    )


def run_digest(row: Any, origin: RunOrigin | None = None) -> str | None:
    """A ``runs`` row's digest as entries chain it; None if edited into no valid record, or
    into another spelling of one (its times and dates are read as text: a ``created_at`` of
    ``1796571537`` parses to the recorded moment but escapes every filter by date)."""
    try:
        record = run_from_row(row, origin)
    except (ValidationError, ValueError):  # edited into no run record (rulebooks not JSON...)
        return None
    stored = (row.created_at, row.as_of)
    if stored != (record.created_at.isoformat(), record.as_of.isoformat()):
        return None
    return record.digest(row.book_blob_sha256)


def rehash(row: Any, digest: str) -> str:
    """A ``decisions`` row's entry hash, re-derived from its columns as verify does."""
    return entry_hash(row.prev_hash, entry_header(row, row.run_id, digest), row.seq)


def hash_mismatch(row: Any, digests: dict[str, RunDigests]) -> str | None:
    """Why a ``decisions`` row no longer matches its entry hash, or None if it does.

    Cheap: one sha256 of the row's columns (the trace is checked by its own sha256 where it
    is read, and the chain's links by ``marginlex verify``).
    """
    computed, stored = digests.get(row.run_id, (None, None))
    if computed is not None and rehash(row, computed) == row.entry_hash:
        return None
    if computed is None or (stored is not None and rehash(row, stored) == row.entry_hash):
        return f"HASH MISMATCH: the record of run {row.run_id} was changed or removed"
    return f"HASH MISMATCH: entry #{row.seq} was changed after it was recorded"


def carried_source_problem(
    row: Any, source: Any, digests: dict[str, RunDigests] | None = None
) -> str | None:
    """What is wrong with the link of a carried entry to the earlier entry it refers to, or
    (given its run's ``digests``) with that entry itself: its run and decision id are shown
    beside the carried entry, so an edit of them is named too."""
    if source is None or source.seq >= row.seq:
        return f"HASH MISMATCH: entry #{row.carried_from}, carried, is not there"
    if source.entry_hash != row.carried_hash or source.trace_sha256 != row.trace_sha256:
        return f"HASH MISMATCH: entry #{source.seq} was changed after it was carried"
    changed = None if digests is None else hash_mismatch(source, digests)
    return None if changed is None else f"{changed} (the entry carried here)"


def read_trace(row: Any, dictionaries: Dictionaries) -> tuple[str, DecisionTrace]:
    """A stored entry's trace JSON and model.

    Raises:
        TraceDecodeError: the stored bytes no longer read as a trace (naming the entry).
    """
    try:
        body = trace_json(row.trace_z, dictionaries)
        return body, DecisionTrace.model_validate_json(body)
    except (TraceDecodeError, ValidationError) as exc:
        reason = str(exc) if isinstance(exc, TraceDecodeError) else "not a valid trace"
        raise TraceDecodeError(
            f"the stored trace of entry #{row.seq} ({row.decision_id}) no longer reads: "
            f"{reason}; it was changed (`marginlex verify` names the first broken entry)"
        ) from exc


def stored_decision(
    row: Any,
    *,
    digests: dict[str, RunDigests],
    created: str | None,
    origin: RunOrigin | None,
    carried: tuple[Any, str | None],
    dictionaries: Dictionaries,
    next_link: str | None = None,
) -> StoredDecision:
    """A found ``decisions`` row as a :class:`StoredDecision`, every hash checked.

    ``carried``: the earlier entry a carried row refers to and what is wrong with the link
    (``(None, None)`` for a row that carries nothing). ``next_link``: the ``prev_hash`` of
    the entry after it (None: it is the last): an entry edited and re-hashed alone matches
    its own hash, but no longer the hash the next entry was chained to.

    Raises:
        TraceDecodeError: the trace no longer reads, or a carried entry's source is gone.
    """
    source, broken = carried
    mismatch = hash_mismatch(row, digests) or broken
    if mismatch is None and next_link is not None and next_link != row.entry_hash:
        mismatch = (
            f"HASH MISMATCH: entry #{row.seq + 1} is chained to another hash than this "
            f"entry's: entry #{row.seq} was changed and re-hashed, or the link of "
            f"#{row.seq + 1} was edited (marginlex verify names which)"
        )
    if source is None and broken is not None:
        raise TraceDecodeError(f"entry #{row.seq} ({row.decision_id}): {broken}")
    body, trace = read_trace(source or row, dictionaries)
    if mismatch is None and sha256_hex(body) != row.trace_sha256:
        mismatch = f"HASH MISMATCH: the trace of entry #{row.seq} was changed"
    link = None
    if source is not None:
        link = CarriedFrom(seq=source.seq, run_id=source.run_id, decision_id=source.decision_id)
    return StoredDecision(
        carried_from=link,
        row=row_summary(row, mismatch),
        trace=trace,
        prev_hash=row.prev_hash,
        entry_hash=row.entry_hash,
        origin=origin,
        recorded_at=None if created is None else datetime.fromisoformat(created),
    )
