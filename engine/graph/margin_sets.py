"""Margin sets: which accounts are margined together.

A rulebook says which pairs of accounts *may* be margined together (``may_merge``: pairs
with a reason, e.g. "same owner at one bd_fcm carrier, both eligible") and which merges a
segregation constraint *forbids* (``forbidden``: pairs, or a vectorized predicate over the
candidate pairs, e.g. "different owners", 17 CFR 1.22).

Semantics, in order:

1. Candidate edges are the ``may_merge`` pairs, unordered, self-pairs and repeats dropped
   (the first reason, in sorted order, is kept).
2. Every candidate edge the ``forbidden`` pairs or predicate hit is **dropped before
   components are taken**; the dropped edges are kept in ``MarginSets.dropped`` with the
   reason that forbade them, for the trace.
3. The margin sets are the connected components of the remaining edges over all accounts
   (an account with no edge is a set of its own).
4. A forbidden pair can still end up in one set through other edges (A–B and B–C allowed,
   A–C forbidden). Such pairs are reported in ``MarginSets.conflicts``; they never happen
   when the constraint is an equivalence (same owner, same carrier), which is what the
   shipped rulebooks use.

Each set's id is ``ms:<smallest account id in the set>``, so ids are deterministic and
independent of row order. Components are found with scipy's sparse connected components,
so forming sets over 100k accounts takes milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from marginlex.engine.book.columns import isin

SET_PREFIX = "ms:"
PAIR_COLUMNS = ["account_a", "account_b", "reason"]
Forbidden = pd.DataFrame | Callable[[pd.DataFrame], pd.Series] | None


class MarginSets(BaseModel):
    """The result of :func:`form_margin_sets`.

    Attributes:
        membership: indexed by account_id; ``margin_set_id`` (str), ``set_size`` (int64).
        edges: the edges that joined each set: ``margin_set_id``, ``account_a``,
            ``account_b`` (``account_a < account_b``), ``reason`` (str).
        dropped: candidate edges a constraint forbade: ``account_a``, ``account_b``,
            ``reason``, ``forbidden_by`` (str).
        conflicts: forbidden pairs that ended in one set anyway: ``margin_set_id``,
            ``account_a``, ``account_b``, ``forbidden_by``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    membership: pd.DataFrame
    edges: pd.DataFrame
    dropped: pd.DataFrame
    conflicts: pd.DataFrame

    def members(self, margin_set_id: str) -> list[str]:
        """The account ids of one set, sorted (for traces)."""
        m = self.membership
        return sorted(m.index[m["margin_set_id"] == margin_set_id].tolist())

    def set_edges(self, margin_set_id: str) -> pd.DataFrame:
        """The edges that joined one set (for traces)."""
        return self.edges[self.edges["margin_set_id"] == margin_set_id].reset_index(drop=True)


def _normalize(pairs: pd.DataFrame, known: pd.Index, reason_col: str = "reason") -> pd.DataFrame:
    """Unordered pairs (a < b) between known accounts, one row per pair, sorted."""
    a = pairs["account_a"].astype("str")
    b = pairs["account_b"].astype("str")
    lo, hi = a.where(a <= b, b), b.where(a <= b, a)
    out = pd.DataFrame(
        {
            "account_a": lo.to_numpy(),
            "account_b": hi.to_numpy(),
            "reason": pairs[reason_col].astype("str").to_numpy(),
        }
    )
    unknown = ~isin(out["account_a"], known) | ~isin(out["account_b"], known)
    if unknown.any():
        bad = out[unknown].iloc[0]
        raise ValueError(
            f"pair ({bad['account_a']}, {bad['account_b']}) names an account "
            "that is not among the accounts given"
        )
    out = out[out["account_a"] != out["account_b"]]
    out = out.sort_values(PAIR_COLUMNS, kind="stable")
    return out.drop_duplicates(["account_a", "account_b"]).reset_index(drop=True)


def _forbidden_pairs(forbidden: pd.DataFrame) -> pd.DataFrame:
    """Forbidden pairs, unordered, as ``account_a``, ``account_b``, ``forbidden_by``."""
    a, b = forbidden["account_a"].astype("str"), forbidden["account_b"].astype("str")
    return pd.DataFrame(
        {
            "account_a": a.where(a <= b, b).to_numpy(),
            "account_b": b.where(a <= b, a).to_numpy(),
            "forbidden_by": forbidden["reason"].astype("str").to_numpy(),
        }
    ).drop_duplicates(["account_a", "account_b"])


