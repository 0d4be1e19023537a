"""The components of the account graph: accounts that must be decided together.

Accounts are joined by one owner (every shipped set rule merges "by owner and carrier"), a
collateral lot (the account holding it and the account it is pledged to) and a relation
between two accounts (``rehypothecated_to``). ``--dask`` and ``run --since`` cut a book by
them (:mod:`marginlex.engine.distributed.partition`); without owners they are the accounts a
lot's path can reach, which a set's input hash covers (:mod:`.set_inputs`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

IntArray = np.ndarray


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
        (account_rows(ids, lots["account_id"]), account_rows(ids, lots["pledged_to"])),
        (account_rows(ids, rel["src"]), account_rows(ids, rel["dst"])),
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


def account_rows(ids: pd.Index, column: pd.Series) -> IntArray:
    """The account row of each id in ``column`` (-1: empty or not an account)."""
    return np.asarray(ids.get_indexer(pd.Index(column.astype("str").where(column.notna(), ""))))
