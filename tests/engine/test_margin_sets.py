"""Margin-set formation on small hand-made graphs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marginlex.engine.book.load import Book
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.graph.margin_sets import form_margin_sets


def pairs(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["account_a", "account_b", "reason"])


def test_singletons_without_edges() -> None:
    ms = form_margin_sets(pd.Index(["B", "A"]), pairs())
    assert ms.membership["margin_set_id"].to_dict() == {"A": "ms:A", "B": "ms:B"}
    assert ms.membership["set_size"].tolist() == [1, 1]
    assert ms.edges.empty and ms.dropped.empty and ms.conflicts.empty


def test_components_and_joining_edges() -> None:
    ids = pd.Index(["D", "C", "B", "A", "E", "F"])
    ms = form_margin_sets(
        ids,
        pairs(
            ("B", "A", "same owner"),
            ("C", "B", "same owner"),
            ("E", "F", "same owner"),
            ("A", "A", "self"),
            ("A", "B", "duplicate"),
        ),
    )
    assert ms.membership["margin_set_id"].tolist() == [
        "ms:A",
        "ms:A",
        "ms:A",
        "ms:D",
        "ms:E",
        "ms:E",
    ]
    assert ms.members("ms:A") == ["A", "B", "C"]
    # Pairs are unordered and deduplicated (first reason in sorted order kept).
    assert ms.set_edges("ms:A").to_numpy().tolist() == [
        ["ms:A", "A", "B", "duplicate"],
        ["ms:A", "B", "C", "same owner"],
    ]
    assert ms.set_edges("ms:E")[["account_a", "account_b"]].to_numpy().tolist() == [["E", "F"]]


def test_forbidden_pairs_are_dropped_before_components() -> None:
    ids = pd.Index(["A", "B", "C"])
    allowed = pairs(("A", "B", "same carrier"), ("B", "C", "same carrier"))
    ms = form_margin_sets(ids, allowed, pairs(("C", "B", "1.22: different owners")))
    assert ms.membership["margin_set_id"].tolist() == ["ms:A", "ms:A", "ms:C"]
    assert ms.dropped.to_numpy().tolist() == [["B", "C", "same carrier", "1.22: different owners"]]
    assert ms.conflicts.empty


def test_forbidden_pair_joined_through_other_edges_is_a_conflict() -> None:
    ids = pd.Index(["A", "B", "C"])
    allowed = pairs(("A", "B", "r"), ("B", "C", "r"))
    ms = form_margin_sets(ids, allowed, pairs(("A", "C", "never together")))
    assert ms.membership["margin_set_id"].tolist() == ["ms:A"] * 3
    assert ms.conflicts.to_numpy().tolist() == [["ms:A", "A", "C", "never together"]]


def test_forbidden_predicate_is_vectorized_over_candidates() -> None:
    owner = pd.Series({"A": "ann", "B": "ann", "C": "bob", "D": "bob"})

    def different_owners(e: pd.DataFrame) -> pd.Series:
        return e["account_a"].map(owner) != e["account_b"].map(owner)

    allowed = pairs(
        ("A", "B", "same carrier"), ("B", "C", "same carrier"), ("C", "D", "same carrier")
    )
    ms = form_margin_sets(pd.Index(list("ABCD")), allowed, different_owners)
    assert ms.membership["margin_set_id"].tolist() == ["ms:A", "ms:A", "ms:C", "ms:C"]
    assert ms.dropped["forbidden_by"].tolist() == ["different_owners"]


def test_unknown_account_in_a_pair_is_an_error() -> None:
    with pytest.raises(ValueError, match="not among the accounts"):
        form_margin_sets(pd.Index(["A"]), pairs(("A", "Z", "r")))


def test_one_owner_at_one_carrier_from_graph_columns(graph_book: Book) -> None:
    cols = AccountGraph(graph_book).account_columns()
    # Candidate pairs: accounts sharing owner@carrier (a self-merge on the key).
    key = cols["owner_carrier_key"].reset_index()
    cand = key.merge(key, on="owner_carrier_key")
    cand = cand[cand["account_id_x"] < cand["account_id_y"]]
    allowed = pd.DataFrame(
        {
            "account_a": cand["account_id_x"],
            "account_b": cand["account_id_y"],
            "reason": "same owner at one carrier",
        }
    )
    ms = form_margin_sets(cols.index, allowed)
    assert ms.membership["margin_set_id"].to_dict() == {
        "A_FUT": "ms:A_FUT",
        "A_SEC": "ms:A_FUT",
        "F_FUT": "ms:F_FUT",
        "F_PM": "ms:F_PM",
        "H_BDF": "ms:H_BDF",
    }


def test_scales_to_100k_accounts() -> None:
    n = 100_000
    ids = pd.Index([f"A{i:06d}" for i in range(n)])
    a = np.arange(0, n - 1, 2)
    allowed = pd.DataFrame({"account_a": ids[a], "account_b": ids[a + 1], "reason": "pair"})
    ms = form_margin_sets(ids, allowed)
    assert ms.membership["margin_set_id"].nunique() == n // 2
