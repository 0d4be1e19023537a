"""The entries a ``run --since`` carries forward, column by column, and their chained rows.

A carried entry is a reference to an earlier decision (:mod:`.carry` says which): its columns
are the earlier decision's, with today's decision id, no trace of its own, and the earlier
entry's sequence number and hash. A run carries tens or hundreds of thousands of them, so
they travel as one :class:`CarriedEntries` per rulebook (lists, sorted by margin set id),
and the ledger turns a run of them into rows in one tight loop: each header formatted from
its precomputed parts, chained with sha256, no Python object per entry on the way. The
header is byte for byte :func:`~marginlex.audit.ledger.chain.entry_header` of the same entry
(a test holds this), so ``verify`` walks the chain as it always did.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from json.encoder import encode_basestring as _quote  # as chain.entry_header quotes
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported where a block is cut: ledger and verify stay light
    import numpy as np

from marginlex.audit.ledger import tables as t

Head = tuple[int, str]
"""A chain position: the last sequence number and entry hash."""


class CarriedMismatch(ValueError):
    """Carried entries that do not belong to the run they are recorded in."""


@dataclass(frozen=True)
class CarriedEntries:
    """Entries of one rulebook carried forward, in margin set id order, column by column.

    ``calls`` and ``requirements`` are decimal strings with two places (as an entry header
    writes them); ``carried_from`` and ``carried_hash`` name the entry holding the trace.
    """

    rulebook_id: str
    rulebook_sha256: str
    book_sha256: str
    as_of: date
    margin_set_ids: np.ndarray  # str, sorted
    decision_ids: list[str]
    account_ids: list[str]
    statuses: list[str]
    calls: list[str]
    requirements: list[str]
    trace_sha256: list[str]
    inputs_sha256: list[str | None]
    carried_from: list[int]
    carried_hash: list[str]

    def __len__(self) -> int:
        return len(self.decision_ids)

    def take(self, start: int, stop: int) -> CarriedEntries:
        """Entries ``start:stop``."""
        cut = slice(start, stop)
        return replace(
            self,
            margin_set_ids=self.margin_set_ids[cut],
            **{name: getattr(self, name)[cut] for name in _LISTS},
        )

    def before(self, margin_set_id: str) -> int:
        """How many entries sort before ``margin_set_id``."""
        import numpy as np  # noqa: PLC0415 - ledger and verify import no numpy

        return int(np.searchsorted(self.margin_set_ids, margin_set_id, side="left"))

    def status_counts(self) -> Counter[str]:
        """Entries by status."""
        return Counter(self.statuses)

    def check(self, run_id: str, rulebooks: Mapping[str, str], book: tuple[str, date]) -> None:
        """Raise :class:`CarriedMismatch` unless the entries are of a rulebook of the run
        (``rulebooks``: sha256 -> id) and of its book (sha256 and as-of date)."""
        if rulebooks.get(self.rulebook_sha256) != self.rulebook_id:
            raise CarriedMismatch(f"rulebook {self.rulebook_id} is not in run {run_id}")
        if (self.book_sha256, self.as_of) != book:
            raise CarriedMismatch(f"carried entries: book or as-of differs from run {run_id}'s")

    def headers(self, run_id: str, run_sha256: str) -> list[bytes]:
        """Each entry's canonical header (what :func:`~.chain.entry_header` writes)."""
        q = _quote
        tail = f'"rulebook_id":{q(self.rulebook_id)},"run_id":{q(run_id)},"run_sha256":'
        tail += f"{q(run_sha256)},"
        parts = zip(
            self.account_ids,
            self.calls,
            self.carried_from,
            self.carried_hash,
            self.decision_ids,
            self.margin_set_ids.tolist(),
            self.requirements,
            self.statuses,
            self.trace_sha256,
            strict=True,
        )
        return [
            (
                f'{{"account_ids":{q(acc)},"call":"{call}","carried_from":{src},'
                f'"carried_hash":{q(src_hash)},"decision_id":{q(did)},'
                f'"margin_set_id":{q(ms)},"requirement":"{req}",{tail}'
                f'"status":{q(status)},"trace_sha256":{q(sha)}}}'
            ).encode()
            for acc, call, src, src_hash, did, ms, req, status, sha in parts
        ]

    def rows(
        self,
        run: tuple[str, str],
        head: Head,
        to_money: Callable[[Decimal], Any],
    ) -> tuple[list[tuple[Any, ...]], Head]:
        """The ``decisions`` rows of the entries (in table column order), chained after
        ``head``, for the run ``run`` (its id and sha256); and the new head."""
        run_id, run_sha256 = run
        seq, prev = head
        seqs = list(range(seq + 1, seq + 1 + len(self)))
        prevs, hashes = [], []
        sha256 = hashlib.sha256
        for number, header in zip(seqs, self.headers(run_id, run_sha256), strict=True):
            prevs.append(prev)
            prev = sha256(prev.encode("ascii") + header + str(number).encode("ascii")).hexdigest()
            hashes.append(prev)
        columns: dict[str, Any] = {
            "seq": seqs,
            "run_id": [run_id] * len(self),
            "decision_id": self.decision_ids,
            "rulebook_id": [self.rulebook_id] * len(self),
            "margin_set_id": self.margin_set_ids.tolist(),
            "account_ids": self.account_ids,
            "status": self.statuses,
            "call": [to_money(Decimal(v)) for v in self.calls],
            "requirement": [to_money(Decimal(v)) for v in self.requirements],
            "trace_sha256": self.trace_sha256,
            "trace_z": [b""] * len(self),
            "prev_hash": prevs,
            "entry_hash": hashes,
            "inputs_sha256": self.inputs_sha256,
            "carried_from": self.carried_from,
            "carried_hash": self.carried_hash,
        }
        rows = list(zip(*(columns[name] for name in _COLUMNS), strict=True))
        return rows, (seqs[-1], prev) if seqs else head


_COLUMNS = tuple(t.decisions.c.keys())
"""The ``decisions`` columns, in table order (the order :meth:`CarriedEntries.rows` fills)."""

_LISTS = (
    "decision_ids",
    "account_ids",
    "statuses",
    "calls",
    "requirements",
    "trace_sha256",
    "inputs_sha256",
    "carried_from",
    "carried_hash",
)


def concat(parts: list[CarriedEntries]) -> CarriedEntries:
    """Several blocks of one rulebook (disjoint margin sets) as one, in margin set id order."""
    first = parts[0]
    import numpy as np  # noqa: PLC0415 - ledger and verify import no numpy

    set_ids = np.concatenate([p.margin_set_ids for p in parts])
    order = np.argsort(set_ids, kind="stable")
    merged: dict[str, Any] = {}
    for name in _LISTS:
        values = [v for p in parts for v in getattr(p, name)]
        merged[name] = [values[i] for i in order.tolist()]
    return replace(first, margin_set_ids=set_ids[order], **merged)
