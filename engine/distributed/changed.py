"""Which accounts ``run --since`` decides again, and the book cut down to them.

The book an earlier run recorded and today's are compared table by table, as row sets:
every row is hashed (``pandas.util.hash_pandas_object``) and a row has changed when its hash
occurs a different number of times in the two tables (row order never matters; a duplicated
row is a change; a table whose columns differ has changed in every row). A changed row, in
either book, marks the accounts whose decisions can read it:

- ``accounts``: the account;
- ``parties``: every account the party owns or carries, and every account owned or carried
  by a party at the other end of a relation with it (a rule may read a party at the far
  end of a relation: ``carrier member_of dco`` reads the clearing house's row);
- ``positions``: the account holding the position;
- ``collateral``: the account holding the lot and the account it is pledged to;
- ``instruments``: every account holding a position in the instrument or in an instrument
  whose underlying it is, and the holder and pledgee of every lot whose asset (or whose
  ``instrument_id``, a lot of stock) names it;
- ``relations``: every account (a relation between parties can reach a margin set over
  several hops, and relations change rarely: the whole book is decided again).

A margin set never spans two components of the account graph
(:func:`~marginlex.engine.distributed.partition.account_components`: one owner, a pledged
lot, a relation between accounts), and a component whose accounts' rows are all unchanged
and that no changed account left is decided exactly as before. So the accounts to decide
again are today's components holding an account that changed or that shared an earlier
component with one (an account that moved to another owner leaves its former set-mates
behind: they are decided again too). Everything is whole-column: no Python loop over sets,
accounts or rows.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from marginlex.engine.book.load import Book
from marginlex.engine.graph.components import components_of

Frames = Mapping[str, pd.DataFrame]
"""A book's contract frames by file stem (``accounts``, ``positions``, ...), read alike."""

Masks = tuple[np.ndarray, np.ndarray]
"""The rows of one table that changed: in the earlier book, in today's."""


