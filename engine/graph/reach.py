"""Where each collateral lot reaches: its pledge, then every re-pledge after it.

A lot margins its own account unless ``pledged_to`` names another (hop 1). An account
``rehypothecated_to`` another in relations.csv re-pledges the collateral it received (lots
pledged or re-pledged to it; never its own lots, which a ``pledged_to`` would move), so
such a lot goes on to that account (one more hop), and so on, transitively: a customer's
lot pledged to an affiliate's account that re-pledges it to a lender's account that
re-pledges it to the house account reaches the house account in three hops.

The walk is breadth-first over hops, one frame merge per hop (never a Python loop per lot):
each (lot, account) pair is reached once, by its fewest hops (ties: the path that sorts
first), so a cycle ends where it closes and a path visits an account at most once. The
walk is therefore bounded by the number of accounts. A lot re-pledged back to its own
account passes through it (and on, if that account re-pledges what it received) but is
not reported as reaching it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from marginlex.engine.book.columns import isin
from marginlex.engine.book.ids import PATH_SEPARATOR

REACH_COLUMNS = ("lot_id", "account_id", "reached_account_id", "hops", "path")


def _pledged(lots: pd.DataFrame) -> pd.DataFrame:
    """Hop 1: every pledged lot at the account it is pledged to, with its flow path."""
    pledged = lots[lots["is_pledged"].to_numpy(dtype=bool)]
    return pd.DataFrame(
        {
            "lot_id": pledged.index.astype("str"),
            "account_id": pledged["account_id"].astype("str").to_numpy(),
            "reached_account_id": pledged["margined_account_id"].astype("str").to_numpy(),
            "hops": np.ones(len(pledged), dtype=np.int64),
            "path": pledged["flow_path"].astype("str").to_numpy(),
        }
    )


def _next_hop(
    frontier: pd.DataFrame, edges: pd.DataFrame, seen: np.ndarray, n: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """The accounts one re-pledge further than ``frontier`` not reached before, and the
    (lot, account) keys seen so far (``lot * n + account``, sorted)."""
    step = frontier.merge(edges, on="at", how="inner")
    step = step[~np.isin(step["lot"].to_numpy() * n + step["to"].to_numpy(), seen)]
    step = step.sort_values(["lot", "to", "path"], kind="stable")
    step = step.drop_duplicates(["lot", "to"], keep="first")
    step = step.assign(
        at=step["to"],
        reached_account_id=step["dst"],
        hops=step["hops"] + 1,
        path=step["path"] + PATH_SEPARATOR + step["dst"],
    )
    keys = step["lot"].to_numpy() * n + step["at"].to_numpy()
    return step[[*REACH_COLUMNS, "lot", "at"]].reset_index(drop=True), np.union1d(seen, keys)


def lot_reach(lots: pd.DataFrame, repledges: pd.DataFrame) -> pd.DataFrame:
    """Every account each lot reaches beyond its own, with the hops and the whole path.

    Args:
        lots: :func:`marginlex.engine.graph.lots.lot_columns` (indexed by ``lot_id``).
        repledges: ``src``, ``dst`` (str): account ``src`` is ``rehypothecated_to`` ``dst``.

    Returns:
        One row per (lot, reached account), sorted by ``lot_id``, ``hops``, ``path``:
        ``lot_id``, ``account_id`` (the lot's own), ``reached_account_id``, ``hops``
        (int64: 1 for a direct pledge), ``path`` (ids joined by `` -> ``, the lot after
        its own account, e.g. ``A13 -> L22 -> A14 -> A15 -> H_BD1``).

    >>> lots = pd.DataFrame({"account_id": ["A"], "margined_account_id": ["B"],
    ...     "is_pledged": [True], "flow_path": ["A -> L1 -> B"]}, index=["L1"])
    >>> cycle = pd.DataFrame({"src": ["B", "C"], "dst": ["C", "B"]})
    >>> lot_reach(lots, cycle)[["reached_account_id", "hops", "path"]].values.tolist()
    [['B', 1, 'A -> L1 -> B'], ['C', 2, 'A -> L1 -> B -> C']]
    """
    start = _pledged(lots)
    pairs = repledges[["src", "dst"]].astype("str").drop_duplicates()
    names = pd.Index(pd.concat([pairs["src"], pairs["dst"], start["reached_account_id"]]))
    names = names.unique()
    n = max(len(names), 1)
    edges = pd.DataFrame(
        {
            "at": names.get_indexer(pairs["src"]),
            "to": names.get_indexer(pairs["dst"]),
            "dst": pairs["dst"].to_numpy(),
        }
    )
    start = start.assign(
        lot=np.arange(len(start), dtype=np.int64), at=names.get_indexer(start["reached_account_id"])
    )
    seen = np.sort(start["lot"].to_numpy() * n + start["at"].to_numpy())
    reached, frontier = [start], start[isin(start["at"], edges["at"])]
    for _hop in range(n):  # a path visits each account once: at most n hops, cycles or not
        if not len(frontier):
            break
        frontier, seen = _next_hop(frontier, edges, seen, n)
        reached.append(frontier)
    out = pd.concat(reached, ignore_index=True)[list(REACH_COLUMNS)]
    out = out[out["reached_account_id"] != out["account_id"]]  # back home: not a flow
    out = out.sort_values(["lot_id", "hops", "path"], kind="stable").reset_index(drop=True)
    return out.astype({"hops": "int64"})
