"""Changed copies of a book, each a new :class:`Book` with its own content hash.

The original book is never changed. Money added by a change is a USD lot whose id starts
``WI:`` (what-if), so that every trace names it as the change it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from marginlex.engine.book.derive import derive
from marginlex.engine.book.load import Book, canonical_order, content_sha256
from marginlex.engine.book.schema import SPECS

Frames = dict[str, pd.DataFrame]
LOT_PREFIX = "WI:"


def edited(book: Book, change: Callable[[Frames], Frames]) -> Book:
    """A copy of ``book`` with ``change`` applied to its contract frames (re-derived, re-hashed)."""
    frames = change(dict(book.contract_frames()))
    frames = {stem: canonical_order(SPECS[stem], frame) for stem, frame in frames.items()}
    return book.model_copy(update={"sha256": content_sha256(book.meta, frames), **derive(frames)})


def _cash_lots(
    lots: pd.DataFrame, ids: Sequence[str], accounts: Sequence[str], amounts: Sequence[float]
) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "lot_id": list(ids),
            "account_id": list(accounts),
            "asset": pd.Series(["USD"] * n).astype(lots["asset"].dtype),
            "market_value": np.asarray(amounts, dtype=np.float64),
            "maturity": pd.Series([pd.NaT] * n, dtype=lots["maturity"].dtype),
            "pledged_to": pd.Series([None] * n, dtype=lots["pledged_to"].dtype),
        }
    )


def deposit(book: Book, account_id: str, amount: float, tag: str = "deposit") -> Book:
    """``amount`` USD deposited in ``account_id`` (a new lot ``WI:<tag>:<account>``)."""

    def change(f: Frames) -> Frames:
        lot = _cash_lots(
            f["collateral"], [f"{LOT_PREFIX}{tag}:{account_id}"], [account_id], [amount]
        )
        return {**f, "collateral": pd.concat([f["collateral"], lot], ignore_index=True)}

    return edited(book, change)


def reduce_positions(
    book: Book, account_ids: Sequence[str], instruments: Sequence[str], fraction: float
) -> Book:
    """Positions of ``account_ids`` in ``instruments`` cut by ``fraction`` (toward zero, whole
    units), closed at the mark: the proceeds (or the cost, for a short) stay as USD cash."""
    pos = book.positions
    hit = (
        pos["account_id"].isin(account_ids).to_numpy()
        & pos["instrument_id"].isin(instruments).to_numpy()
    )
    qty = pos["quantity"].to_numpy(dtype=np.float64)
    cut = np.where(hit, np.trunc(np.ceil(np.abs(qty) * fraction - 1e-9) * np.sign(qty)), 0.0)
    cut = np.where(np.abs(cut) > np.abs(qty), qty, cut)
    proceeds = pd.Series(cut * pos["market_value"].to_numpy() / np.where(qty == 0, 1.0, qty))
    by_account = proceeds.groupby(pos["account_id"].to_numpy(), sort=True).sum()
    by_account = by_account[pos.loc[hit, "account_id"].unique()] if hit.any() else by_account[:0]

    def change(f: Frames) -> Frames:
        positions = f["positions"].assign(quantity=qty - cut)
        positions = positions[positions["quantity"] != 0.0]
        ids = [f"{LOT_PREFIX}proceeds:{a}" for a in by_account.index]
        lots = _cash_lots(f["collateral"], ids, list(by_account.index), by_account.to_list())
        lots = lots[lots["market_value"] != 0.0]
        return {
            **f,
            "positions": positions,
            "collateral": pd.concat([f["collateral"], lots], ignore_index=True),
        }

    return edited(book, change)


def replace_with_cash(book: Book, lot_ids: Sequence[str], amount: float) -> Book:
    """``amount`` of the market value of ``lot_ids`` (pro rata) swapped for USD in each lot's
    account."""
    lots = book.collateral
    hit = lots["lot_id"].isin(lot_ids).to_numpy()
    value = lots["market_value"].to_numpy(dtype=np.float64)
    total = float(value[hit].sum())
    share = np.where(hit, value * min(amount / total, 1.0) if total > 0 else 0.0, 0.0)

    def change(f: Frames) -> Frames:
        kept = f["collateral"].assign(market_value=value - share)
        ids = [f"{LOT_PREFIX}cash_for:{i}" for i in lots.loc[hit, "lot_id"]]
        cash = _cash_lots(kept, ids, lots.loc[hit, "account_id"].to_list(), share[hit].tolist())
        return {**f, "collateral": pd.concat([kept, cash], ignore_index=True)}

    return edited(book, change)


def set_value(
    book: Book, stem: str, key: str, ids: Sequence[str], *, column: str, value: str | bool
) -> Book:
    """Column ``column`` of the rows of ``stem`` whose ``key`` is in ``ids`` set to ``value``."""

    def change(f: Frames) -> Frames:
        frame = f[stem]
        return {
            **f,
            stem: frame.assign(**{column: frame[column].mask(frame[key].isin(ids), value)}),
        }

    return edited(book, change)


def sign_agreement(book: Book, account_id: str, agreement: str) -> Book:
    """``agreement`` added to the account's ``agreements``."""
    acc = book.accounts.set_index("account_id")
    current = [
        a for a in str(acc.loc[account_id, "agreements"] or "").split(";") if a and a != "nan"
    ]
    return set_value(
        book,
        "accounts",
        "account_id",
        [account_id],
        column="agreements",
        value=";".join([*current, agreement]),
    )


def add_relation(book: Book, src: str, dst: str, relation: str) -> Book:
    """A relation row ``src relation dst`` added."""

    def change(f: Frames) -> Frames:
        rel = f["relations"]
        row = pd.DataFrame({"src": [src], "dst": [dst], "relation": [relation]}).astype(
            rel.dtypes.to_dict()
        )
        return {**f, "relations": pd.concat([rel, row], ignore_index=True)}

    return edited(book, change)


def remove_edge(book: Book, src: str, dst: str) -> Book:
    """The graph edge ``src -> dst`` removed: a lot's pledge, or a relation row."""

    def change(f: Frames) -> Frames:
        lots, rel = f["collateral"], f["relations"]
        pledge = (lots["lot_id"] == src) & (lots["pledged_to"] == dst)
        lots = lots.assign(pledged_to=lots["pledged_to"].where(~pledge, None))
        rel = rel[~((rel["src"] == src) & (rel["dst"] == dst))]
        return {**f, "collateral": lots, "relations": rel}

    return edited(book, change)
