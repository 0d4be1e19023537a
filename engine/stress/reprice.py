"""A shocked copy of a book: instruments re-priced, options revalued, collateral re-marked.

Each shock selects instruments and collateral lots by a glob over one column, then:

- ``%``: the price of each selected instrument (or the market value of each selected lot)
  moves by that percent; shocks on one row compound;
- ``bp``: yields of the selected Treasuries (cash, futures, Treasury lots) rise by that many
  basis points; the price falls by ``dv01 × bp / multiplier`` per unit where the book gives a
  ``dv01`` (USD per basis point per contract), else by ``price × years to maturity × bp /
  10,000`` (the zero-coupon duration, an upper bound for a coupon bond);
- ``pts``: the implied volatility of the selected options moves by that many points (floored
  at 1%).

Options are revalued from their underlying: the underlying's shocked price where the book
lists the underlying and it moved, else the option's own percent move applied to the
underlying price; ``new price = mark + BS(S', σ') − BS(S, σ)`` (the mark's distance from the
model is kept). Prices and values never go below 0; cash (USD) is never re-priced. The result
is a new :class:`Book` (the original is untouched) with its own content hash.

Selectors reach collateral as follows: ``asset`` by the lot's asset; ``product`` by the asset
that product is (``ust_note`` → ``UST_NOTE``, ``stock`` → ``STOCK``, ``etf`` → ``ETF``,
``crypto`` → every digital asset but USDC); ``class_group``, ``instrument`` and
``underlying`` select instruments only.
"""

from __future__ import annotations

import datetime as dt
import difflib
import fnmatch
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from marginlex.dsl.model.domain import (
    FUTURE_PRODUCTS,
    TREASURY_ASSETS,
    TREASURY_PRODUCTS,
    Product,
)
from marginlex.engine.book.columns import index_in, isin
from marginlex.engine.book.derive import derive
from marginlex.engine.book.load import Book, canonical_order, content_sha256
from marginlex.engine.book.schema import SPECS
from marginlex.engine.kernels.pricing import black_scholes, years_between
from marginlex.engine.stress.shocks import Scenario, Selector, Shock, ShockError, Unit

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
MIN_VOL = 0.01
RATE_PRODUCTS = frozenset({*(p.value for p in TREASURY_PRODUCTS), Product.UST_FUTURE.value})
_PRODUCT_ASSETS = {
    **{p.value: p.value.upper() for p in TREASURY_PRODUCTS},
    Product.STOCK.value: "STOCK",
    Product.ETF.value: "ETF",
}
_INSTRUMENT_COLUMN = {
    Selector.CLASS_GROUP: "class_group",
    Selector.PRODUCT: "product",
    Selector.INSTRUMENT: "instrument_id",
    Selector.UNDERLYING: "underlying",
}


def glob_mask(values: pd.Series, pattern: str) -> BoolArray:
    """Rows whose value matches a glob (matched once per distinct value, not per row).

    >>> glob_mask(pd.Series(["ust_note", "stock", "ust_bill"]), "ust_*").tolist()
    [True, False, True]

    An id holding a glob character is matched alone with the character bracketed:

    >>> glob_mask(pd.Series(["FUND*A", "FUND-A"]), "FUND[*]A").tolist()
    [True, False]
    """
    rx = re.compile(fnmatch.translate(pattern))
    text = values.astype("str").where(values.notna(), "")
    hits = [v for v in pd.unique(text) if v and rx.match(v)]
    return np.array(text.isin(hits).to_numpy(), dtype=np.bool_)


def _lot_mask(shock: Shock, lots: pd.DataFrame) -> BoolArray:
    asset = lots["asset"].astype("str")
    if shock.selector is Selector.ASSET:
        mask = glob_mask(asset, shock.pattern)
    elif shock.selector is Selector.PRODUCT:
        products = [p.value for p in Product if fnmatch.fnmatchcase(p.value, shock.pattern)]
        assets = {_PRODUCT_ASSETS[p] for p in products if p in _PRODUCT_ASSETS}
        mask = np.array(asset.isin(assets).to_numpy(), dtype=np.bool_)
        if Product.CRYPTO.value in products:
            mask |= lots["is_digital_asset"].to_numpy(bool) & (asset != "USDC").to_numpy()
    else:
        mask = np.zeros(len(lots), dtype=np.bool_)
    return np.array(mask & (asset != "USD").to_numpy(), dtype=np.bool_)


def _instrument_mask(shock: Shock, instruments: pd.DataFrame) -> BoolArray:
    column = _INSTRUMENT_COLUMN.get(shock.selector)
    if column is None:
        return np.zeros(len(instruments), dtype=np.bool_)
    return glob_mask(instruments[column], shock.pattern)


