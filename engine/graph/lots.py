"""Per-lot graph columns: where each collateral lot's value flows.

A lot margins its own account unless ``pledged_to`` names another account. The columns
say which account it margins, whose accounts the two ends are, and whether customer
collateral reaches a house account (15c3-3; CEA §4d(a)(2), 17 CFR 1.20) or another
owner's account (17 CFR 1.22), with the path as ids for the trace.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from marginlex.dsl.model.domain import Origin
from marginlex.engine.book.columns import index_in
from marginlex.engine.book.ids import PATH_SEPARATOR
from marginlex.engine.book.load import Book

_ACCOUNT_FIELDS = ("owner_id", "carrier_id", "regime", "kind", "origin")


def _end(accounts: pd.DataFrame, ids: pd.Series, prefix: str) -> pd.DataFrame:
    """Account fields of the accounts named in ``ids``, prefixed, aligned with ``ids``
    (missing where an id names no account)."""
    rows = index_in(ids, accounts["account_id"])
    found = pd.Series(rows >= 0)
    picked = accounts[list(_ACCOUNT_FIELDS)].iloc[np.maximum(rows, 0)].reset_index(drop=True)
    if not found.all():
        picked = picked.where(found, axis=0)
    out: pd.DataFrame = picked.add_prefix(prefix).set_axis(ids.index)
    return out


def lot_columns(book: Book) -> pd.DataFrame:
    """One row per lot, indexed by ``lot_id``.

    Columns (dtype): ``account_id`` (str, the lot's own account), ``asset`` (categorical),
    ``asset_class`` (categorical), ``market_value`` (float64), ``pledged_to`` (str or NaN),
    ``is_pledged`` (bool: pledged to another account), ``margined_account_id`` (str: the
    account whose margin the lot is), ``source_owner_id``, ``source_carrier_id`` (str),
    ``source_regime``, ``source_kind``, ``source_origin`` (categorical), the same five
    with prefix ``margined_`` for the margined account, ``customer_to_house`` (bool:
    customer collateral margins a house account), ``crosses_owner`` (bool: margins another
    owner's account), ``flow_path`` (str: node ids joined by `` -> ``, e.g.
    ``A10 -> L15 -> H_BD1``; just ``account -> lot`` for an unpledged lot).
    """
    lots = book.collateral
    pledged = lots["pledged_to"].notna() & (lots["pledged_to"] != lots["account_id"])
    margined = lots["pledged_to"].where(pledged, lots["account_id"]).astype("str")
    src = _end(book.accounts, lots["account_id"], "source_")
    dst = _end(book.accounts, margined, "margined_")
    base = _join_ids(lots["account_id"], lots["lot_id"])
    out = pd.DataFrame(
        {
            "lot_id": lots["lot_id"],
            "account_id": lots["account_id"],
            "asset": lots["asset"],
            "asset_class": lots["asset_class"],
            "market_value": lots["market_value"],
            "pledged_to": lots["pledged_to"],
            "is_pledged": pledged.astype("bool"),
            "margined_account_id": margined,
        }
    )
    out = pd.concat([out, src, dst], axis=1)
    out["customer_to_house"] = (
        (out["source_origin"] == Origin.CUSTOMER.value)
        & (out["margined_origin"] == Origin.HOUSE.value)
    ).astype("bool")
    out["crosses_owner"] = (out["source_owner_id"] != out["margined_owner_id"]).astype("bool")
    out["flow_path"] = base.where(~pledged, base + PATH_SEPARATOR + margined)
    return out.set_index("lot_id")


def _join_ids(a: pd.Series, b: pd.Series) -> pd.Series:
    """Two id columns joined by the path separator."""
    return a.astype("str") + PATH_SEPARATOR + b.astype("str")
