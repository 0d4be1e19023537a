"""The account graph: parties, accounts and collateral lots, and the columns rules join on.

Nodes are parties, accounts and lots (ids are unique across the three; validation checks
it). Edges, each keyed by its :class:`EdgeKind`:

- ``owns``: owner party → account; ``carries``: carrier party → account;
- ``member_of``, ``affiliate_of``, ``guarantees``, ``rehypothecated_to``: as in
  relations.csv (src → dst; ``rehypothecated_to`` goes from account to account);
- ``holds``: account → lot (the lot's own account);
- ``pledged_to``: lot → the account it is pledged to (only when that is another account).

Rules never walk the graph per account. Everything they ask is computed once, in bulk,
as columns: :meth:`AccountGraph.account_columns` (one row per account),
:meth:`AccountGraph.lot_columns` (one row per lot) and :meth:`AccountGraph.lot_reach` (one
row per account a lot reaches through its pledge and the re-pledges after it). A graph
predicate that has no ready column is asked as a column too, with
:meth:`AccountGraph.relation_mask` (does each id in a column have a given relation to a
party of a given kind?) or :meth:`AccountGraph.pair_related` (are two columns of ids
related?). The networkx graph itself (:attr:`AccountGraph.nx`) is built on first use, for
traces (:meth:`path`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from functools import cached_property

import networkx as nx
import numpy as np
import pandas as pd

from marginlex.dsl.model.domain import PartyKind, Relation
from marginlex.engine.book.columns import isin, lookup
from marginlex.engine.book.load import Book
from marginlex.engine.graph.accounts import account_columns as _account_columns
from marginlex.engine.graph.lots import lot_columns as _lot_columns
from marginlex.engine.graph.reach import lot_reach as _lot_reach

ARROW = " -> "


STACKED_TAG = r"^~s\d+~"
"""The prefix of a stacked book's ids (:mod:`marginlex.engine.stress.batch`): a party a
rulebook names (``carrier member_of "FICC"``) is matched without it."""


class EdgeKind(StrEnum):
    """The kinds of edge in the account graph."""

    OWNS = "owns"
    CARRIES = "carries"
    MEMBER_OF = Relation.MEMBER_OF.value
    AFFILIATE_OF = Relation.AFFILIATE_OF.value
    GUARANTEES = Relation.GUARANTEES.value
    REHYPOTHECATED_TO = Relation.REHYPOTHECATED_TO.value
    HOLDS = "holds"
    PLEDGED_TO = "pledged_to"


class NodeKind(StrEnum):
    """The kinds of node in the account graph."""

    PARTY = "party"
    ACCOUNT = "account"
    LOT = "lot"


class AccountGraph:
    """The account graph of one book and the columns derived from it.

    >>> from marginlex.engine.book.load import load_demo_book
    >>> g = AccountGraph(load_demo_book())
    >>> bool(g.account_columns().loc["A06_ECHO_XM", "carrier_member_of_dco"])
    True
    >>> g.path("A10_HOTEL_MGN", "H_BD1")
    ['A10_HOTEL_MGN', 'L15', 'H_BD1']
    """

    def __init__(
        self,
        book: Book,
        account_columns: Callable[[AccountGraph], pd.DataFrame] | None = None,
    ) -> None:
        """``account_columns`` builds :meth:`account_columns` (default: from the book; a
        stress stack tiles most of them, :mod:`marginlex.engine.stress.tiled`)."""
        self.book = book
        self._build_accounts = account_columns or _account_columns

    @cached_property
    def edges(self) -> pd.DataFrame:
        """Every edge as a frame: ``src``, ``dst`` (str), ``kind`` (categorical EdgeKind)."""
        acc, lots, rel = self.book.accounts, self.book.collateral, self.book.relations
        pledged = lots[lots["pledged_to"].notna() & (lots["pledged_to"] != lots["account_id"])]
        parts = [
            (acc["owner_id"], acc["account_id"], EdgeKind.OWNS),
            (acc["carrier_id"], acc["account_id"], EdgeKind.CARRIES),
            (lots["account_id"], lots["lot_id"], EdgeKind.HOLDS),
            (pledged["lot_id"], pledged["pledged_to"], EdgeKind.PLEDGED_TO),
        ]
        kinds = [k.value for k in EdgeKind]
        frames = [
            pd.DataFrame({"src": s, "dst": d, "kind": np.full(len(s), kinds.index(k.value))})
            for s, d, k in parts
        ]
        # Relations' kinds by code: one lookup per category, not one text per row.
        relation = rel["relation"].astype("category")
        per_category = np.array([kinds.index(str(c)) for c in relation.cat.categories] + [-1])
        frames.append(
            pd.DataFrame(
                {
                    "src": rel["src"],
                    "dst": rel["dst"],
                    "kind": per_category[relation.cat.codes.to_numpy()],
                }
            )
        )
        out = pd.concat([f.reset_index(drop=True) for f in frames], ignore_index=True)
        out["src"] = out["src"].astype("str")
        out["dst"] = out["dst"].astype("str")
        out["kind"] = pd.Categorical.from_codes(
            out["kind"].to_numpy(np.int64), dtype=pd.CategoricalDtype(kinds)
        )
        return out

    @cached_property
    def nx(self) -> nx.MultiDiGraph:  # type: ignore[type-arg]
        """The networkx multigraph (built in bulk on first use); edge keys are EdgeKind values."""
        g: nx.MultiDiGraph = nx.MultiDiGraph()  # type: ignore[type-arg]
        g.add_nodes_from(self.book.parties["party_id"].tolist(), kind=NodeKind.PARTY.value)
        g.add_nodes_from(self.book.accounts["account_id"].tolist(), kind=NodeKind.ACCOUNT.value)
        g.add_nodes_from(self.book.collateral["lot_id"].tolist(), kind=NodeKind.LOT.value)
        e = self.edges
        # (u, v, key) triples: the key is the edge kind, so owns and carries can coexist.
        triples = zip(
            e["src"].tolist(), e["dst"].tolist(), e["kind"].astype("str").tolist(), strict=True
        )
        g.add_edges_from(triples)  # type: ignore[arg-type]
        return g

    def path(self, src: str, dst: str, kinds: Iterable[EdgeKind] | None = None) -> list[str] | None:
        """The shortest directed path of node ids from ``src`` to ``dst``, or None.

        Args:
            src: a party, account or lot id.
            dst: a party, account or lot id.
            kinds: follow only these edge kinds (default: all).
        """
        g = self.nx
        if kinds is not None:
            allowed = {k.value for k in kinds}
            g = nx.subgraph_view(g, filter_edge=lambda _u, _v, key: str(key) in allowed)
        try:
            found: list[str] = nx.shortest_path(g, src, dst)
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            return None
        return found

    @cached_property
    def memberships(self) -> pd.DataFrame:
        """``member_of`` edges with the organisation's kind: firm_id, org_id, org_kind."""
        rel = self.book.relations
        m = rel.loc[rel["relation"] == Relation.MEMBER_OF.value, ["src", "dst"]]
        kinds = self.book.parties[["party_id", "kind"]]
        m = m.merge(kinds, left_on="dst", right_on="party_id", how="left")
        return pd.DataFrame(
            {"firm_id": m["src"], "org_id": m["dst"], "org_kind": m["kind"]}
        ).reset_index(drop=True)

    def relation_mask(
        self,
        ids: pd.Series,
        relation: EdgeKind | Relation,
        *,
        dst_kind: Iterable[PartyKind] | None = None,
        dst_ids: Iterable[str] | None = None,
        reverse: bool = False,
    ) -> pd.Series:
        """For each id in ``ids``: has it a ``relation`` edge to a matching node?

        The generic way to ask a graph predicate as a column, e.g. "the carrier is
        member_of a dco": ``g.relation_mask(accounts["carrier_id"], Relation.MEMBER_OF,
        dst_kind=[PartyKind.DCO])``.

        Args:
            ids: node ids (any index; the result keeps it).
            relation: the edge kind to follow.
            dst_kind: only count edges to parties of these kinds.
            dst_ids: only count edges to these nodes.
            reverse: follow edges backwards (is each id the *target* of such an edge?).
        """
        e = self.edges[self.edges["kind"] == EdgeKind(relation.value).value]
        near, far = ("dst", "src") if reverse else ("src", "dst")
        keep = pd.Series(True, index=e.index)
        if dst_kind is not None:
            parties = self.book.parties
            kind = lookup(e[far], parties["party_id"], parties["kind"].astype("str"))
            keep &= kind.isin([k.value for k in dst_kind])
        if dst_ids is not None:  # a party named in a rulebook, in a stacked book too
            named = e[far].str.replace(STACKED_TAG, "", regex=True)
            keep &= pd.Series(isin(named, pd.Series(list(dst_ids), dtype="str")), index=e.index)
        return pd.Series(isin(ids, e.loc[keep, near]), index=ids.index, dtype="bool")

    def pair_related(
        self,
        src: pd.Series,
        dst: pd.Series,
        relation: EdgeKind | Relation,
        *,
        symmetric: bool = False,
    ) -> pd.Series:
        """For each row: is there a ``relation`` edge from ``src[i]`` to ``dst[i]``?

        Args:
            src: node ids.
            dst: node ids, aligned with ``src``.
            relation: the edge kind.
            symmetric: also accept an edge from ``dst[i]`` to ``src[i]``.
        """
        e = self.edges[self.edges["kind"] == EdgeKind(relation.value).value]
        pairs = pd.MultiIndex.from_arrays([e["src"], e["dst"]])
        if symmetric:
            pairs = pairs.union(pd.MultiIndex.from_arrays([e["dst"], e["src"]]))
        asked = pd.MultiIndex.from_arrays([src.astype("str"), dst.astype("str")])
        return pd.Series(asked.isin(pairs), index=src.index, dtype="bool")

    def lot_columns(self) -> pd.DataFrame:
        """One row per lot, indexed by lot_id (see :mod:`marginlex.engine.graph.lots`)."""
        return self._lots

    @cached_property
    def _lots(self) -> pd.DataFrame:
        return _lot_columns(self.book)

    def lot_reach(self) -> pd.DataFrame:
        """Every account each lot reaches beyond its own: its pledge, then each re-pledge.

        One row per (lot, reached account) with the hops and the whole path; see
        :func:`marginlex.engine.graph.reach.lot_reach`.

        >>> from marginlex.engine.book.load import load_demo_book
        >>> reach = AccountGraph(load_demo_book()).lot_reach()
        >>> reach.loc[reach["lot_id"] == "L22", ["reached_account_id", "hops"]].values.tolist()
        [['A14_LIMA_FIN', 1], ['A15_MIKE_MGN', 2], ['H_BD1', 3]]
        """
        return self._reach

    @cached_property
    def _reach(self) -> pd.DataFrame:
        e = self.edges
        return _lot_reach(self._lots, e.loc[e["kind"] == EdgeKind.REHYPOTHECATED_TO.value])

    def account_columns(self) -> pd.DataFrame:
        """One row per account, indexed by account_id: everything rules ask of the graph.

        Columns (dtype): account_id's own ``owner_id``, ``carrier_id`` (str), ``regime``,
        ``kind``, ``origin`` (categorical); ``owner_kind``, ``owner_options_approval``
        (categorical), ``owner_ecp`` (bool); ``carrier_kind`` (categorical);
        ``carrier_member_of_clearing_agency``, ``carrier_member_of_dco`` (bool),
        ``carrier_memberships`` (str: org ids joined by ``;``, sorted, "" for none);
        ``owner_is_carrier``, ``owner_affiliate_of_carrier``, ``is_guaranteed`` (bool);
        ``owner_carrier_key`` (str ``owner@carrier``), ``owner_accounts_at_carrier``
        (int64); ``positions_market_value``, ``collateral_market_value``, ``equity``
        (float64); ``n_positions``, ``n_lots`` (int64); ``holds_unlisted_derivatives``,
        ``pledges_customer_collateral_to_house``, ``receives_customer_collateral``
        (bool). ``docs/book-format.md`` defines each.
        """
        return self._accounts

    @cached_property
    def _accounts(self) -> pd.DataFrame:
        return self._build_accounts(self)


__all__ = ["AccountGraph", "EdgeKind", "NodeKind"]
