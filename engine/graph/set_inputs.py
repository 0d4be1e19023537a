"""What each margin set's decision was made from: a hash of its input rows, per set.

``marginlex run --since RUN`` re-decides only the margin sets whose hash differs from the
one recorded for the same set in that run. A set's inputs are the book rows its decision can
read, found from the evaluation's own frames (so positions a rule took in from another
account count for the set that holds them):

- its accounts (so its membership), their owners' and carriers' party rows, and every
  relation row whose ``src`` or ``dst`` is one of those accounts or parties;
- the rows of every account of the same owner at the same carrier (``account.owner_regimes``
  reads their regimes: a futures account is merged only beside a securities account);
  ``account.merged_regimes`` reads the set's own membership and its members' regimes (the
  sets an eligibility requirement reads are those the margin-set phase forms), so the
  membership and member rows above cover it;
- the positions it holds, each with its instrument's row and its underlying's row;
- the collateral lots it holds, and the instrument row a lot's asset names (if any);
- the margin set id itself;
- and the rows of its accounts' collateral component
  (:func:`~marginlex.engine.graph.components.components_of` without owners: accounts
  joined by a pledged lot or a relation between accounts), which segregation reads as it
  follows a lot to the account it is pledged to and on along ``rehypothecated_to``, and a
  received lot's value reads at its source, and a rule on a lot reads of its pledging
  account: every account of the component with its owner's and carrier's rows, every
  relation touching one of those with the rows at both its ends (a rule may ask whether
  the carrier is a member of a dco), every position of the
  accounts with its instrument and underlying wherever it is margined (an account's equity
  counts a position another set takes in, such as cash Treasuries in a cross-margin set),
  every lot they hold or receive with the instrument its asset names.

Each book table's rows are hashed at once (``pandas.util.hash_pandas_object``), salted per
table, and summed per set into two independent 64-bit lanes (order-free, no Python loop
over rows). The rows are matched to the sets by integer codes (each id looked up once in
Arrow, each table sorted once by its key): :class:`BookRows` holds them for one book and
serves every rulebook of a run. The rulebook, the as-of date and the engine version are not
in the hash: ``--since`` compares them for the whole run, and any difference re-decides
every set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from marginlex.engine.book.columns import index_in
from marginlex.engine.book.load import Book
from marginlex.engine.graph.components import components_of
from marginlex.engine.kernels.text import as_text

Frames = Mapping[str, pd.DataFrame]
"""An evaluation's trace frames by name (``sets``, ``positions`` and ``lots`` are read)."""

_U64 = np.uint64
_MIX = (_U64(0xBF58476D1CE4E5B9), _U64(0x94D049BB133111EB))
_LANE = _U64(0x9E3779B97F4A7C15)
_ENDS = ("src", "dst")
_HEX = np.array([f"{i:02x}" for i in range(256)], dtype="<U2")


HASHED_WHERE_SET = {"collateral": ("instrument_id",)}
"""Columns added to a table after its rows were first hashed (here, and in a book's digest:
:mod:`marginlex.engine.distributed.digests`), read only when some row sets them: a book that
sets none hashes as before the column existed, so a ledger recorded then replays with the same
input hashes and ``run --since`` carries its sets."""


def hashed_columns(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """``frame`` as its rows are hashed: without a column of :data:`HASHED_WHERE_SET` that no
    row sets.

    >>> lots = pd.DataFrame({"lot_id": ["L1"], "instrument_id": [None]})
    >>> list(hashed_columns(lots, "collateral").columns)
    ['lot_id']
    """
    unset = [
        c for c in HASHED_WHERE_SET.get(table, ()) if c in frame and not frame[c].notna().any()
    ]
    return frame.drop(columns=unset) if unset else frame


def _rows(frame: pd.DataFrame, table: str) -> np.ndarray:
    """Each row's 64-bit hash, salted with the table's name."""
    frame = hashed_columns(frame, table)
    salt = pd.util.hash_pandas_object(pd.Series([table]), index=False).to_numpy()[0]
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=_U64)
    return np.asarray(hashed ^ salt, dtype=_U64)


def _mix(values: np.ndarray, lane: np.uint64) -> np.ndarray:
    """A splitmix64 finalizer of each value (so sums of related rows do not cancel)."""
    with np.errstate(over="ignore"):
        x = values ^ lane
        x = (x ^ (x >> _U64(30))) * _MIX[0]
        x = (x ^ (x >> _U64(27))) * _MIX[1]
        return np.asarray(x ^ (x >> _U64(31)), dtype=_U64)