def _counts(values: np.ndarray, unique: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """How often each of ``values`` occurs in a table whose row hashes are ``unique`` with
    ``counts`` (``np.unique`` of them)."""
    if not len(unique):
        return np.zeros(len(values), np.int64)
    at = np.searchsorted(unique, values).clip(0, len(unique) - 1)
    return np.where(unique[at] == values, counts[at], 0)


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """Each row's 64-bit hash (every column, not the index)."""
    return np.asarray(pd.util.hash_pandas_object(frame, index=False).to_numpy(), np.uint64)


def row_changes(before: pd.DataFrame, after: pd.DataFrame) -> Masks:
    """The rows of ``before`` and of ``after`` whose hash occurs a different number of times
    in the two (every row when their columns differ).

    >>> a = pd.DataFrame({"k": ["x", "y", "y"]})
    >>> [m.tolist() for m in row_changes(a, pd.DataFrame({"k": ["y", "z", "x"]}))]
    [[False, True, True], [True, True, False]]
    """
    if list(before.columns) != list(after.columns):
        return np.ones(len(before), bool), np.ones(len(after), bool)
    hb, ha = row_hashes(before), row_hashes(after)
    ub, cb = np.unique(hb, return_counts=True)
    ua, ca = np.unique(ha, return_counts=True)
    return (
        _counts(hb, ua, ca) != _counts(hb, ub, cb),
        _counts(ha, ub, cb) != _counts(ha, ua, ca),
    )


def _text(column: pd.Series) -> pd.Series:
    return column.dropna().astype("str")


def _ids(frame: pd.DataFrame, mask: np.ndarray, *columns: str) -> list[pd.Series]:
    return [_text(frame.loc[mask, c]) for c in columns]


def _both(books: tuple[Frames, Frames], masks: Masks, table: str, column: str) -> pd.Index:
    """The ids in ``column`` of ``table``'s changed rows, in either book."""
    parts = [_text(b[table].loc[m, column]) for b, m in zip(books, masks, strict=True)]
    ids: pd.Index = pd.Index(pd.concat(parts))
    return ids.unique()


def _instrument_ids(books: tuple[Frames, Frames], masks: Masks) -> tuple[pd.Index, pd.Index]:
    """Changed instrument ids, and those with every instrument whose underlying they are."""
    changed = _both(books, masks, "instruments", "instrument_id")
    derived = [
        _text(b["instruments"].loc[b["instruments"]["underlying"].isin(changed), "instrument_id"])
        for b in books
    ]
    return changed, changed.append(pd.Index(pd.concat(derived))).unique()


def changed_accounts(before: Frames, after: Frames) -> pd.Index | None:
    """The ids of the accounts (of either book) that a changed row marks, as listed in the
    module's docstring; None when a relation changed (every account)."""
    masks = {name: row_changes(before[name], after[name]) for name in before}
    if any(m.any() for m in masks["relations"]):
        return None
    books = (before, after)
    parties = _both(books, masks["parties"], "parties", "party_id")
    parties = parties.append(far_ends(parties, after["relations"])).unique()
    assets, held = _instrument_ids(books, masks["instruments"])
    found: list[pd.Series] = []
    for side, book in enumerate(books):  # the two books
        acc, pos, lots = book["accounts"], book["positions"], book["collateral"]
        by_party = acc["owner_id"].isin(parties) | acc["carrier_id"].isin(parties)
        found += _ids(acc, masks["accounts"][side] | by_party.to_numpy(), "account_id")
        found += _ids(pos, masks["positions"][side] | pos["instrument_id"].isin(held), "account_id")
        lot_rows = masks["collateral"][side] | lots["asset"].isin(assets).to_numpy()
        if "instrument_id" in lots.columns:  # a stock lot's cover moves with its stock's price
            lot_rows |= lots["instrument_id"].isin(held).to_numpy()
        found += _ids(lots, lot_rows, "account_id", "pledged_to")
    ids: pd.Index = pd.Index(pd.concat(found, ignore_index=True))
    return ids.unique()


def far_ends(parties: pd.Index, relations: pd.DataFrame) -> pd.Index:
    """The other end of every relation one of ``parties`` is an end of (the two books'
    relations are the same when this is asked: a changed relation decides every account).

    >>> rel = pd.DataFrame({"src": ["BD", "FCM"], "dst": ["CME", "CME"]})
    >>> sorted(far_ends(pd.Index(["CME"]), rel))
    ['BD', 'FCM']
    """
    src, dst = relations["src"], relations["dst"]
    ends = pd.concat([_text(dst[src.isin(parties)]), _text(src[dst.isin(parties)])])
    found: pd.Index = pd.Index(ends).unique()
    return found


def _components(book: Frames) -> tuple[pd.Index, np.ndarray]:
    """Each account's id and component label."""
    ids = pd.Index(book["accounts"]["account_id"].astype("str").to_numpy())
    return ids, components_of(book["accounts"], book["collateral"], book["relations"])


def accounts_to_decide(before: Frames, after: Frames) -> pd.Index | None:
    """Today's accounts whose margin sets must be decided again (their components whole);
    None: every account.

    >>> from marginlex.engine.book.load import load_demo_book
    >>> frames = load_demo_book().contract_frames()
    >>> len(accounts_to_decide(frames, frames))
    0
    """
    changed = changed_accounts(before, after)
    if changed is None:
        return None
    old_ids, old = _components(before)
    dirty = changed.append(old_ids[np.isin(old, old[old_ids.isin(changed)])])
    new_ids, new = _components(after)
    return new_ids[np.isin(new, new[new_ids.isin(dirty)])]


def cut_book(book: Book, accounts: pd.Index) -> Book:
    """The book cut to ``accounts``: their account rows, positions and lots (by the lot's
    account); the parties that own or carry them or appear in a relation; every relation;
    the instruments their positions and lots name, with the underlyings those reach. Its
    name, date and sha256 are the whole book's, so its decisions and traces name the book
    that was run."""
    acc = _take(book.accounts, book.accounts["account_id"], accounts)
    positions = _take(book.positions, book.positions["account_id"], accounts)
    lots = _take(book.collateral, book.collateral["account_id"], accounts)
    rel = book.relations
    parties = pd.Index(pd.concat([_text(acc["owner_id"]), _text(acc["carrier_id"])]))
    parties = parties.append(pd.Index(pd.concat([_text(rel["src"]), _text(rel["dst"])])))
    named = pd.Index(pd.concat([_text(positions["instrument_id"]), _text(lots["asset"])]))
    if "instrument_id" in lots.columns:  # the stock a lot of stock is (it covers calls)
        named = named.append(pd.Index(_text(lots["instrument_id"].dropna())))
    update = {
        "accounts": acc,
        "positions": positions,
        "collateral": lots,
        "parties": _take(book.parties, book.parties["party_id"], parties),
        "instruments": _take(
            book.instruments, book.instruments["instrument_id"], _reach(book, named)
        ),
    }
    return book.model_copy(update=update)


def _reach(book: Book, named: pd.Index) -> pd.Index:
    """``named`` with the underlyings they reach (an option on a future on a note: both)."""
    ins = book.instruments
    ids, under = ins["instrument_id"].astype("str"), ins["underlying"]
    reached = named.unique()
    while True:  # one step per level of underlying: two or three
        more = reached.union(pd.Index(_text(under[ids.isin(reached).to_numpy()])))
        if len(more) == len(reached):
            return reached
        reached = more


def _take(frame: pd.DataFrame, key: pd.Series, accounts: pd.Index) -> pd.DataFrame:
    return frame[key.astype("str").isin(accounts).to_numpy()].reset_index(drop=True)
