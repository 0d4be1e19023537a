"""Derived columns added to a validated book's frames (documented in docs/book-format.md).

- accounts: ``has_portfolio_margin_agreement``, ``has_cross_margin_agreement``,
  ``has_subordination_agreement`` (bool), parsed from ``agreements``.
- instruments: ``is_option``, ``is_future`` (bool); ``underlying_price`` (float, NaN
  without underlying).
- positions: ``price``, ``multiplier``, ``product`` of the instrument; ``notional`` =
  quantity × price × multiplier; ``market_value`` = notional, except 0 for futures.
- collateral: ``asset_class`` (categorical AssetClass), ``is_digital_asset`` (bool).

Before any of that, :func:`fill_defaults` fills the contract's defaults (instruments'
``class_group`` and ``multiplier``): the filled frames are the book's canonical content,
the one form that is hashed, recorded and replayed.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pandas as pd

from marginlex.dsl.model.domain import (
    ASSET_CLASSES,
    FUTURE_PRODUCTS,
    OPTION_PRODUCTS,
    Agreement,
    AssetClass,
)
from marginlex.engine.book.columns import index_in, lookup
from marginlex.engine.book.schema import SPECS


def enum_dtype(values: type[StrEnum]) -> pd.CategoricalDtype:
    """The categorical dtype of an enum column: categories in declaration order."""
    return pd.CategoricalDtype([v.value for v in values], ordered=False)


def agreement_column(agreement: Agreement) -> str:
    """Name of the bool column that says an account signed ``agreement``."""
    return f"has_{agreement.value}_agreement"


def _accounts(df: pd.DataFrame) -> pd.DataFrame:
    padded = ";" + df["agreements"].fillna("").str.replace(" ", "", regex=False) + ";"
    new = {
        agreement_column(a): padded.str.contains(f";{a.value};", regex=False).astype("bool")
        for a in Agreement
    }
    return df.assign(**new)


def fill_defaults(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The canonical content: the frames with every contract default filled in.

    A blank ``class_group`` is the underlying's class group (the underlying itself unless
    its own cell names another: an option goes where the stock it is on goes), else the
    instrument itself; a blank ``multiplier`` is 1. A book that leaves them blank and one
    that writes them out are the same book: they hash the same, and the recorded copy
    (always filled) loads back to the same sha256.

    >>> df = pd.DataFrame({"instrument_id": ["A", "B", "C", "D"],
    ...                    "underlying": [None, "A", None, "C"],
    ...                    "class_group": [None, None, "G", None],
    ...                    "multiplier": [None, 100.0, None, None]})
    >>> out = fill_defaults({"instruments": df})["instruments"]
    >>> out["class_group"].tolist(), out["multiplier"].tolist()
    (['A', 'A', 'G', 'G'], [1.0, 100.0, 1.0, 1.0])
    """
    df = frames["instruments"]
    filled = df.assign(
        class_group=_default_class_groups(df),
        multiplier=df["multiplier"].astype("float64").fillna(1.0),
    )
    return {**frames, "instruments": filled}


def _default_class_groups(df: pd.DataFrame) -> pd.Series:
    """Each instrument's class group: its own cell, else its underlying's (followed down
    the chain of underlyings), else the last instrument of the chain.

    Chains are short (an option on a future on a note is three); one that is still open
    after :data:`CHAIN_STEPS` steps (a loop: A on B, B on A) takes the underlying named.

    >>> df = pd.DataFrame({"instrument_id": ["O", "F", "N"], "underlying": ["F", "N", None],
    ...                    "class_group": [None, None, "UST_10Y"]})
    >>> _default_class_groups(df).tolist()
    ['UST_10Y', 'UST_10Y', 'UST_10Y']
    """
    ids, own = df["instrument_id"], df["class_group"]
    group, at = own.copy(), df["underlying"]  # at: the instrument each row looks at now
    for _ in range(CHAIN_STEPS):  # one step down every chain a pass
        open_ = group.isna() & at.notna()
        if not open_.any():
            break
        named = lookup(at[open_], ids, own)
        below = lookup(at[open_], ids, df["underlying"])
        group[open_] = named.where(named.notna() | below.notna(), at[open_])
        at = at.where(~open_, below)
    group = group.fillna(df["underlying"])  # a loop
    return group.fillna(ids)


CHAIN_STEPS = 8
"""How far down a chain of underlyings a blank class group is looked for; a chain still
going after that many steps is a loop, which the book's checks report."""


def _instruments(df: pd.DataFrame) -> pd.DataFrame:
    product = df["product"].astype("str")
    return df.assign(
        is_option=product.isin(OPTION_PRODUCTS).astype("bool"),
        is_future=product.isin(FUTURE_PRODUCTS).astype("bool"),
        underlying_price=lookup(df["underlying"], df["instrument_id"], df["price"]).astype(
            "float64"
        ),
    )


def _positions(df: pd.DataFrame, instruments: pd.DataFrame) -> pd.DataFrame:
    # Validation guarantees every instrument_id resolves.
    rows = index_in(df["instrument_id"], instruments["instrument_id"])
    return position_columns(df, instruments, rows)


def position_columns(df: pd.DataFrame, instruments: pd.DataFrame, pos: np.ndarray) -> pd.DataFrame:
    """The positions with their derived columns, ``pos`` being each one's instrument row."""
    price = instruments["price"].to_numpy()[pos]
    mult = instruments["multiplier"].to_numpy()[pos]
    product = instruments["product"].iloc[pos].set_axis(df.index)
    notional = df["quantity"].to_numpy() * price * mult
    is_future = instruments["is_future"].to_numpy()[pos]
    return df.assign(
        price=price,
        multiplier=mult,
        product=product,
        notional=notional,
        # Futures are settled daily (variation margin): no value to count in equity.
        market_value=np.where(is_future, 0.0, notional),
    )


def collateral_columns(df: pd.DataFrame) -> pd.DataFrame:
    """The collateral lots with their derived columns (classified once per distinct asset)."""
    asset = df["asset"].astype("category")
    named = {k: v.value for k, v in ASSET_CLASSES.items()}
    # An asset the table does not name (a missing one too) is a digital asset.
    per_asset = [named.get(str(a), AssetClass.DIGITAL_ASSET.value) for a in asset.cat.categories]
    dtype = enum_dtype(AssetClass)
    digital = dtype.categories.get_loc(AssetClass.DIGITAL_ASSET.value)
    classes = dtype.categories.get_indexer(pd.Index(per_asset))
    by_code = np.array([*classes, digital], dtype=np.int64)
    codes = by_code[asset.cat.codes.to_numpy()]  # code -1 (missing): the last, digital
    klass = pd.Categorical.from_codes(codes, dtype=dtype)
    return df.assign(
        asset_class=klass,
        is_digital_asset=np.asarray(klass == AssetClass.DIGITAL_ASSET.value, dtype=bool),
    )


def derive(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Add the derived columns to canonically ordered frames (extra columns stay last)."""
    instruments = _instruments(frames["instruments"])
    out = {
        "parties": frames["parties"],
        "relations": frames["relations"],
        "accounts": _accounts(frames["accounts"]),
        "instruments": instruments,
        "positions": _positions(frames["positions"], instruments),
        "collateral": collateral_columns(frames["collateral"]),
    }
    return {k: _extras_last(k, frames[k], v) for k, v in out.items()}


def _extras_last(stem: str, original: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    contract = list(SPECS[stem].names)
    derived = [c for c in df.columns if c not in original.columns]
    extras = [c for c in original.columns if c not in contract]
    return df[[*contract, *derived, *extras]]
