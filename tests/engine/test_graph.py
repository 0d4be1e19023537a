"""Graph columns on a hand-made book (tests/engine/conftest.py), figures worked by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from marginlex.dsl.model.domain import PartyKind, Relation
from marginlex.engine.book.load import Book, load_demo_book
from marginlex.engine.graph.account_graph import AccountGraph, EdgeKind


@pytest.fixture(scope="module")
def graph(graph_book: Book) -> AccountGraph:
    return AccountGraph(graph_book)


def test_owner_and_carrier_columns(graph: AccountGraph) -> None:
    a = graph.account_columns()
    assert a.index.name == "account_id"
    assert list(a.index) == ["A_FUT", "A_SEC", "F_FUT", "F_PM", "H_BDF"]
    assert a.loc["A_SEC", "owner_kind"] == "individual"
    assert a.loc["A_SEC", "owner_options_approval"] == "uncovered"
    assert not a.loc["A_SEC", "owner_ecp"] and a.loc["F_PM", "owner_ecp"]
    assert a["carrier_kind"].tolist() == ["bd_fcm", "bd_fcm", "fcm", "broker_dealer", "bd_fcm"]
    assert a["carrier_member_of_clearing_agency"].tolist() == [True, True, False, True, True]
    assert a["carrier_member_of_dco"].tolist() == [True, True, True, False, True]
    assert a["carrier_memberships"].tolist() == ["CME;OCC", "CME;OCC", "CME", "OCC", "CME;OCC"]
    assert isinstance(a["carrier_kind"].dtype, pd.CategoricalDtype)


def test_relations_between_owner_and_carrier(graph: AccountGraph) -> None:
    a = graph.account_columns()
    # BD -> FUND affiliate_of counts both ways; FUND's FCM account is not affiliated.
    assert a["owner_affiliate_of_carrier"].tolist() == [False, False, False, True, False]
    assert a["owner_is_carrier"].tolist() == [False, False, False, False, True]
    # GUAR guarantees ANN, so both of ANN's accounts are guaranteed.
    assert a["is_guaranteed"].tolist() == [True, True, False, False, False]
    assert a["owner_carrier_key"].tolist() == [
        "ANN@BDF",
        "ANN@BDF",
        "FUND@FCM",
        "FUND@BD",
        "BDF@BDF",
    ]
    assert a["owner_accounts_at_carrier"].tolist() == [2, 2, 1, 1, 1]


def test_equity_counts_pledged_lots_where_they_margin(graph: AccountGraph) -> None:
    a = graph.account_columns()
    # A_SEC: L1 500 (L2 is pledged away) + 100 x 10 - 2 x 0.5 x 100 = 1,400.
    assert a.loc["A_SEC", "equity"] == pytest.approx(1400.0)
    assert a.loc["A_SEC", "positions_market_value"] == pytest.approx(900.0)
    # A_FUT: L2 pledged in (200); its own L3 margins the house; futures count 0.
    assert a.loc["A_FUT", "equity"] == pytest.approx(200.0)
    assert a.loc["H_BDF", "collateral_market_value"] == pytest.approx(350.0)
    assert a.loc["F_PM", "equity"] == pytest.approx(1100.0)
    assert a.loc["F_FUT", "equity"] == 0.0
    assert a["n_lots"].tolist() == [1, 1, 0, 1, 2]
    assert a["n_positions"].tolist() == [1, 2, 0, 1, 1]
    assert a["holds_unlisted_derivatives"].tolist() == [False, False, False, True, False]


def test_segregation_columns(graph: AccountGraph) -> None:
    a = graph.account_columns()
    assert a["pledges_customer_collateral_to_house"].tolist() == [True, False, False, False, False]
    assert a["receives_customer_collateral"].tolist() == [True, False, False, False, True]
    lots = graph.lot_columns()
    assert lots["margined_account_id"].tolist() == ["A_SEC", "A_FUT", "H_BDF", "F_PM", "H_BDF"]
    assert lots["customer_to_house"].tolist() == [False, False, True, False, False]
    assert lots["crosses_owner"].tolist() == [False, False, True, False, False]
    assert lots.loc["L3", "flow_path"] == "A_FUT -> L3 -> H_BDF"
    assert lots.loc["L1", "flow_path"] == "A_SEC -> L1"
    assert lots.loc["L3", "source_origin"] == "customer"
    assert lots.loc["L3", "margined_origin"] == "house"


def test_generic_predicates(graph: AccountGraph) -> None:
    firms = pd.Series(["BDF", "BD", "FCM"], index=[10, 11, 12])
    dco = graph.relation_mask(firms, Relation.MEMBER_OF, dst_kind=[PartyKind.DCO])
    assert dco.tolist() == [True, False, True]
    assert list(dco.index) == [10, 11, 12]
    occ = graph.relation_mask(firms, Relation.MEMBER_OF, dst_ids=["OCC"])
    assert occ.tolist() == [True, True, False]
    guaranteed = graph.relation_mask(pd.Series(["ANN", "FUND"]), Relation.GUARANTEES, reverse=True)
    assert guaranteed.tolist() == [True, False]
    src, dst = pd.Series(["FUND", "BD"]), pd.Series(["BD", "FUND"])
    assert graph.pair_related(src, dst, Relation.AFFILIATE_OF).tolist() == [False, True]
    assert graph.pair_related(src, dst, Relation.AFFILIATE_OF, symmetric=True).tolist() == [
        True,
        True,
    ]
    owns = graph.pair_related(pd.Series(["ANN"]), pd.Series(["A_SEC"]), EdgeKind.OWNS)
    assert owns.tolist() == [True]


def test_networkx_graph_and_paths(graph: AccountGraph) -> None:
    g = graph.nx
    assert g.number_of_nodes() == 8 + 5 + 5
    assert g.number_of_edges() == 5 + 5 + 5 + 2 + 6  # owns, carries, holds, pledged, relations
    assert g.nodes["L3"]["kind"] == "lot"
    assert g.has_edge("BDF", "H_BDF", key="owns") and g.has_edge("BDF", "H_BDF", key="carries")
    # Collateral flows: A_SEC's L2 margins A_FUT, whose L3 margins the house.
    flow = [EdgeKind.HOLDS, EdgeKind.PLEDGED_TO]
    assert graph.path("A_SEC", "H_BDF", flow) == ["A_SEC", "L2", "A_FUT", "L3", "H_BDF"]
    assert graph.path("F_PM", "H_BDF", flow) is None
    assert graph.path("GUAR", "A_SEC") == ["GUAR", "ANN", "A_SEC"]
    assert graph.path("nobody", "A_SEC") is None


def test_edges_frame(graph: AccountGraph) -> None:
    e = graph.edges
    assert list(e.columns) == ["src", "dst", "kind"]
    counts = e["kind"].value_counts()
    assert counts["owns"] == 5 and counts["pledged_to"] == 2 and counts["member_of"] == 4


def test_demo_book_graph() -> None:
    g = AccountGraph(load_demo_book())
    a = g.account_columns()
    # The Treasury cross-margin customer's carrier is a member of a clearing agency and a DCO.
    assert a.loc["A06_ECHO_XM", "carrier_memberships"] == "CME;FICC;OCC"
    assert a.loc["A02_BOB_PM", "equity"] < 100_000 <= a.loc["A01_ALICE_PM", "equity"]
    assert g.lot_columns()["customer_to_house"].sum() == 1
