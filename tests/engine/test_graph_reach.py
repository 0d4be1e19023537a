"""Where lots reach through pledges and account-to-account re-pledges (graph_reach)."""

from __future__ import annotations

import itertools

import networkx as nx
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marginlex.engine.book.load import load_demo_book
from marginlex.engine.graph.account_graph import AccountGraph, EdgeKind
from marginlex.engine.graph.reach import REACH_COLUMNS, lot_reach


def _lots(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    """lot_columns-shaped frame from (lot, own account, pledged_to or None)."""
    lot, own, to = zip(*rows, strict=True)
    pledged = pd.Series([t is not None for t in to])
    margined = [t if t is not None else a for a, t in zip(own, to, strict=True)]
    flow = [
        f"{a} -> {lid}" + (f" -> {t}" if t is not None else "")
        for lid, a, t in zip(lot, own, to, strict=True)
    ]
    return pd.DataFrame(
        {
            "account_id": list(own),
            "margined_account_id": margined,
            "is_pledged": pledged.to_numpy(),
            "flow_path": flow,
        },
        index=pd.Index(list(lot), name="lot_id"),
    )


def _edges(pairs: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=["src", "dst"], dtype="str")


def _table(reach: pd.DataFrame) -> list[tuple[str, str, int, str]]:
    return [
        (r.lot_id, r.reached_account_id, r.hops, r.path)
        for r in reach[list(REACH_COLUMNS)].itertuples()
    ]


def test_three_hops_to_the_house_with_the_whole_path() -> None:
    lots = _lots([("L1", "C", "AFF"), ("L2", "C", None), ("L3", "AFF", None)])
    reach = lot_reach(lots, _edges([("AFF", "LEND"), ("LEND", "H")]))
    assert list(reach.columns) == list(REACH_COLUMNS)
    # L2 is not pledged; L3 is AFF's own lot: a re-pledge moves what AFF received only.
    assert _table(reach) == [
        ("L1", "AFF", 1, "C -> L1 -> AFF"),
        ("L1", "LEND", 2, "C -> L1 -> AFF -> LEND"),
        ("L1", "H", 3, "C -> L1 -> AFF -> LEND -> H"),
    ]
    assert reach["hops"].dtype == "int64"


def test_a_cycle_ends_where_it_closes() -> None:
    lots = _lots([("L1", "C", "X")])
    reach = lot_reach(lots, _edges([("X", "Y"), ("Y", "Z"), ("Z", "X"), ("Y", "X")]))
    assert _table(reach) == [
        ("L1", "X", 1, "C -> L1 -> X"),
        ("L1", "Y", 2, "C -> L1 -> X -> Y"),
        ("L1", "Z", 3, "C -> L1 -> X -> Y -> Z"),
    ]


def test_back_home_is_passed_through_but_not_reported() -> None:
    # C's lot goes to X, X re-pledges it back to C, and C re-pledges what it received to H.
    reach = lot_reach(_lots([("L1", "C", "X")]), _edges([("X", "C"), ("C", "H")]))
    assert _table(reach) == [
        ("L1", "X", 1, "C -> L1 -> X"),
        ("L1", "H", 3, "C -> L1 -> X -> C -> H"),
    ]


def test_the_fewest_hops_win_and_ties_take_the_first_path() -> None:
    # Two ways to H: X -> B -> H (2 re-pledges) and X -> H (1); two equal ways to Z.
    edges = _edges([("X", "B"), ("B", "H"), ("X", "H"), ("X", "A"), ("A", "Z"), ("B", "Z")])
    reach = lot_reach(_lots([("L1", "C", "X")]), edges)
    got = {r[1]: (r[2], r[3]) for r in _table(reach)}
    assert got["H"] == (2, "C -> L1 -> X -> H")
    assert got["Z"] == (3, "C -> L1 -> X -> A -> Z")


def test_no_repledges_is_just_the_direct_pledges() -> None:
    lots = _lots([("L1", "C", "H"), ("L2", "C", None)])
    assert _table(lot_reach(lots, _edges([]))) == [("L1", "H", 1, "C -> L1 -> H")]


def test_demo_book_three_hop_chain() -> None:
    g = AccountGraph(load_demo_book())
    reach = g.lot_reach()
    chain = reach[reach["lot_id"] == "L22"]
    assert chain["path"].tolist()[-1] == (
        "A13_KILO_MGN -> L22 -> A14_LIMA_FIN -> A15_MIKE_MGN -> H_BD1"
    )
    assert chain["hops"].tolist() == [1, 2, 3]
    # The re-pledging accounts' own lots stay where they are.
    assert set(reach["lot_id"]) == {"L15", "L22"}
    a = g.account_columns()
    assert a.index[a["pledges_customer_collateral_to_house"]].tolist() == [
        "A10_HOTEL_MGN",
        "A13_KILO_MGN",
    ]
    # The networkx graph has the re-pledge edges too, so the trace path can be re-walked.
    assert g.path("A13_KILO_MGN", "H_BD1") == chain["path"].tolist()[-1].split(" -> ")
    assert g.nx.has_edge("A14_LIMA_FIN", "A15_MIKE_MGN", key=EdgeKind.REHYPOTHECATED_TO.value)


@st.composite
def _chain(draw: st.DrawFn) -> tuple[int, list[str], list[tuple[str, str]]]:
    """A chain C -> L1 -> M1 -> ... -> Mk of k hops, names shuffled, with back edges."""
    k = draw(st.integers(1, 5))
    names = draw(st.permutations([f"N{i}" for i in range(k + 1)]))
    chain = list(names)  # chain[0] owns the lot; chain[1..k] are reached in order
    edges = list(itertools.pairwise(chain[1:]))
    back = draw(st.lists(st.tuples(st.integers(1, k), st.integers(0, k)), max_size=4))
    edges += [(chain[i], chain[j]) for i, j in back if j <= i]  # cycles, never shortcuts
    return k, chain, edges


@given(_chain())
@settings(max_examples=60, deadline=None)
def test_a_chain_of_k_hops_is_found_with_its_full_path(
    case: tuple[int, list[str], list[tuple[str, str]]],
) -> None:
    k, chain, edges = case
    reach = lot_reach(_lots([("L1", chain[0], chain[1])]), _edges(edges))
    last = reach.iloc[-1]
    assert last["reached_account_id"] == chain[k] and last["hops"] == k
    assert last["path"].split(" -> ") == [chain[0], "L1", *chain[1:]]
    assert reach["hops"].tolist() == list(range(1, k + 1))


@given(
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=20),
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=4),
)
@settings(max_examples=80, deadline=None)
def test_reach_is_what_networkx_reaches_by_the_fewest_hops(
    pairs: list[tuple[int, int]], lots: list[tuple[int, int]]
) -> None:
    edges = [(f"A{s}", f"A{d}") for s, d in pairs if s != d]
    rows = [(f"L{i}", f"A{o}", f"A{t}") for i, (o, t) in enumerate(lots) if o != t]
    if not rows:
        return
    reach = lot_reach(_lots(rows), _edges(edges))  # terminates, cycles or not
    g = nx.DiGraph(edges)
    for lot, own, to in rows:
        got = reach[reach["lot_id"] == lot]
        dist = nx.single_source_shortest_path_length(g, to) if to in g else {to: 0}
        want = {a: d + 1 for a, d in dist.items() if a != own}
        assert dict(zip(got["reached_account_id"], got["hops"], strict=True)) == want
        for path, hops in zip(got["path"], got["hops"], strict=True):
            ids = path.split(" -> ")
            assert ids[:3] == [own, lot, to] and len(ids) == hops + 2
            assert all(g.has_edge(a, b) for a, b in itertools.pairwise(ids[2:]))


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_walk_length_is_bounded_by_the_accounts(k: int) -> None:
    # A ring of k accounts that all re-pledge onward: each is reached once, then the walk ends.
    ring = [f"R{i}" for i in range(k)]
    edges = _edges([(ring[i], ring[(i + 1) % k]) for i in range(k)])
    reach = lot_reach(_lots([("L1", "C", "R0")]), edges)
    assert reach["reached_account_id"].tolist() == ring
    assert reach["hops"].max() == k
