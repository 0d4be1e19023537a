"""Verify the rows derived from the entries: each entry's ``decision_keys`` (revision 0005)
and each run's summary (``run_summaries``, revision 0006).

They are not chained (they are rebuilt from the entries), but the console's filters and run
pages read them: a row edited by hand would show an auditor decisions that are not what the
chain holds. ``verify`` compares them with what the entries say, and names the first that
disagrees like any other tampering.

Keys are compared entry by entry as the chain walk reads each trace (the stored rows are
read alongside, in the same order, on a connection of their own, an entry's ``key_set`` row
read as the keys of its set); an entry carried forward holds no keys or, in a ledger recorded
before that, its reference's, compared by a digest kept of every referenced entry's. A key
set's rows must be those its id was made from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from itertools import groupby
from typing import Any, NamedTuple

from sqlalchemy import Connection, select

from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.decision_keys import (
    KeyKind,
    has_key_sets,
    has_keys,
    keys_of,
    read_sets,
    set_id,
)
from marginlex.audit.ledger.run_summaries import has_summaries, read_summary, summarize
from marginlex.audit.ledger.store import Ledger

Key = tuple[str, str]  # (kind, key)


class DerivedProblem(NamedTuple):
    """A derived row that disagrees with the entries, and where."""

    message: str
    seq: int | None = None
    run_id: str | None = None
    decision_id: str | None = None


def _digest(keys: set[Key]) -> bytes:
    return hashlib.sha256(json.dumps(sorted(keys)).encode()).digest()


def _difference(stored: set[Key], expected: set[Key]) -> str:
    """What the stored rows list that the entry does not, and the other way round.

    >>> _difference({("account", "A1"), ("rule", "x")}, {("account", "A1"), ("failed", "y")})
    "listed but not in the entry: rule 'x'; in the entry but not listed: failed 'y'"
    """
    parts = []
    for label, keys in (
        ("listed but not in the entry", stored - expected),
        ("in the entry but not listed", expected - stored),
    ):
        if keys:
            parts.append(f"{label}: " + ", ".join(f"{k} {v!r}" for k, v in sorted(keys)))
    return "; ".join(parts)


class KeyCheck:
    """The stored keys of each entry compared with its trace, as the chain walk meets it."""

    def __init__(self, ledger: Ledger, referenced: set[int]) -> None:
        self.enabled = ledger.keyed()
        self.referenced = referenced
        self.digests: dict[int, bytes] = {}
        self._conn: Connection | None = None
        self._groups: Iterator[tuple[int, Iterator[Any]]] = iter(())
        self._pending: tuple[int, set[Key]] | None = None
        self.sets: dict[str, set[Key]] = {}
        if self.enabled:
            self._conn = ledger.engine.connect()
            if has_key_sets(self._conn):
                self.sets = read_sets(self._conn)
                self._conn.rollback()
            k = t.decision_keys.c
            rows = self._conn.execution_options(yield_per=5000).execute(
                select(k.seq, k.kind, k.key).order_by(k.seq, k.kind, k.key)
            )
            self._groups = groupby(rows, key=lambda r: int(r.seq))

    def _next(self) -> tuple[int, set[Key]] | None:
        if self._pending is not None:
            found, self._pending = self._pending, None
            return found
        group = next(self._groups, None)
        return None if group is None else (group[0], self._expanded(group[1]))

    def _expanded(self, rows: Iterator[Any]) -> set[Key]:
        """An entry's stored keys, a ``key_set`` row replaced by its set's keys (a set the
        ledger does not hold stays as the row, which no trace lists)."""
        found: set[Key] = set()
        for row in rows:
            if row.kind == KeyKind.SET.value and row.key in self.sets:
                found |= self.sets[row.key]
            else:
                found.add((row.kind, row.key))
        return found

    def _stored(self, seq: int) -> tuple[set[Key], DerivedProblem | None]:
        """The stored keys of entry ``seq`` (rows of a lower, missing entry: a problem)."""
        found = self._next()
        if found is not None and found[0] < seq:
            return set(), _orphan(found[0])
        if found is not None and found[0] > seq:
            self._pending = found
            return set(), None
        return (set() if found is None else found[1]), None

    def entry(self, row: Any, body: str | None) -> DerivedProblem | None:
        """Compare entry ``row``'s stored keys with its trace ``body`` (None: carried)."""
        if not self.enabled:
            return None
        seq = int(row.seq)
        stored, orphan = self._stored(seq)
        if orphan is not None:
            return orphan
        where = {"seq": seq, "run_id": row.run_id, "decision_id": row.decision_id}
        if body is None:  # carried forward: found through the entry it refers to
            carried = int(row.carried_from)
            # none of its own; a ledger recorded before that kept a copy of the reference's
            if not stored or _digest(stored) == self.digests.get(carried):
                return None
            return DerivedProblem(
                f"entry #{seq} ({row.decision_id}) carries entry #{carried} forward, but has "
                "lookup keys that are not that entry's: decision_keys was edited",
                **where,
            )
        expected = {(kind, key) for _, kind, key in keys_of(seq, row.account_ids, body)}
        if seq in self.referenced:
            self.digests[seq] = _digest(expected)
        if stored == expected:
            return None
        return DerivedProblem(
            f"the lookup keys of entry #{seq} ({row.decision_id}) disagree with its trace "
            f"({_difference(stored, expected)}): decision_keys was edited",
            **where,
        )

    def finish(self) -> DerivedProblem | None:
        """Rows left after the last entry name no entry; a key set whose rows are not what
        its id (made from them) says."""
        if not self.enabled:
            return None
        found = self._next()
        if found is not None:
            return _orphan(found[0])
        for name, keys in sorted(self.sets.items()):  # a few hundred
            if set_id(tuple(keys)) != name:
                return DerivedProblem(
                    f"key set {name} holds rows its id was not made from: key_sets was edited"
                )
        return None

    def close(self) -> None:
        """Release the connection the stored keys were read on."""
        if self._conn is not None:
            self._conn.close()


def _orphan(seq: int) -> DerivedProblem:
    return DerivedProblem(
        f"decision_keys holds rows for entry #{seq}, which is not in the ledger: "
        "decision_keys was edited",
        seq=seq,
    )


def check_summaries(ledger: Ledger) -> DerivedProblem | None:
    """Every run has its stored summary, and it is what the run's entries count now."""
    with ledger.engine.connect() as conn:
        if not has_summaries(conn) or not has_keys(conn):
            return None
        runs = list(conn.scalars(select(t.runs.c.run_id).order_by(t.runs.c.first_seq)))
        stored = set(conn.scalars(select(t.run_summaries.c.run_id)))
        for run_id in runs:
            try:
                found = read_summary(conn, run_id)
            except ValueError:  # edited into what no summary can be
                found = None
            if found is None:
                return DerivedProblem(
                    f"the summary of run {run_id} was removed from run_summaries, or no "
                    "longer reads",
                    run_id=run_id,
                )
            if found != summarize(conn, run_id):
                return DerivedProblem(
                    f"the stored summary of run {run_id} (its totals, distributions or "
                    "eligibility failures) is not what its entries count: run_summaries "
                    "was edited",
                    run_id=run_id,
                )
        extra = sorted(stored - set(runs))
    if extra:
        return DerivedProblem(
            f"run_summaries holds a summary of run {extra[0]}, which is not in the ledger",
            run_id=extra[0],
        )
    return None
