"""A book's digests: what ``run --since`` compares instead of reading the earlier book back.

Every recorded run stores its book's digest (``book_digests``, revision 0007): for each table,
per key, the count of its rows and two 64-bit sums of their hashes (the row hash of
:func:`~marginlex.engine.distributed.changed.row_changes`, and its square, wrapping): the
``accounts``, ``positions`` and ``collateral`` rows by account, ``parties`` by party,
``instruments`` by instrument, all ``relations`` together; and each account's component of
the account graph. Two digests differ at a key exactly when that key's rows differ as a
multiset (up to a 128-bit coincidence), so :func:`accounts_to_decide` finds the accounts
:func:`~marginlex.engine.distributed.changed.accounts_to_decide` finds from the two whole
books, reading only today's book and the earlier digest (a test holds the two equal):

- a changed account, position or lot marks its account (a lot's pledgee shares its
  component, in either book, so it is decided again with it);
- a changed party marks today's accounts it owns or carries (an account it no longer owns
  or carries changed its own row), and those owned or carried by a party at the other end
  of a relation with it (a rule may read it there: ``carrier member_of dco``);
- a changed instrument marks today's holders of it, or of an instrument written on it, and
  of lots whose asset it is (a holder that no longer holds it changed its positions);
- a changed relation, currency or set of columns: every account (None).

Whole-column throughout: rows hashed at once, summed per key with ``numpy.add.reduceat``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from marginlex.engine.distributed.changed import Frames, far_ends, row_hashes
from marginlex.engine.graph.components import components_of
from marginlex.engine.graph.set_inputs import hashed_columns

DIGEST_VERSION = 1
"""Bumped when what a digest holds changes: a digest of another version is not compared."""

KEYS: Mapping[str, str | None] = {
    "accounts": "account_id",
    "positions": "account_id",
    "collateral": "account_id",
    "parties": "party_id",
    "instruments": "instrument_id",
    "relations": None,  # one key: any change decides every account
}
COMPONENT = "component"  # the rows holding each account's component label (in ``n``)


@dataclass(frozen=True)
class BookDigest:
    """A book's digest: ``meta`` (version, currency, each table's columns) and ``keys``, one
    row per (kind, key): ``h1``, ``h2`` (uint64 sums) and ``n`` (rows; a component label)."""

    meta: dict[str, object]
    keys: pd.DataFrame

    def to_bytes(self) -> bytes:
        """The digest as stored: one Arrow IPC stream, the meta in its schema metadata."""
        table = pa.Table.from_pandas(self.keys, preserve_index=False)
        table = table.replace_schema_metadata({"marginlex": json.dumps(self.meta)})
        out = io.BytesIO()
        with pa.ipc.new_stream(out, table.schema) as writer:
            writer.write_table(table)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, body: bytes) -> BookDigest:
        """Read back :meth:`to_bytes`."""
        table = pa.ipc.open_stream(body).read_all()
        meta = json.loads((table.schema.metadata or {})[b"marginlex"])
        keys = table.to_pandas().astype({"kind": object, "key": object})
        return cls(meta=meta, keys=keys)

    def components(self) -> tuple[pd.Index, np.ndarray]:
        """Each account's id and component label."""
        rows = self.keys[self.keys["kind"] == COMPONENT]
        return pd.Index(rows["key"].to_numpy(dtype=object)), rows["n"].to_numpy(np.int64)


def _per_key(kind: str, frame: pd.DataFrame, column: str | None) -> pd.DataFrame:
    """The rows of one table summed per key."""
    hashes = row_hashes(frame)
    keys = pd.Series("", index=frame.index) if column is None else frame[column].astype("str")
    codes, uniques = pd.factorize(keys)  # arrow strings: no Python object per row
    order = np.argsort(codes, kind="stable")
    codes, hashes = codes[order], hashes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else codes
    return pd.DataFrame(
        {
            "kind": kind,
            "key": np.asarray(uniques, dtype=object)[codes[starts]],
            "h1": np.add.reduceat(hashes, starts) if len(codes) else hashes,
            "h2": np.add.reduceat(hashes * hashes, starts) if len(codes) else hashes,
            "n": np.diff(np.r_[starts, len(codes)]).astype(np.int64),
        }
    )


