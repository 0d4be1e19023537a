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

from marginlex.engine.book.load import Book
from marginlex.engine.graph.components import account_rows, components_of

IntArray = np.ndarray


def account_components(book: Book) -> IntArray:
    """A component label per account row of ``book``: accounts that must be decided together
    share a label (labels are 0..n-1 in order of each component's first account)."""
    return components_of(book.accounts, book.collateral, book.relations)


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
    pos_part = part_of_account[account_rows(ids, book.positions["account_id"])]
    lot_part = part_of_account[account_rows(ids, book.collateral["account_id"])]
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