class _Moves:
    """Per-row moves accumulated over a scenario's shocks."""

    def __init__(self, n_instruments: int, n_lots: int) -> None:
        self.rel = np.ones(n_instruments)
        self.bp = np.zeros(n_instruments)
        self.vol = np.zeros(n_instruments)
        self.lot_rel = np.ones(n_lots)
        self.lot_bp = np.zeros(n_lots)


def _apply(shock: Shock, book: Book, moves: _Moves) -> None:
    """Add one shock's moves, refusing a shock that moves nothing in this book."""
    ins, lots = book.instruments, book.collateral
    inst, lot = _instrument_mask(shock, ins), _lot_mask(shock, lots)
    if shock.unit is Unit.PERCENT:
        moves.rel[inst] *= 1.0 + shock.amount / 100.0
        moves.lot_rel[lot] *= 1.0 + shock.amount / 100.0
        hit = bool(inst.any() or lot.any())
    elif shock.unit is Unit.BASIS_POINTS:
        inst &= ins["product"].astype("str").isin(RATE_PRODUCTS).to_numpy()
        lot &= lots["asset"].astype("str").isin(TREASURY_ASSETS).to_numpy()
        moves.bp[inst] += shock.amount
        moves.lot_bp[lot] += shock.amount
        hit = bool(inst.any() or lot.any())
    else:
        inst &= ins["is_option"].to_numpy(bool)
        moves.vol[inst] += shock.amount / 100.0
        hit = bool(inst.any())
    if not hit:
        raise _nothing_matched(shock, book)