def _codes(values: pd.Series, keys: pd.Series | pd.Index) -> np.ndarray:
    """The position in ``keys`` of each value (-1: none); a categorical's categories are
    looked up once each."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        found = np.append(index_in(values.cat.categories, keys), -1)  # code -1: missing
        return found[values.cat.codes.to_numpy()]
    return index_in(values, keys)


@dataclass(frozen=True)
class _Keyed:
    """A table's row hashes sorted by an integer key, so each key's rows are found by search."""

    keys: np.ndarray
    hashes: np.ndarray

    @classmethod
    def of(cls, keys: np.ndarray, hashes: np.ndarray) -> _Keyed:
        """Rows with a key (rows whose key is -1, found nowhere, are left out)."""
        order = np.argsort(keys, kind="stable")
        order = order[keys[order] >= 0]
        return cls(keys[order], hashes[order])

    def rows_of(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every row whose key is one of ``keys``: (the position in ``keys``, the row's hash),
        as a join would pair them (a key held by several rows is paired with each)."""
        lo = np.searchsorted(self.keys, keys, "left")
        many = np.searchsorted(self.keys, keys, "right") - lo
        many[keys < 0] = 0
        which = np.repeat(np.arange(len(keys)), many)
        first = np.repeat(lo - (np.cumsum(many) - many), many)  # row of each pair's key group
        return which, self.hashes[first + np.arange(len(which))]


class BookRows:
    """A book's rows as set inputs: each table's row hashes, found by integer codes.

    Made once per book and used for each rulebook's sets (a run decides the same book
    under several rulebooks). Accounts and parties share one id space (their ids never
    clash: the book checks it), so an account's owner and carrier are codes too.
    """

    def __init__(self, book: Book) -> None:
        accounts, parties = book.accounts, book.parties
        self.entity_ids = pd.concat(
            [as_text(accounts["account_id"]), as_text(parties["party_id"])], ignore_index=True
        )
        self.entity_hashes = np.concatenate(
            [_rows(accounts, "accounts"), _rows(parties, "parties")]
        )
        self.owner = _codes(accounts["owner_id"], self.entity_ids)
        self.carrier = _codes(accounts["carrier_id"], self.entity_ids)
        self.relation_hashes = _rows(book.relations, "relations")
        self.relation_ends = {end: _codes(book.relations[end], self.entity_ids) for end in _ENDS}
        self.relations = {
            end: _Keyed.of(self.relation_ends[end], self.relation_hashes) for end in _ENDS
        }
        instruments = book.instruments
        self.instrument_ids = as_text(instruments["instrument_id"])
        self.instrument_hashes = _rows(instruments, "instruments")
        self.underlying = _codes(instruments["underlying"], self.instrument_ids)
        positions = book.positions
        self.position_hashes = _rows(positions, "positions")
        self.held_account = _codes(positions["account_id"], self.entity_ids)
        self.held_instrument = _codes(positions["instrument_id"], self.instrument_ids)
        self.positions = _Keyed.of(  # by (account, instrument)
            self.pair(self.held_account, self.held_instrument), self.position_hashes
        )
        self.lot_ids = as_text(book.collateral["lot_id"])
        self.lot_hashes = _rows(book.collateral, "collateral")
        self.component = components_of(accounts, book.collateral, book.relations, by_owner=False)
        self.component_hashes = _component_hashes(self, book)
        # the accounts of one owner at one carrier: each account's group and group hash
        n = len(accounts)
        self.siblings = _combined(self.owner, self.carrier)
        self.sibling_hashes = _summed(
            self.siblings, self.entity_hashes[:n], int(self.siblings.max(initial=-1)) + 1
        )

    def pair(self, account: np.ndarray, instrument: np.ndarray) -> np.ndarray:
        """One integer for an (account, instrument) pair of codes; -1 if either is -1."""
        pair = account * np.int64(max(1, len(self.instrument_ids))) + instrument
        return np.where((account >= 0) & (instrument >= 0), pair, -1)

    def instruments(self, parts: _Parts, code: np.ndarray, rows: np.ndarray) -> None:
        """The instrument row of each code in ``rows`` (-1: no instrument), for its set."""
        found = rows >= 0
        parts.add(code[found], self.instrument_hashes[rows[found]])


