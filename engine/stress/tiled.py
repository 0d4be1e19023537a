"""The stack of a stress run, built by tiling what the unshocked book already knows.

A stress batch stacks the unshocked book and shocked copies of it
(:mod:`marginlex.engine.stress.batch`). The copies hold the book's rows (collateral apart:
a copy adds its variation settlement lots) and change only prices, volatilities and
collateral values. So what does not depend on prices is computed once, on the unshocked
book (:class:`Base`), and tiled across the stack by row number instead of being derived
again over the stacked rows:

- derived columns: the accounts' agreements, the instruments' kinds and underlying row,
  each position's instrument row;
- the per-account graph columns that are not money (owners and carriers and their kinds,
  memberships, affiliation, guarantees, pledges of customer collateral), ids given their
  copy's prefix;
- the accounts' products, and each position's account and instrument row.

What depends on prices is computed over the stacked rows as a plain build would: the
underlying prices, the positions' price, notional and market value, the collateral's
columns and the lots' graph columns, the per-account sums and equity.
``tests/stress/test_stress_tiled.py`` checks the stack, its graph columns and its contexts
against :func:`marginlex.engine.stress.batch.prepare_stack`, column by column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import numpy.typing as npt
import pandas as pd

from marginlex.dsl.model.domain import Agreement
from marginlex.engine.book.columns import index_in
from marginlex.engine.book.derive import agreement_column, collateral_columns, position_columns
from marginlex.engine.book.load import Book
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.graph.accounts import with_money
from marginlex.engine.plan.context import (
    Contexts,
    account_context,
    instrument_context,
    lot_context,
    position_context,
)
from marginlex.engine.stress.batch import Frames, Stacked, concat_prefixed, stack_order, tag

IntArray = npt.NDArray[np.int64]
MONEY_COLUMNS = (
    "positions_market_value",
    "collateral_market_value",
    "equity",
    "n_positions",
    "n_lots",
)
FLAG_COLUMNS = (
    "holds_unlisted_derivatives",
    "pledges_customer_collateral_to_house",
    "receives_customer_collateral",
)
_TEXT_COLUMNS = ("owner_id", "carrier_id", "carrier_memberships", "owner_carrier_key")
_AGREEMENTS = tuple(agreement_column(a) for a in Agreement)


@dataclass(frozen=True)
class Base:
    """What every stack of one book shares, computed once on the unshocked book.

    Attributes:
        book: the unshocked book.
        columns: its per-account graph columns, money and flags apart, in order.
        fixed: those columns that are neither text nor money (RangeIndex, account order).
        memberships: ``carrier_memberships`` per account (text: ids to prefix).
        flags: the flag columns per account (pledges, unlisted derivatives).
        products: distinct (account row, product) pairs of the positions, first seen first.
        position_account: each position's account row.
        position_instrument: each position's instrument row.
        underlying: each instrument's underlying row (-1: none listed).
    """

    book: Book
    columns: tuple[str, ...]
    fixed: pd.DataFrame
    memberships: pd.Series
    flags: pd.DataFrame
    products: pd.DataFrame
    position_account: IntArray
    position_instrument: IntArray
    underlying: IntArray


def base_of(book: Book) -> Base:
    """The price-independent parts of ``book`` that every stack of it tiles."""
    cols = AccountGraph(book).account_columns().reset_index(drop=True)
    pos, acc, ins = book.positions, book.accounts, book.instruments
    kept = [c for c in cols.columns if c not in MONEY_COLUMNS and c not in FLAG_COLUMNS]
    products = pd.DataFrame(
        {"account_id": pos["account_id"], "product": pos["product"]}
    ).drop_duplicates()
    return Base(
        book=book,
        columns=tuple(kept),
        fixed=cols[[c for c in kept if c not in _TEXT_COLUMNS]],
        memberships=cols["carrier_memberships"],
        flags=cols[list(FLAG_COLUMNS)],
        products=pd.DataFrame(
            {
                "account": index_in(products["account_id"], acc["account_id"]),
                "product": products["product"].reset_index(drop=True),
            }
        ),
        position_account=index_in(pos["account_id"], acc["account_id"]),
        position_instrument=index_in(pos["instrument_id"], ins["instrument_id"]),
        underlying=index_in(ins["underlying"], ins["instrument_id"]),
    )


def tiled_rows(rows: IntArray, n: int, size: int) -> IntArray:
    """``rows`` (into a frame of ``size`` rows, -1: none) for each of ``n`` stacked copies.

    >>> tiled_rows(np.array([1, -1, 0]), 2, 3).tolist()
    [1, -1, 0, 4, -1, 3]
    """
    tiled = np.tile(np.asarray(rows, np.int64), n)
    offset = np.repeat(np.arange(n, dtype=np.int64) * size, len(rows))
    return np.where(tiled >= 0, tiled + offset, -1)


def prepare_tiled(base: Base, books: Sequence[Frames], as_of: dt.date) -> Stacked:
    """:func:`marginlex.engine.stress.batch.prepare_stack` of copies of ``base.book``
    (its own contract frames, or shocked ones), the same stack built by tiling."""
    n = len(books)
    stacked = base.book.model_copy(
        update={"sha256": "", "warnings": (), **_derived(base, concat_prefixed(books), n)}
    )
    graph = AccountGraph(stacked, account_columns=partial(_account_columns, base, n))
    acc, ins = len(base.book.accounts), len(base.book.instruments)
    accounts = account_context(stacked, graph, products=_products(base, stacked, n))
    instruments = instrument_context(stacked, as_of)
    rows = (tiled_rows(base.position_account, n, acc), tiled_rows(base.position_instrument, n, ins))
    contexts = Contexts(
        accounts=accounts,
        instruments=instruments,
        positions=position_context(stacked, accounts, instruments, rows),
        lots=lot_context(stacked, accounts, as_of),
    )
    return Stacked(stacked, graph, contexts, as_of, n)


def _derived(base: Base, frames: dict[str, pd.DataFrame], n: int) -> dict[str, pd.DataFrame]:
    """The stacked frames with the columns :func:`marginlex.engine.book.derive.derive` adds."""
    book = base.book
    accounts = frames["accounts"].assign(
        **{c: np.tile(book.accounts[c].to_numpy(bool), n) for c in _AGREEMENTS}
    )
    ins = frames["instruments"]
    under = tiled_rows(base.underlying, n, len(book.instruments))
    price = ins["price"].to_numpy(np.float64)
    ins = ins.assign(
        is_option=np.tile(book.instruments["is_option"].to_numpy(bool), n),
        is_future=np.tile(book.instruments["is_future"].to_numpy(bool), n),
        underlying_price=np.where(under >= 0, price[np.maximum(under, 0)], np.nan),
    )
    at = tiled_rows(base.position_instrument, n, len(book.instruments))
    return {
        "parties": frames["parties"],
        "relations": frames["relations"],
        "accounts": accounts,
        "instruments": ins,
        "positions": position_columns(frames["positions"], ins, at),
        "collateral": collateral_columns(frames["collateral"]),
    }


def _memberships(base: Base, n: int) -> pd.Series:
    """Each copy's ``carrier_memberships``, every org id given the copy's prefix."""
    text = base.memberships
    parts = []
    for k in stack_order(n):
        prefixed = tag(k) + text.str.replace(";", ";" + tag(k), regex=False)
        parts.append(prefixed.where(text != "", ""))
    return pd.concat(parts, ignore_index=True).astype("str")


def _account_columns(base: Base, n: int, graph: AccountGraph) -> pd.DataFrame:
    """:meth:`AccountGraph.account_columns` of the stack: tiled, then the money summed."""
    acc = graph.book.accounts
    rows = np.tile(np.arange(len(base.book.accounts)), n)
    owner, carrier = acc["owner_id"], acc["carrier_id"]
    out = base.fixed.iloc[rows].reset_index(drop=True)
    out = out.assign(
        account_id=acc["account_id"],
        owner_id=owner,
        carrier_id=carrier,
        carrier_memberships=_memberships(base, n),
        owner_carrier_key=(owner + "@" + carrier).astype("str"),
    )
    out = out[["account_id", *base.columns]].set_index("account_id", drop=False)
    flags = {c: base.flags[c].to_numpy(bool)[rows] for c in FLAG_COLUMNS}
    at = tiled_rows(base.position_account, n, len(base.book.accounts))
    return with_money(graph, out, flags, at)


def _products(base: Base, stacked: Book, n: int) -> pd.DataFrame:
    """The stack's distinct (account_id, product) pairs, each copy's in the base's order."""
    rows = tiled_rows(base.products["account"].to_numpy(np.int64), n, len(base.book.accounts))
    return pd.DataFrame(
        {
            "account_id": stacked.accounts["account_id"].iloc[rows].reset_index(drop=True),
            "product": base.products["product"]
            .iloc[np.tile(np.arange(len(rows) // max(n, 1)), n)]
            .reset_index(drop=True),
        }
    )
