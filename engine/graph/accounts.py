"""Per-account graph columns, computed once per book with merges and group-bys.

See :meth:`marginlex.engine.graph.account_graph.AccountGraph.account_columns` for the column list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from marginlex.dsl.model.domain import Origin, PartyKind, Product, Relation
from marginlex.engine.book.columns import index_in, isin, lookup

IntArray = npt.NDArray[np.int64]

if TYPE_CHECKING:
    from marginlex.engine.graph.account_graph import AccountGraph

_ACCOUNT_FIELDS = ["account_id", "owner_id", "carrier_id", "regime", "kind", "origin"]


def _party_fields(parties: pd.DataFrame, prefix: str, fields: list[str]) -> pd.DataFrame:
    out = parties[["party_id", *fields]].rename(columns={f: f"{prefix}{f}" for f in fields})
    return out.rename(columns={"party_id": f"{prefix}id"})


def _firm_memberships(graph: AccountGraph) -> pd.DataFrame:
    """Per firm: member of a clearing agency, of a DCO, and the sorted membership ids."""
    m = graph.memberships
    org_kind = m["org_kind"].astype("str")
    per_firm = pd.DataFrame(
        {
            "carrier_id": m["firm_id"],
            "carrier_member_of_clearing_agency": org_kind == PartyKind.CLEARING_AGENCY.value,
            "carrier_member_of_dco": org_kind == PartyKind.DCO.value,
            "org_id": m["org_id"],
        }
    ).sort_values(["carrier_id", "org_id"])
    # One row per firm (a handful of firms per book): cheap group-by.
    return per_firm.groupby("carrier_id", sort=True).agg(
        carrier_member_of_clearing_agency=("carrier_member_of_clearing_agency", "any"),
        carrier_member_of_dco=("carrier_member_of_dco", "any"),
        carrier_memberships=("org_id", ";".join),
    )


def _sums(
    values: pd.Series, key: pd.Series, ids: pd.Index, codes: IntArray | None = None
) -> tuple[pd.Series, pd.Series]:
    """Per id of ``ids``: the sum of ``values`` whose ``key`` is that id, and their count.

    Grouped by the ids' integer codes (``codes``: each key's position in ``ids``, when the
    caller has them), not by the text keys: the same cython sum, the same rows in the same
    order per group, so the same totals to the last bit.
    """
    codes = index_in(key, ids) if codes is None else codes
    total = values.groupby(codes, sort=False).sum()
    total = total.reindex(np.arange(len(ids)), fill_value=0.0).astype("float64").set_axis(ids)
    count = np.bincount(codes[codes >= 0], minlength=len(ids)).astype("int64")
    return total, pd.Series(count, index=ids)


def account_columns(graph: AccountGraph) -> pd.DataFrame:
    """Build the per-account column frame (indexed by account_id)."""
    book = graph.book
    out = book.accounts[_ACCOUNT_FIELDS]
    out = out.merge(
        _party_fields(book.parties, "owner_", ["kind", "ecp", "options_approval"]),
        on="owner_id",
        how="left",
        validate="many_to_one",
    )
    out = out.merge(
        _party_fields(book.parties, "carrier_", ["kind"]),
        on="carrier_id",
        how="left",
        validate="many_to_one",
    )
    out = out.merge(_firm_memberships(graph), left_on="carrier_id", right_index=True, how="left")
    for col in ("carrier_member_of_clearing_agency", "carrier_member_of_dco"):
        out[col] = out[col].fillna(False).astype("bool")
    out["carrier_memberships"] = out["carrier_memberships"].fillna("").astype("str")
    out = out.set_index("account_id", drop=False)
    out["owner_is_carrier"] = (out["owner_id"] == out["carrier_id"]).astype("bool")
    out["owner_affiliate_of_carrier"] = graph.pair_related(
        out["owner_id"], out["carrier_id"], Relation.AFFILIATE_OF, symmetric=True
    )
    guarantees = Relation.GUARANTEES
    out["is_guaranteed"] = graph.relation_mask(out["account_id"], guarantees, reverse=True) | (
        graph.relation_mask(out["owner_id"], guarantees, reverse=True)
    )
    out["owner_carrier_key"] = (out["owner_id"] + "@" + out["carrier_id"]).astype("str")
    out["owner_accounts_at_carrier"] = (
        out.groupby("owner_carrier_key", sort=False)["account_id"].transform("size").astype("int64")
    )
    return _money_columns(graph, out)


def _money_columns(graph: AccountGraph, out: pd.DataFrame) -> pd.DataFrame:
    book, lots = graph.book, graph.lot_columns()
    ids = out.index
    sbs = book.positions["product"] == Product.SBS.value
    flags = {
        "holds_unlisted_derivatives": isin(ids, book.positions.loc[sbs, "account_id"]),
        "pledges_customer_collateral_to_house": isin(ids, _customer_to_house(graph)),
        "receives_customer_collateral": isin(
            ids,
            lots.loc[
                lots["is_pledged"] & (lots["source_origin"] == "customer"), "margined_account_id"
            ],
        ),
    }
    return with_money(graph, out, flags)


def with_money(
    graph: AccountGraph,
    out: pd.DataFrame,
    flags: Mapping[str, npt.NDArray[np.bool_]],
    position_rows: IntArray | None = None,
) -> pd.DataFrame:
    """``out`` (indexed by account_id, with an account_id column) with the money columns
    (market values, equity, counts) summed from the book, then ``flags``, account_id dropped.

    The stacked book of a stress run (:mod:`marginlex.engine.stress.tiled`) tiles the rest,
    and gives each position's row in ``out`` (``position_rows``).
    """
    book, lots = graph.book, graph.lot_columns()
    ids = out.index
    pos = book.positions
    pos_mv, n_pos = _sums(pos["market_value"], pos["account_id"], ids, position_rows)
    col_mv, n_lots = _sums(lots["market_value"], lots["margined_account_id"], ids)
    out = out.assign(
        positions_market_value=pos_mv,
        collateral_market_value=col_mv,
        equity=col_mv + pos_mv,
        n_positions=n_pos,
        n_lots=n_lots,
        **flags,
    )
    out.index.name = "account_id"
    return out.drop(columns="account_id")


def _customer_to_house(graph: AccountGraph) -> pd.Series:
    """Customer accounts with a lot that reaches a house account (pledged or re-pledged)."""
    reach, acc = graph.lot_reach(), graph.book.accounts
    origin = acc["origin"].astype("str")
    src = lookup(reach["account_id"], acc["account_id"], origin)
    dst = lookup(reach["reached_account_id"], acc["account_id"], origin)
    hit = (src == Origin.CUSTOMER.value) & (dst == Origin.HOUSE.value)
    return reach.loc[hit, "account_id"].drop_duplicates()
