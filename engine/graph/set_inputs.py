"""What each margin set's decision was made from: a hash of its input rows, per set.

``marginlex run --since RUN`` re-decides only the margin sets whose hash differs from the
one recorded for the same set in that run. A set's inputs are the book rows its decision can
read, found from the evaluation's own frames (so positions a rule took in from another
account count for the set that holds them):

- its accounts (so its membership), their owners' and carriers' party rows, and every
  relation row whose ``src`` or ``dst`` is one of those accounts or parties;
- the positions it holds, each with its instrument's row and its underlying's row;
- the collateral lots it holds, and the instrument row a lot's asset names (if any);
- the margin set id itself.

Each book table's rows are hashed at once (``pandas.util.hash_pandas_object``), salted per
table, and summed per set into two independent 64-bit lanes (order-free, no Python loop
over rows). The rulebook, the as-of date and the engine version are not in the hash:
``--since`` compares them for the whole run, and any difference re-decides every set.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from marginlex.engine.book.load import Book

Frames = Mapping[str, pd.DataFrame]
"""An evaluation's trace frames by name (``sets``, ``positions`` and ``lots`` are read)."""

_U64 = np.uint64
_MIX = (_U64(0xBF58476D1CE4E5B9), _U64(0x94D049BB133111EB))
_LANE = _U64(0x9E3779B97F4A7C15)
_HEX = np.array([f"{i:02x}" for i in range(256)], dtype="<U2")


def _rows(frame: pd.DataFrame, table: str) -> np.ndarray:
    """Each row's 64-bit hash, salted with the table's name."""
    salt = pd.util.hash_pandas_object(pd.Series([table]), index=False).to_numpy()[0]
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=_U64)
    return np.asarray(hashed ^ salt, dtype=_U64)


def _by_key(frame: pd.DataFrame, table: str, key: str) -> pd.Series:
    """Row hashes of a table by its key column (the first row of a repeated key)."""
    hashed = pd.Series(_rows(frame, table), index=frame[key].astype("str").to_numpy())
    return hashed[~hashed.index.duplicated()]


def _mix(values: np.ndarray, lane: np.uint64) -> np.ndarray:
    """A splitmix64 finalizer of each value (so sums of related rows do not cancel)."""
    with np.errstate(over="ignore"):
        x = values ^ lane
        x = (x ^ (x >> _U64(30))) * _MIX[0]
        x = (x ^ (x >> _U64(27))) * _MIX[1]
        return np.asarray(x ^ (x >> _U64(31)), dtype=_U64)


def _codes(sets: pd.Index, ids: pd.Series) -> np.ndarray:
    """The row in ``sets`` of each margin set id (-1: none)."""
    return np.asarray(sets.get_indexer(pd.Index(ids.astype("str"))), dtype=np.int64)


class _Parts:
    """The (set code, row hash) pairs a book's rows contribute, gathered table by table."""

    def __init__(self, sets: pd.Index) -> None:
        self.sets = sets
        self.codes: list[np.ndarray] = [np.arange(len(sets), dtype=np.int64)]
        self.hashes = [_rows(pd.DataFrame({"id": sets.to_numpy()}), "margin_set")]

    def add(self, codes: np.ndarray, hashes: np.ndarray) -> None:
        self.codes.append(np.asarray(codes, dtype=np.int64))
        self.hashes.append(np.asarray(hashes, dtype=_U64))

    def joined(
        self, left: pd.DataFrame, right: pd.DataFrame, on: tuple[list[str], list[str]]
    ) -> None:
        """Rows of ``right`` (hashes in ``_h``) matched to ``left``'s set codes (``code``)."""
        both = left.merge(right, left_on=on[0], right_on=on[1])
        self.add(both["code"].to_numpy(), both["_h"].to_numpy(dtype=_U64))

    def looked_up(self, codes: np.ndarray, hashes: pd.Series, keys: pd.Series) -> None:
        """The hash of each key found in ``hashes``, for the set code beside it."""
        rows = hashes.index.get_indexer(pd.Index(keys.astype("str")))
        found = rows >= 0
        self.add(codes[found], hashes.to_numpy(dtype=_U64)[rows[found]])

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        code = np.concatenate(self.codes)
        keep = code >= 0
        return code[keep], np.concatenate(self.hashes)[keep]