def _nothing_matched(shock: Shock, book: Book) -> ShockError:
    what = {Unit.PERCENT: "", Unit.BASIS_POINTS: " Treasury", Unit.VOL_POINTS: " option"}
    column = _INSTRUMENT_COLUMN.get(shock.selector)
    frame = book.collateral if column is None else book.instruments
    values = sorted(set(frame[column or "asset"].dropna().astype("str")) - {"", "USD"})
    selected = any(fnmatch.fnmatchcase(v, shock.pattern) for v in values)
    if selected and shock.unit is not Unit.PERCENT:
        # the rows exist, but a yield or a volatility cannot move them: say so, not "did
        # you mean" the very value typed
        kind, example = (
            ("Treasuries", "product=ust_*")
            if shock.unit is Unit.BASIS_POINTS
            else ("options", "product=*_option")
        )
        return ShockError(
            f"--shock {shock.text()!r}",
            f"the rows it selects are not {kind}: a move in {shock.unit.value} moves only {kind}",
            f"select {kind} (e.g. {example}), or move a price in percent",
        )
    same = [v for v in values if v.lower() == shock.pattern.lower()]  # "spx" for SPX
    close = same or difflib.get_close_matches(shock.pattern, values, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    shown = ", ".join(values[:12]) + (", ..." if len(values) > 12 else "")
    return ShockError(
        f"--shock {shock.text()!r}",
        f"matches no{what[shock.unit]} row of book {book.name!r}",
        f"{hint}{shock.selector.value} values in the book: {shown or 'none'}",
    )


def _rate_drop(ins: pd.DataFrame, price: FloatArray, bp: FloatArray, as_of: dt.date) -> FloatArray:
    """Price fall per unit for a yield rise: by dv01 where given, else by zero-coupon duration."""
    years = np.maximum(
        np.nan_to_num(years_between(as_of.isoformat(), ins["maturity"].to_numpy())), 0.0
    )
    dv01 = ins["dv01"].to_numpy(dtype="float64", na_value=np.nan)
    by_dv01 = dv01 / ins["multiplier"].to_numpy(dtype="float64") * bp
    return np.where(np.isnan(dv01), price * years * bp / 1e4, by_dv01)


def _option_prices(
    ins: pd.DataFrame, new_price: FloatArray, moves: _Moves, as_of: dt.date
) -> FloatArray:
    """Every option revalued from its shocked underlying and volatility (others unchanged)."""
    opt = ins["is_option"].to_numpy(bool)
    price = ins["price"].to_numpy(dtype="float64")
    ids = ins["instrument_id"].astype("str")
    where = pd.Index(ids).get_indexer(pd.Index(ins["underlying"].astype("str")))
    listed = where >= 0
    # The underlying's move as a ratio; one priced 0 stays 0 under any move: no ratio (0/0)
    base = price[where]
    moved = listed & (base > 0)
    ratio_u = np.divide(new_price[where], base, out=np.ones(len(ins)), where=moved)
    ratio = np.where(listed & (ratio_u != 1.0), ratio_u, moves.rel)
    spot = ins["underlying_price"].to_numpy(dtype="float64", na_value=np.nan)
    strike = ins["strike"].to_numpy(dtype="float64", na_value=np.nan)
    vol = ins["implied_vol"].to_numpy(dtype="float64", na_value=np.nan)
    t = years_between(as_of.isoformat(), ins["maturity"].to_numpy())
    is_call = (ins["option_type"].astype("str") == "call").to_numpy()
    # Only an option whose underlying or volatility moved is revalued: the others keep
    # their mark to the last bit.
    sel = opt & ~np.isnan(spot) & ((ratio != 1.0) | (moves.vol != 0.0))
    before = black_scholes(spot[sel], strike[sel], t[sel], vol[sel], is_call[sel])
    shifted = np.maximum(vol[sel] + moves.vol[sel], MIN_VOL)
    after = black_scholes(spot[sel] * ratio[sel], strike[sel], t[sel], shifted, is_call[sel])
    out = np.where(opt, price * moves.rel, new_price)  # an option without a spot: its own move
    out[sel] = price[sel] + (after - before)
    return np.maximum(out, 0.0)


VM_PREFIX = "VM:"
"""The lot id prefix of a shocked book's variation settlement lots (``VM:<account id>``)."""


def _with_settlement(lots: pd.DataFrame, book: Book, price: FloatArray) -> pd.DataFrame:
    """Collateral plus one USD lot per account holding futures: their variation settlement.

    Futures count 0 in equity (they are settled daily), so a price move on them reaches the
    account as cash: ``quantity × multiplier × (shocked − current price)``, a debit balance
    when negative.
    """
    pos = book.positions
    # Only the accounts holding a future can settle; each keeps all its rows, so that its
    # sum runs over the same values in the same order as over the whole book.
    held = pos.loc[pos["product"].isin(FUTURE_PRODUCTS).to_numpy(bool), "account_id"]
    pos = pos[isin(pos["account_id"], held.unique())]
    where = index_in(pos["instrument_id"], book.instruments["instrument_id"])
    future = book.instruments["is_future"].to_numpy(bool)[where]
    move = price[where] - book.instruments["price"].to_numpy(dtype="float64")[where]
    pnl = np.where(future, pos["quantity"].to_numpy() * pos["multiplier"].to_numpy() * move, 0.0)
    by_account = pd.Series(pnl).groupby(pos["account_id"].reset_index(drop=True), sort=True).sum()
    by_account = by_account[by_account != 0.0]
    if by_account.empty:
        return lots
    settle = pd.DataFrame(
        {
            "lot_id": VM_PREFIX + by_account.index.astype("str"),
            "account_id": by_account.index.astype("str"),
            "asset": pd.Series(["USD"] * len(by_account)).astype(lots["asset"].dtype),
            "market_value": by_account.to_numpy(),
            "maturity": pd.Series(
                pd.NaT, index=range(len(by_account)), dtype=lots["maturity"].dtype
            ),
            "pledged_to": pd.Series([None] * len(by_account), dtype=lots["pledged_to"].dtype),
        }
    )
    merged = pd.concat([lots, settle], ignore_index=True)
    return canonical_order(SPECS["collateral"], merged)


def shock_book(book: Book, scenario: Scenario | Sequence[Shock]) -> Book:
    """A new book with the scenario's shocks applied (the given book is not changed).

    Raises:
        ShockError: a shock matches nothing it could move in this book.
    """
    frames = shocked_frames(book, scenario)
    return book.model_copy(update={"sha256": content_sha256(book.meta, frames), **derive(frames)})


def shocked_frames(book: Book, scenario: Scenario | Sequence[Shock]) -> dict[str, pd.DataFrame]:
    """The contract frames of the shocked book, in canonical order, neither derived nor hashed.

    What :func:`shock_book` makes a book of; ``stress`` stacks these frames as they are
    (the stack is derived once, and a shocked copy's hash is never recorded).

    Raises:
        ShockError: a shock matches nothing it could move in this book.
    """
    shocks = scenario.shocks if isinstance(scenario, Scenario) else tuple(scenario)
    ins, lots = book.instruments, book.collateral
    moves = _Moves(len(ins), len(lots))
    for shock in shocks:  # a few shocks, each over whole columns
        _apply(shock, book, moves)
    price = ins["price"].to_numpy(dtype="float64") * moves.rel
    price = np.maximum(price - _rate_drop(ins, price, moves.bp, book.as_of), 0.0)
    price = _option_prices(ins, price, moves, book.as_of)
    vol = ins["implied_vol"].to_numpy(dtype="float64", na_value=np.nan)
    lot_years = np.maximum(
        np.nan_to_num(years_between(book.as_of.isoformat(), lots["maturity"].to_numpy())), 0.0
    )
    value = lots["market_value"].to_numpy(dtype="float64") * moves.lot_rel
    value = np.where(
        value > 0, np.maximum(value * (1 - lot_years * moves.lot_bp / 1e4), 0.0), value
    )
    frames = book.contract_frames()
    frames["instruments"] = frames["instruments"].assign(
        price=price,
        implied_vol=np.where(moves.vol != 0.0, np.maximum(vol + moves.vol, MIN_VOL), vol),
    )
    lots_now = frames["collateral"].assign(market_value=value)
    frames["collateral"] = _with_settlement(lots_now, book, price)
    return frames
