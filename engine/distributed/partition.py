"""Cut a book into partitions that no margin set spans.

Accounts are joined when a rule could put them in one margin set or make one's result
depend on the other's rows: one owner (every shipped set rule merges "by owner and
carrier"), a collateral lot (the account holding it and the account it is pledged to), and a
relation between two accounts (``rehypothecated_to``). The connected components of those
links are packed into partitions, largest first, each into the lightest partition so far;
a partition gets the rows of its accounts (accounts, positions, collateral) and every party,
relation and instrument (small tables the graph's columns read whole). A partition keeps the
whole book's name and sha256, so its decisions and traces name the book that was run.

>>> from marginlex.engine.book.load import load_demo_book
>>> book = load_demo_book()
>>> parts = split_book(book, 3)
>>> sum(len(p.accounts) for p in parts) == len(book.accounts)
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from marginlex.engine.book.load import Book

IntArray = np.ndarray


def account_components(book: Book) -> IntArray:
    """A component label per account row of ``book``: accounts that must be decided together
    share a label (labels are 0..n-1 in order of each component's first account)."""
    return components_of(book.accounts, book.collateral, book.relations)


def components_of(
    acc: pd.DataFrame, lots: pd.DataFrame, rel: pd.DataFrame, *, by_owner: bool = True
) -> IntArray:
    """:func:`account_components` from a book's accounts, collateral and relations frames
    (the columns it reads: ``account_id``, ``owner_id``; ``account_id``, ``pledged_to``;
    ``src``, ``dst``), so that a recorded book read back raw is cut the same way. Without
    ``by_owner``, only lots and relations join accounts (the accounts a lot's path can
    reach: what segregation and a pledged lot's value read)."""
    ids = pd.Index(acc["account_id"].astype("str").to_numpy())
    pairs = [
        (_rows(ids, lots["account_id"]), _rows(ids, lots["pledged_to"])),
        (_rows(ids, rel["src"]), _rows(ids, rel["dst"])),
    ]
    if by_owner:
        owner_codes = pd.factorize(acc["owner_id"].astype("str"))[0]
        first_of_owner = np.full(owner_codes.max(initial=-1) + 1, -1, dtype=np.int64)
        first_of_owner[owner_codes[::-1]] = np.arange(len(acc))[::-1]
        pairs.append((np.arange(len(acc)), first_of_owner[owner_codes]))
    src = np.concatenate([a for a, _ in pairs])
    dst = np.concatenate([b for _, b in pairs])
    keep = (src >= 0) & (dst >= 0)
    n = len(ids)
    graph = coo_matrix((np.ones(int(keep.sum())), (src[keep], dst[keep])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(pd.factorize(labels)[0], dtype=np.int64)


def _rows(ids: pd.Index, column: pd.Series) -> IntArray:
    """The account row of each id in ``column`` (-1: empty or not an account)."""
    return np.asarray(ids.get_indexer(pd.Index(column.astype("str").where(column.notna(), ""))))


def pack(labels: IntArray, k: int) -> IntArray:
    """A partition (0..k-1) per account: components, largest first, each into the partition
    with the fewest accounts so far (ties: the lowest number). Deterministic.

    >>> pack(np.array([0, 0, 0, 1, 2, 2]), 2).tolist()
    [0, 0, 0, 1, 1, 1]
    """
    if k < 1:
        raise ValueError(f"a book is cut into at least 1 partition, not {k}")
    sizes = np.bincount(labels)
    order = np.lexsort((np.arange(len(sizes)), -sizes))
    load = np.zeros(k, dtype=np.int64)
    target = np.empty(len(sizes), dtype=np.int64)
    for component in order.tolist():  # one step per component: packing is sequential
        part = int(np.argmin(load))
        target[component] = part
        load[part] += sizes[component]
    return np.asarray(target[labels], dtype=np.int64)


def split_book(book: Book, k: int) -> list[Book]:
    """The book cut into at most ``k`` non-empty partitions (:func:`pack`), each a
    :class:`Book` with the whole book's name, date, currency and sha256; a book without
    accounts is one partition, itself (a cluster run of it decides nothing, as one process)."""
    if book.accounts.empty:
        return [book]
    part_of_account = pack(account_components(book), k)
    ids = pd.Index(book.accounts["account_id"].astype("str").to_numpy())
    pos_part = part_of_account[_rows(ids, book.positions["account_id"])]
    lot_part = part_of_account[_rows(ids, book.collateral["account_id"])]
    books = []
    for part in range(k):  # a handful of partitions
        accounts = part_of_account == part
        if not accounts.any():
            continue
        update = {
            "accounts": _take(book.accounts, accounts),
            "positions": _take(book.positions, pos_part == part),
            "collateral": _take(book.collateral, lot_part == part),
        }
        books.append(book.model_copy(update=update))
    return books


def _take(frame: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    return frame[mask].reset_index(drop=True)