def _entities(frames: Frames, book: Book, sets: pd.Index) -> pd.DataFrame:
    """Each (entity id, set code): the set's accounts, and their owners and carriers."""
    members = frames["sets"][["margin_set_id", "account_id"]].astype("str").drop_duplicates()
    members = members.assign(code=_codes(sets, members["margin_set_id"]))
    accounts = book.accounts.astype({"account_id": "str"})
    joined = members.merge(accounts[["account_id", "owner_id", "carrier_id"]], on="account_id")
    parts = [members[["account_id", "code"]].rename(columns={"account_id": "entity"})]
    for column in ("owner_id", "carrier_id"):
        part = joined[[column, "code"]].rename(columns={column: "entity"}).dropna()
        parts.append(part.astype({"entity": "str"}))
    return pd.concat(parts, ignore_index=True).drop_duplicates()


def _people(parts: _Parts, frames: Frames, book: Book) -> None:
    """Accounts, parties and relations: by the set's accounts, owners and carriers."""
    entities = _entities(frames, book, parts.sets)
    for table, key in (("accounts", "account_id"), ("parties", "party_id")):
        frame: pd.DataFrame = getattr(book, table)
        rows = frame[[key]].astype("str").assign(_h=_rows(frame, table))
        parts.joined(entities, rows, (["entity"], [key]))
    relations = book.relations.astype("str").assign(_h=_rows(book.relations, "relations"))
    for end in ("src", "dst"):
        parts.joined(entities, relations[[end, "_h"]], (["entity"], [end]))


def _holdings(parts: _Parts, frames: Frames, book: Book) -> None:
    """Positions with their instruments and underlyings; lots with their assets."""
    instruments = _by_key(book.instruments, "instruments", "instrument_id")
    ids = book.instruments["instrument_id"].astype("str")
    underlying = pd.Series(book.instruments["underlying"].to_numpy(), index=ids.to_numpy())
    underlying = underlying[~underlying.index.duplicated()].dropna().astype("str")
    held = frames["positions"][["margin_set_id", "account_id", "instrument_id"]].astype("str")
    code = _codes(parts.sets, held["margin_set_id"])
    positions = book.positions[["account_id", "instrument_id"]].astype("str")
    positions = positions.assign(_h=_rows(book.positions, "positions"))
    keys = ["account_id", "instrument_id"]
    parts.joined(held.assign(code=code), positions, (keys, keys))
    parts.looked_up(code, instruments, held["instrument_id"])
    has = held["instrument_id"].isin(underlying.index).to_numpy()
    unders = underlying.reindex(held["instrument_id"].to_numpy()[has])
    parts.looked_up(code[has], instruments, unders)
    lots = frames["lots"][["margin_set_id", "lot_id", "asset"]].astype("str")
    lot_code = _codes(parts.sets, lots["margin_set_id"])
    parts.looked_up(lot_code, _by_key(book.collateral, "collateral", "lot_id"), lots["lot_id"])
    parts.looked_up(lot_code, instruments, lots["asset"])


def set_input_hashes(frames: Frames, set_ids: pd.Series, book: Book) -> pd.Series:
    """The input hash of each margin set an evaluation decided (``set_ids``, the margin set
    ids of its decisions; ``frames``, its trace frames): 32 hex digits, by margin set id.

    Equal hashes mean the set's input rows (listed in the module's docstring) are equal.
    """
    sets = pd.Index(set_ids.astype("str").to_numpy())
    parts = _Parts(sets)
    _people(parts, frames, book)
    _holdings(parts, frames, book)
    code, hashed = parts.result()
    if not len(code):  # no set (a --since run's cut of an unchanged book)
        return pd.Series([], index=sets, dtype="str", name="inputs_sha256")
    order = np.argsort(code, kind="stable")
    code, hashed = code[order], hashed[order]
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    lanes = [np.add.reduceat(_mix(hashed, lane), starts) for lane in (_LANE, ~_LANE)]
    digest = np.stack(lanes, axis=1).astype(">u8").view(np.uint8).reshape(len(starts), 16)
    text = np.ascontiguousarray(_HEX[digest]).view("<U32").ravel()
    return pd.Series(text, index=sets[code[starts]], name="inputs_sha256")