def _component_hashes(rows: BookRows, book: Book) -> np.ndarray:
    """One 64-bit hash per collateral component, of the rows listed in the module's
    docstring (each row mixed and summed: order-free)."""
    n = len(book.accounts)
    comp = rows.component
    party = np.concatenate([rows.owner, rows.carrier])
    at = np.tile(comp, 2)
    codes = [comp, at[party >= 0]]
    hashes = [rows.entity_hashes[:n], rows.entity_hashes[party[party >= 0]]]
    # Every position of its accounts, with its instrument and underlying (a rule on a lot
    # reads its pledging account's equity and holdings).
    mine = (rows.held_account >= 0) & (rows.held_account < n)
    position_comp = comp[rows.held_account[mine]]
    codes.append(position_comp)
    hashes.append(rows.position_hashes[mine])
    instrument = rows.held_instrument[mine]
    under = np.where(instrument >= 0, rows.underlying[np.maximum(instrument, 0)], -1)
    for inst in (instrument, under):
        codes.append(position_comp[inst >= 0])
        hashes.append(rows.instrument_hashes[inst[inst >= 0]])
    lots = book.collateral
    holder = _codes(lots["account_id"], rows.entity_ids)
    pledgee = _codes(lots["pledged_to"], rows.entity_ids)
    account = np.where((holder >= 0) & (holder < n), holder, pledgee)
    kept = (account >= 0) & (account < n)
    lot_comp = comp[account[kept]]
    asset = _codes(lots["asset"], rows.instrument_ids)[kept]
    codes += [lot_comp, lot_comp[asset >= 0]]
    hashes += [rows.lot_hashes[kept], rows.instrument_hashes[asset[asset >= 0]]]
    size = int(comp.max(initial=-1)) + 1
    out = _summed(np.concatenate(codes), np.concatenate(hashes), size)
    # Relations touching the component's accounts and parties, with the rows at both ends
    # (a rule on a lot reads its pledging account's carrier: `carrier member_of dco`):
    # summed once per account or party, added per (component, account or party).
    entity = np.concatenate([np.arange(n, dtype=np.int64), party[party >= 0]])
    with np.errstate(over="ignore"):
        np.add.at(out, np.concatenate([comp, at[party >= 0]]), _relations_of(rows)[entity])
    return out