def book_digest(frames: Frames, currency: object) -> BookDigest:
    """The digest of a book's contract frames (as :meth:`Book.contract_frames` gives them).

    >>> from marginlex.engine.book.load import load_demo_book
    >>> book = load_demo_book()
    >>> digest = book_digest(book.contract_frames(), book.meta.currency)
    >>> sorted(set(digest.keys["kind"]))[:3]
    ['accounts', 'collateral', 'component']
    """
    # A column the contract added since digests were first made counts only where a row sets
    # it: a book without it digests as before, so a run recorded then is compared key by key.
    frames = {kind: hashed_columns(frames[kind], kind) for kind in KEYS}
    parts = [_per_key(kind, frames[kind], column) for kind, column in KEYS.items()]
    ids = frames["accounts"]["account_id"].astype("str").to_numpy(dtype=object)
    labels = components_of(frames["accounts"], frames["collateral"], frames["relations"])
    zero = np.zeros(len(ids), np.uint64)
    parts.append(pd.DataFrame({"kind": COMPONENT, "key": ids, "h1": zero, "h2": zero, "n": labels}))
    meta: dict[str, object] = {
        "version": DIGEST_VERSION,
        "currency": currency,
        "columns": {name: [str(c) for c in frames[name].columns] for name in KEYS},
    }
    keys = pd.concat(parts, ignore_index=True).astype({"kind": object, "key": object})
    return BookDigest(meta=meta, keys=keys)


def changed_keys(before: BookDigest, after: BookDigest) -> dict[str, pd.Index]:
    """The keys of each kind whose rows differ (or exist in one digest only)."""
    rows = pd.concat([d.keys[d.keys["kind"] != COMPONENT] for d in (before, after)])
    differ = rows.drop_duplicates(keep=False)  # a (kind, key) alike in both: twice
    return {
        kind: pd.Index(differ.loc[differ["kind"] == kind, "key"].unique(), dtype=object)
        for kind in KEYS
    }


def accounts_to_decide(before: BookDigest, after: BookDigest, today: Frames) -> pd.Index | None:
    """Today's accounts whose margin sets must be decided again (their components whole),
    from the earlier book's digest, today's and today's frames; None: every account."""
    if json.dumps(before.meta, sort_keys=True) != json.dumps(after.meta, sort_keys=True):
        return None
    changed = changed_keys(before, after)
    if len(changed["relations"]):
        return None
    acc, pos, lots, ins = (today[n] for n in ("accounts", "positions", "collateral", "instruments"))
    assets = changed["instruments"]
    held = assets.append(pd.Index(ins.loc[ins["underlying"].isin(assets), "instrument_id"]))
    parties = changed["parties"]
    parties = parties.append(far_ends(parties, today["relations"])).unique()
    by_party = acc["owner_id"].isin(parties) | acc["carrier_id"].isin(parties)
    found = [
        changed["accounts"],
        changed["positions"],
        changed["collateral"],
        pd.Index(acc.loc[by_party, "account_id"]),
        pd.Index(pos.loc[pos["instrument_id"].isin(held), "account_id"]),
        pd.Index(lots.loc[lots["asset"].isin(assets), "account_id"]),
    ]
    if "instrument_id" in lots.columns:  # a stock lot's cover moves with its stock's price
        found.append(pd.Index(lots.loc[lots["instrument_id"].isin(held), "account_id"]))
    marked = pd.Index(pd.concat([i.astype("str").to_series() for i in found])).unique()
    old_ids, old = before.components()
    dirty = marked.append(old_ids[np.isin(old, old[old_ids.isin(marked)])])
    new_ids, new = after.components()
    return new_ids[np.isin(new, new[new_ids.isin(dirty)])]