def _forbidden_mask(candidates: pd.DataFrame, forbidden: Forbidden) -> tuple[pd.Series, pd.Series]:
    """Which candidate edges are forbidden, and by what (reason text)."""
    if forbidden is None:
        return (
            pd.Series(False, index=candidates.index),
            pd.Series("", index=candidates.index, dtype="str"),
        )
    if callable(forbidden):
        hit = pd.Series(np.asarray(forbidden(candidates), dtype=bool), index=candidates.index)
        name = getattr(forbidden, "__name__", "forbidden")
        return hit, pd.Series(name, index=candidates.index, dtype="str")
    joined = candidates.merge(
        _forbidden_pairs(forbidden), on=["account_a", "account_b"], how="left"
    )
    why = joined["forbidden_by"].set_axis(candidates.index)
    return why.notna(), why.fillna("").astype("str")


def form_margin_sets(
    accounts: pd.Index | pd.Series,
    may_merge: pd.DataFrame,
    forbidden: Forbidden = None,
) -> MarginSets:
    """Form margin sets: connected components of allowed merges minus forbidden ones.

    Args:
        accounts: every account id to place in a set.
        may_merge: pairs ``account_a``, ``account_b``, ``reason`` that may be merged.
        forbidden: pairs ``account_a``, ``account_b``, ``reason`` that must not be merged,
            or a function from the candidate pair frame to a bool mask (vectorized; its
            ``__name__`` is recorded as the reason), or None.

    Returns:
        The sets, the edges that joined them, the dropped edges and any conflicts.

    >>> ids = pd.Index(["A", "B", "C"])
    >>> pairs = pd.DataFrame({"account_a": ["A"], "account_b": ["B"], "reason": ["same owner"]})
    >>> form_margin_sets(ids, pairs).membership["margin_set_id"].tolist()
    ['ms:A', 'ms:A', 'ms:C']
    """
    ids = pd.Index(pd.unique(pd.Index(accounts).astype("str"))).sort_values()
    candidates = _normalize(may_merge, ids)
    hit, why = _forbidden_mask(candidates, forbidden)
    kept = candidates[~hit].reset_index(drop=True)
    dropped = candidates[hit].assign(forbidden_by=why[hit]).reset_index(drop=True)
    labels = _components(ids, kept)
    set_of = _set_ids(ids, labels)
    membership = pd.DataFrame({"margin_set_id": set_of}, index=ids.rename("account_id"))
    membership["set_size"] = (
        membership.groupby("margin_set_id")["margin_set_id"].transform("size").astype("int64")
    )
    edges = kept.assign(margin_set_id=kept["account_a"].map(membership["margin_set_id"]))
    edges = edges[["margin_set_id", *PAIR_COLUMNS]]
    conflicts = _conflicts(membership, dropped, forbidden)
    return MarginSets(membership=membership, edges=edges, dropped=dropped, conflicts=conflicts)


def _components(ids: pd.Index, kept: pd.DataFrame) -> np.ndarray:
    n = len(ids)
    a = ids.get_indexer(pd.Index(kept["account_a"]))
    b = ids.get_indexer(pd.Index(kept["account_b"]))
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels)


def _set_ids(ids: pd.Index, labels: np.ndarray) -> np.ndarray:
    """``ms:<smallest id>`` per component (ids are sorted, so the first seen is smallest)."""
    first = pd.Series(ids.to_numpy(), dtype="str").groupby(labels, sort=False).transform("first")
    return (SET_PREFIX + first).to_numpy()


def _conflicts(
    membership: pd.DataFrame, dropped: pd.DataFrame, forbidden: Forbidden
) -> pd.DataFrame:
    """Forbidden pairs whose two accounts still ended in one set through other edges."""
    cols = ["margin_set_id", "account_a", "account_b", "forbidden_by"]
    if forbidden is None:
        return pd.DataFrame({c: pd.Series([], dtype="str") for c in cols})
    # A predicate can only be asked of candidate pairs; a pair frame is checked whole.
    pairs = dropped if callable(forbidden) else _forbidden_pairs(forbidden)
    sets = membership["margin_set_id"]
    set_a, set_b = pairs["account_a"].map(sets), pairs["account_b"].map(sets)
    same = set_a.notna() & (set_a == set_b)
    out = pairs[same].assign(margin_set_id=set_a[same])
    return out[cols].sort_values(cols[1:3]).reset_index(drop=True)