def _combined(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """One code per distinct (first, second) pair of codes, from 0."""
    width = np.int64(max(int(second.max(initial=-1)) + 2, 1))
    return np.asarray(pd.factorize((first + 1) * width + (second + 1))[0], dtype=np.int64)


def _relations_of(rows: BookRows) -> np.ndarray:
    """Per account or party, the summed mixed hashes of the relation rows touching it (once
    per end it is) and of the rows at both ends of each."""
    codes, hashes = [], []
    for end in _ENDS:
        (row,) = np.nonzero(rows.relation_ends[end] >= 0)
        near = rows.relation_ends[end][row]
        codes.append(near)
        hashes.append(rows.relation_hashes[row])
        for far in _ENDS:
            other = rows.relation_ends[far][row]
            codes.append(near[other >= 0])
            hashes.append(rows.entity_hashes[other[other >= 0]])
    return _summed(np.concatenate(codes), np.concatenate(hashes), len(rows.entity_ids))


def _summed(codes: np.ndarray, hashes: np.ndarray, size: int) -> np.ndarray:
    """Per code 0..size-1, the sum of its rows' mixed hashes (0 where it has none)."""
    out = np.zeros(size, dtype=_U64)
    with np.errstate(over="ignore"):
        np.add.at(out, codes, _mix(np.asarray(hashes, dtype=_U64), _LANE))
    return out


class _Parts:
    """The (set code, row hash) pairs a book's rows contribute, gathered table by table."""

    def __init__(self, sets: pd.Index) -> None:
        self.sets = sets
        self.codes: list[np.ndarray] = [np.arange(len(sets), dtype=np.int64)]
        self.hashes = [_rows(pd.DataFrame({"id": sets.to_numpy()}), "margin_set")]

    def add(self, codes: np.ndarray, hashes: np.ndarray) -> None:
        self.codes.append(np.asarray(codes, dtype=np.int64))
        self.hashes.append(np.asarray(hashes, dtype=_U64))

    def keyed(self, codes: np.ndarray, table: _Keyed, keys: np.ndarray) -> None:
        """The rows of ``table`` whose key is each of ``keys``, for the set code beside it."""
        which, hashes = table.rows_of(keys)
        self.add(codes[which], hashes)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        code = np.concatenate(self.codes)
        keep = code >= 0
        return code[keep], np.concatenate(self.hashes)[keep]


def _entities(frames: Frames, rows: BookRows, sets: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Each (entity code, set code) once: the set's accounts, and their owners and carriers."""
    members = frames["sets"]
    code = _codes(members["margin_set_id"], sets)
    account = _codes(members["account_id"], rows.entity_ids)
    row = np.where(account >= 0, account, 0)  # an account's row: its code among entities
    known = account >= 0
    owner = np.where(known, rows.owner[row], -1)
    carrier = np.where(known, rows.carrier[row], -1)
    entity = np.concatenate([account, owner, carrier])
    codes = np.tile(code, 3)
    keep = (entity >= 0) & (codes >= 0)
    width = np.int64(len(sets) + 1)
    pairs = np.unique(entity[keep] * width + codes[keep])
    return pairs // width, pairs % width


def _people(parts: _Parts, frames: Frames, rows: BookRows) -> None:
    """Accounts, parties and relations: by the set's accounts, owners and carriers (the
    party at the far end of each relation is in the accounts' collateral component)."""
    entity, code = _entities(frames, rows, parts.sets)
    parts.add(code, rows.entity_hashes[entity])  # its account or party row
    for end in _ENDS:
        parts.keyed(code, rows.relations[end], entity)


def _account_groups(parts: _Parts, frames: Frames, rows: BookRows) -> None:
    """Per set, once per group its accounts fall in, the group's hash: each account's
    collateral component (every position of its accounts among its rows), and its owner's
    accounts at its carrier (``account.owner_regimes`` reads their rows)."""
    members = frames["sets"][["margin_set_id", "account_id"]].drop_duplicates()
    code = _codes(members["margin_set_id"], parts.sets)
    account = _codes(members["account_id"], rows.entity_ids)
    known = (code >= 0) & (account >= 0) & (account < len(rows.component))
    code, account = code[known], account[known]
    for group, hashes in (
        (rows.component, rows.component_hashes),
        (rows.siblings, rows.sibling_hashes),
    ):
        width = np.int64(len(hashes) + 1)
        pairs = np.unique(code * width + group[account])
        parts.add(pairs // width, hashes[pairs % width])


def _holdings(parts: _Parts, frames: Frames, rows: BookRows) -> None:
    """Positions with their instruments and underlyings; lots with their assets."""
    held = frames["positions"]
    code = _codes(held["margin_set_id"], parts.sets)
    account = _codes(held["account_id"], rows.entity_ids)
    instrument = _codes(held["instrument_id"], rows.instrument_ids)
    parts.keyed(code, rows.positions, rows.pair(account, instrument))
    rows.instruments(parts, code, instrument)
    under = np.where(instrument >= 0, rows.underlying[np.maximum(instrument, 0)], -1)
    rows.instruments(parts, code, under)
    lots = frames["lots"]
    lot_code = _codes(lots["margin_set_id"], parts.sets)
    lot = _codes(lots["lot_id"], rows.lot_ids)
    found = lot >= 0
    parts.add(lot_code[found], rows.lot_hashes[lot[found]])
    rows.instruments(parts, lot_code, _codes(lots["asset"], rows.instrument_ids))


def set_input_hashes(
    frames: Frames, set_ids: pd.Series, book: Book, rows: BookRows | None = None
) -> pd.Series:
    """The input hash of each margin set an evaluation decided (``set_ids``, the margin set
    ids of its decisions; ``frames``, its trace frames): 32 hex digits, by margin set id.
    ``rows``: the book's :class:`BookRows`, when already made (for another rulebook).

    Equal hashes mean the set's input rows (listed in the module's docstring) are equal.
    """
    rows = rows if rows is not None else BookRows(book)
    sets = pd.Index(as_text(set_ids).to_numpy())
    parts = _Parts(sets)
    _people(parts, frames, rows)
    _holdings(parts, frames, rows)
    _account_groups(parts, frames, rows)
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
