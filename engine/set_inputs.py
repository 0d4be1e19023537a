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

import numpy as np
import pandas as pd

from marginlex.engine.book.load import Book
from marginlex.engine.evaluation import Evaluation

_U64 = np.uint64
_MIX = (_U64(0xBF58476D1CE4E5B9), _U64(0x94D049BB133111EB))
_LANE = _U64(0x9E3779B97F4A7C15)
_HEX = np.array([f"{i:02x}" for i in range(256)], dtype="<U2")


def _rows(frame: pd.DataFrame, table: str) -> np.ndarray:
    """Each row's 64-bit hash, salted with the table's name."""
    salt = pd.util.hash_pandas_object(pd.Series([table]), index=False).to_numpy()[0]
    hashed: np.ndarray = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=_U64)
    return hashed ^ salt


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
        return x ^ (x >> _U64(31))


def _lookup(hashes: pd.Series, keys: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The hashes of ``keys`` found in ``hashes``, and which keys were found."""
    rows = hashes.index.get_indexer(keys.astype("str").to_numpy())
    found = rows >= 0
    return hashes.to_numpy()[rows[found]], found


def _entities(ev: Evaluation, book: Book, sets: pd.Index) -> pd.DataFrame:
    """Each (entity id, set code): the set's accounts, and their owners and carriers."""
    members = ev.frames["sets"][["margin_set_id", "account_id"]].astype("str").drop_duplicates()
    members = members.assign(code=sets.get_indexer(members["margin_set_id"]))
    accounts = book.accounts.astype({"account_id": "str"})
    joined = members.merge(accounts[["account_id", "owner_id", "carrier_id"]], on="account_id")
    parts = [members[["account_id", "code"]].rename(columns={"account_id": "entity"})]
    for column in ("owner_id", "carrier_id"):
        part = joined[[column, "code"]].rename(columns={column: "entity"}).dropna()
        parts.append(part.astype({"entity": "str"}))
    return pd.concat(parts, ignore_index=True).drop_duplicates()


def _contributions(ev: Evaluation, book: Book, sets: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Every (set code, row hash) a set's inputs contribute."""
    codes: list[np.ndarray] = [np.arange(len(sets))]
    hashes: list[np.ndarray] = [_rows(pd.DataFrame({"id": sets.to_numpy()}), "margin_set")]

    def add(code: np.ndarray, found: np.ndarray) -> None:
        codes.append(np.asarray(code, dtype=np.int64))
        hashes.append(found)

    entities = _entities(ev, book, sets)
    for table, key in (("accounts", "account_id"), ("parties", "party_id")):
        frame = getattr(book, table)
        on = entities.merge(
            frame[[key]].astype("str").assign(_h=_rows(frame, table)),
            left_on="entity",
            right_on=key,
        )
        add(on["code"].to_numpy(), on["_h"].to_numpy(dtype=_U64))
    relations = book.relations.astype("str").assign(_h=_rows(book.relations, "relations"))
    for end in ("src", "dst"):
        on = entities.merge(relations[[end, "_h"]], left_on="entity", right_on=end)
        add(on["code"].to_numpy(), on["_h"].to_numpy(dtype=_U64))
    instruments = _by_key(book.instruments, "instruments", "instrument_id")
    underlying = book.instruments.set_index(book.instruments["instrument_id"].astype("str"))
    underlying = underlying["underlying"][~underlying.index.duplicated()]
    held = ev.frames["positions"][["margin_set_id", "account_id", "instrument_id"]].astype("str")
    held_code = sets.get_indexer(held["margin_set_id"])
    positions = book.positions[["account_id", "instrument_id"]].astype("str")
    positions = positions.assign(_h=_rows(book.positions, "positions"))
    on = held.assign(code=held_code).merge(positions, on=["account_id", "instrument_id"])
    add(on["code"].to_numpy(), on["_h"].to_numpy(dtype=_U64))
    found, hit = _lookup(instruments, held["instrument_id"])
    add(held_code[hit], found)
    unders = underlying.reindex(held["instrument_id"].to_numpy()).dropna()
    found, hit = _lookup(instruments, unders)
    add(held_code[held["instrument_id"].isin(unders.index).to_numpy()][hit], found)
    lots = ev.frames["lots"][["margin_set_id", "lot_id", "asset"]].astype("str")
    lot_code = sets.get_indexer(lots["margin_set_id"])
    found, hit = _lookup(_by_key(book.collateral, "collateral", "lot_id"), lots["lot_id"])
    add(lot_code[hit], found)
    found, hit = _lookup(instruments, lots["asset"])
    add(lot_code[hit], found)
    code = np.concatenate(codes)
    keep = code >= 0
    return code[keep], np.concatenate(hashes).astype(_U64)[keep]


def set_input_hashes(ev: Evaluation, book: Book) -> pd.Series:
    """The input hash of each margin set of ``ev``: 32 hex digits, by margin set id.

    Equal hashes mean the set's input rows (listed in the module's docstring) are equal.
    """
    sets = pd.Index(ev.decisions["margin_set_id"].astype("str").to_numpy())
    code, hashed = _contributions(ev, book, sets)
    order = np.argsort(code, kind="stable")
    code, hashed = code[order], hashed[order]
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    lanes = [np.add.reduceat(_mix(hashed, lane), starts) for lane in (_LANE, ~_LANE)]
    digest = np.stack(lanes, axis=1).astype(">u8").view(np.uint8).reshape(len(starts), 16)
    text = np.ascontiguousarray(_HEX[digest]).view("<U32").ravel()
    return pd.Series(text, index=sets[code[starts]], name="inputs_sha256")
