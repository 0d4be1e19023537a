"""Strategy-based margin per position (Reg T, 12 CFR 220; FINRA Rule 4210(c) style).

The fallback for accounts not eligible for portfolio margin. Per position:

- long stock or ETF: ``long_equity_rate`` x market value; short: ``short_equity_rate`` x
  |market value|, at least ``short_equity_per_share`` x shares, a stock priced below
  ``short_equity_low_price.under`` a share taking that tier's rate and per-share amount
  (FINRA Rule 4210(c): $5.00 a share or 30%, under $5.00 $2.50 a share or 100%, whichever
  is greater; rows ``short_equity_per_share_minimum`` and ``short_equity_low_price`` where
  those figures won);
- long option: ``long_option_rate`` x its value (paid in full: 100%);
- short uncovered option: premium + ``underlying_rate`` x underlying value - out-of-the-money
  amount, at least premium + ``minimum_rate`` x underlying value (calls) or x strike value
  (puts); broad-based index options (``index_class`` in ``broad_index_classes``) use their own
  rates (15% / 10%), other options the equity rates (20% / 10%);
- anything else (futures, Treasuries, crypto held as positions): the optional per-position
  ``other_rate`` column (a rulebook's rate rows), else ``params.other_rate``, x |notional|.

**Covered calls.** Long stock in the same account covers short calls on it, whole contracts
only: a contract needs its whole deliverable (multiplier shares), so 485 shares cover 4 calls
on 100 shares and no part of a fifth (FINRA Rule 4210(f)(2)(G): a call is covered when the
account holds the underlying it would deliver). Within one (account, underlying), short
calls are covered in order of ascending strike, then time to expiry (the deepest
in-the-money call, which carries the largest requirement, first); shares left over from a
position's last whole contract cover no later call. A covered contract carries no option
requirement; a partly covered position pays the uncovered requirement on its uncovered
contracts (``covered_fraction``). The stock keeps its own requirement.

**Stock held as collateral.** A row marked ``cover_only`` (a collateral lot of stock held
in the account, :func:`cover_only`) covers short calls like long stock, whole deliverables
only, but is charged nothing: the lot's haircut is taken in the value. A call covered in
full only thanks to such a lot is named ``short_call_covered_by_collateral``.

**Covered puts.** Short stock in the same account covers short puts on it the same way,
whole contracts only, the highest strike (the deepest in the money) first: a covered put
carries no requirement (``short_put_covered``) and the short stock keeps its own (FINRA Rule
4210(f)(2); read: a broker's margin page, "no requirement on the short put" against short
stock). The account's value already deducts both the short stock and the put at market, so
an in-the-money put's exercise value is in the value, not in the requirement. Not in a cash
account (``held_in_cash``): a short sale is not permitted there (220.8(a)(2)), so it covers
nothing.

**Spreads.** With a ``spread_rate`` (the rulebook's ``option_spread`` leg), short options
still uncovered are paired with long options of the same type on the same underlying and
charged the pair's maximum loss (:mod:`marginlex.engine.kernels.spreads`, FINRA Rule
4210(f)(2)(G)); without one (rulebooks written before it) no spread is recognised. A call
credit spread and a put credit spread whose shorts expire together (a short iron condor or
butterfly, a short box) are then charged together their combination's maximum loss, the
greater spread's short carrying it (``short_call_spread_combined``,
``short_put_spread_combined``) and the other's nothing.

**Held in cash** (``held_in_cash``, a cash account, 12 CFR 220.8 and 220.2). The account's
value already deducts a short position's market value as a liability (a short stock's, a
short option's premium), so a short leg is charged the cash it must have held *less* that
market value, and the liability counts once: a short stock ``short_equity_rate`` x its
market value less its market value (at 100%: 0 beyond the proceeds, which must stay in the
account); an uncovered short option ``underlying_rate`` x underlying value - out-of-the-money
amount, at least ``minimum_rate`` x underlying value (calls) or strike value (puts), with no
premium term, less its premium (at 100% / 100%: the exercise price of a put, the
deliverable's value of a call). The call is then the cash held short of what 220.8 asks:
max(0, strike amount - cash) for a put. A covered call needs no cash (220.8(a)(3): the
stock held delivers it), so its contracts are charged minus their premium, the liability the
value deducts, at most the value of the shares that deliver them: the stock's 100% and the
call's liability then net to what the stock is worth with the call written, and the call is
the account's debit only (stock 150, a call struck at 100 worth 50, no cash: 15,000 - 5,000
= 10,000 against a value of 10,000, no call, where charging the call 0 called 5,000). These
positions take their own rows (``short_equity_held_in_cash``, ``short_call_held_in_cash``,
``short_put_held_in_cash``, ``short_call_covered_held_in_cash``); a partly covered call's row
nets its covered contracts' credit; no straddle is paired (each leg holds its own cash);
spreads are as above (a spread's charge already nets the premiums).

**Expired options.** An option whose expiry is before the as-of date (``t`` < 0) is no live
option: it expired worthless or was exercised or assigned, which the book has not recorded
(its loader warns of the stale row). It is charged nothing (``expired_option``), covers and
pairs with nothing, and is covered by nothing; its market value stays in the account's value
at the book's mark. An option expiring on the as-of date (``t`` = 0) is still live that day.

**Straddles and strangles.** With a ``straddle_rate`` (the rulebook's ``short_straddle``
leg), short calls and short puts still charged alone after covering and spreads are paired
on the same underlying and charged the greater leg's requirement plus the other leg's
premium (:mod:`marginlex.engine.kernels.straddles`); without one both legs are charged.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from marginlex.dsl.model.domain import Product
from marginlex.engine.kernels.grouping import (
    FloatArray,
    IntArray,
    categorical,
    group_by_set_and_label,
)
from marginlex.engine.kernels.spreads import Spreads, option_spreads
from marginlex.engine.kernels.straddles import Straddles, short_straddles
from marginlex.engine.kernels.text import as_text

STRATEGY_COLUMNS = (
    "margin_set",
    "account_id",
    "instrument_id",
    "underlying",
    "product",
    "index_class",
    "quantity",
    "multiplier",
    "price",
    "underlying_price",
    "strike",
    "t",
    "is_option",
    "is_call",
)
"""Columns :func:`strategy_based` reads."""


class StrategyRow(StrEnum):
    """Which strategy-based row priced a position."""

    LONG_EQUITY = "long_equity"
    SHORT_EQUITY = "short_equity"
    LONG_OPTION = "long_option"
    SHORT_CALL_UNCOVERED = "short_call_uncovered"
    SHORT_CALL_COVERED = "short_call_covered"
    SHORT_PUT_UNCOVERED = "short_put_uncovered"
    OTHER = "other"
    SHORT_CALL_SPREAD = "short_call_spread"
    SHORT_PUT_SPREAD = "short_put_spread"
    LONG_OPTION_SPREAD = "long_option_spread"
    SHORT_CALL_STRADDLE = "short_call_straddle"
    SHORT_PUT_STRADDLE = "short_put_straddle"
    SHORT_EQUITY_HELD_IN_CASH = "short_equity_held_in_cash"
    SHORT_CALL_HELD_IN_CASH = "short_call_held_in_cash"
    SHORT_PUT_HELD_IN_CASH = "short_put_held_in_cash"
    SHORT_EQUITY_LOW_PRICE = "short_equity_low_price"
    SHORT_EQUITY_PER_SHARE_MINIMUM = "short_equity_per_share_minimum"
    SHORT_CALL_COVERED_HELD_IN_CASH = "short_call_covered_held_in_cash"
    SHORT_PUT_COVERED = "short_put_covered"
    EXPIRED_OPTION = "expired_option"
    SHORT_CALL_PARTLY_COVERED = "short_call_partly_covered"
    SHORT_CALL_PARTLY_COVERED_SPREAD = "short_call_partly_covered_spread"
    SHORT_CALL_PARTLY_COVERED_STRADDLE = "short_call_partly_covered_straddle"
    SHORT_CALL_PARTLY_COVERED_HELD_IN_CASH = "short_call_partly_covered_held_in_cash"
    SHORT_PUT_PARTLY_COVERED = "short_put_partly_covered"
    SHORT_PUT_PARTLY_COVERED_SPREAD = "short_put_partly_covered_spread"
    SHORT_PUT_PARTLY_COVERED_STRADDLE = "short_put_partly_covered_straddle"
    SHORT_CALL_COVERED_BY_COLLATERAL = "short_call_covered_by_collateral"
    SHORT_CALL_SPREAD_COMBINED = "short_call_spread_combined"
    SHORT_PUT_SPREAD_COMBINED = "short_put_spread_combined"


class OptionRates(BaseModel):
    """Short uncovered option rates: ``underlying_rate`` (20%) and ``minimum_rate`` (10%)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    underlying_rate: float = Field(ge=0.0)
    minimum_rate: float = Field(ge=0.0)


class LowPriceRates(BaseModel):
    """A short stock priced below ``under`` (USD a share): ``rate`` of its market value, at
    least ``per_share`` USD a share (FINRA Rule 4210(c): under $5.00, 100% or $2.50)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    under: float = Field(ge=0.0)
    rate: float = Field(ge=0.0)
    per_share: float = Field(default=0.0, ge=0.0)


class StrategyParams(BaseModel):
    """Rates of the strategy-based method (fractions); per-share amounts in USD."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    long_equity_rate: float = Field(ge=0.0)
    short_equity_rate: float = Field(ge=0.0)
    long_option_rate: float = Field(default=1.0, ge=0.0)
    equity_option: OptionRates
    broad_index_option: OptionRates
    broad_index_classes: tuple[str, ...] = ("high_cap_broad", "broad")
    other_rate: float = Field(ge=0.0)
    spread_rate: float | None = Field(default=None, ge=0.0)
    straddle_rate: float | None = Field(default=None, ge=0.0)
    held_in_cash: bool = False
    short_equity_per_share: float = Field(default=0.0, ge=0.0)
    short_equity_low_price: LowPriceRates | None = None


def cover_only(frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Rows that only cover (the optional ``cover_only`` column): a collateral lot of stock
    held in the account, which covers short calls on it like long stock (12 CFR
    220.4(b)(4)(ii): "a security held in the account serves in lieu of the required margin
    for a short call") but is charged nothing here (its haircut is taken in the value)."""
    if "cover_only" not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame["cover_only"].to_numpy(dtype=bool)


def expired_options(frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Options whose expiry is before the as-of date (time to expiry ``t`` below 0; one
    expiring on the as-of date, ``t`` = 0, is live that day).

    >>> frame = pd.DataFrame({"is_option": [True, True, True, False],
    ...                       "t": [-11 / 365, 0.0, np.nan, -1.0]})
    >>> expired_options(frame).tolist()
    [True, False, False, False]
    """
    t = frame["t"].to_numpy(np.float64)
    return frame["is_option"].to_numpy(dtype=bool) & (t < 0)  # NaN (no expiry): live


def _short_option_terms(frame: pd.DataFrame, params: StrategyParams) -> dict[str, FloatArray]:
    """Premium, underlying value, OTM amount, base and floor of every row as a short option."""
    size = np.abs(frame["quantity"].to_numpy(np.float64)) * frame["multiplier"].to_numpy(np.float64)
    spot = np.nan_to_num(frame["underlying_price"].to_numpy(np.float64))
    strike = np.nan_to_num(frame["strike"].to_numpy(np.float64))
    is_call = frame["is_call"].to_numpy(dtype=bool)
    broad = (as_text(frame["product"]) == Product.INDEX_OPTION.value) & as_text(
        frame["index_class"]
    ).isin(params.broad_index_classes)
    broad_arr = broad.to_numpy(dtype=bool)
    under_rate = np.where(
        broad_arr, params.broad_index_option.underlying_rate, params.equity_option.underlying_rate
    )
    min_rate = np.where(
        broad_arr, params.broad_index_option.minimum_rate, params.equity_option.minimum_rate
    )
    premium = frame["price"].to_numpy(np.float64) * size
    underlying_value = spot * size
    otm = np.where(is_call, np.maximum(strike - spot, 0.0), np.maximum(spot - strike, 0.0)) * size
    # margin: the premium on top of the rate; held in cash: the cash to hold, which the
    # premium (already deducted from the value as the option's market value) is taken from
    sign = -1.0 if params.held_in_cash else 1.0
    base = sign * premium + under_rate * underlying_value - otm
    floor = sign * premium + min_rate * np.where(is_call, underlying_value, strike * size)
    return {
        "premium": premium,
        "underlying_value": underlying_value,
        "otm_amount": otm,
        "base_requirement": base,
        "floor_requirement": floor,
        "uncovered_requirement": np.maximum(base, floor),
    }


def _covered_fraction(
    frame: pd.DataFrame, short_option: np.ndarray, stock: np.ndarray, strike_sign: float = 1.0
) -> FloatArray:
    """Share of each short option covered by the ``stock`` positions of its account (long
    stock for calls, short stock for puts), taken in order of ``strike_sign`` x strike (calls
    ascending, puts descending: the deepest in the money first), then expiry."""
    fraction = np.zeros(len(frame))
    if not (short_option.any() and stock.any()):
        return fraction
    # keyed and grouped: the short options (by underlying) and the stock (by itself) only
    (part,) = np.nonzero(short_option | stock)
    sub = frame.iloc[part]
    cover_key = as_text(sub["underlying"]).where(short_option[part], as_text(sub["instrument_id"]))
    accounts, _ = pd.factorize(sub["account_id"], sort=True)
    index = group_by_set_and_label(accounts, cover_key.fillna("").rename("cover_key"))
    shares = np.abs(sub["quantity"].to_numpy(np.float64) * sub["multiplier"].to_numpy(np.float64))
    available = np.bincount(
        index.codes, weights=np.where(stock[part], shares, 0.0), minlength=index.size
    )
    rows = np.flatnonzero(short_option[part])
    codes: IntArray = index.codes[rows]
    strike = strike_sign * sub["strike"].to_numpy(np.float64)[rows]
    order = np.lexsort((sub["t"].to_numpy(np.float64)[rows], strike, codes))
    need = shares[rows][order]
    before = np.cumsum(need) - need
    starts = np.r_[True, codes[order][1:] != codes[order][:-1]]
    before -= before[starts][np.cumsum(starts) - 1]  # cumulative need within the group only
    covered = np.clip(available[codes[order]] - before, 0.0, need)
    # a contract is covered only by its whole deliverable: 85 shares cover no part of a call
    # on 100 (the stock left over covers no later call: conservative)
    mult = sub["multiplier"].to_numpy(np.float64)[rows][order]
    whole = np.floor(covered / np.where(mult > 0, mult, 1.0) + 1e-9) * mult
    # a position covered in full (to float noise: 0.9 contracts of 100 need 89.99999999999999)
    full = covered >= need - 1e-9 * np.maximum(need, 1.0)
    covered = np.where(full, need, np.minimum(whole, covered))
    fraction[part[rows[order]]] = np.where(need > 0, covered / np.where(need > 0, need, 1.0), 0.0)
    return fraction


Row = tuple[npt.NDArray[np.bool_], StrategyRow, FloatArray]


def _short_equity_rows(
    frame: pd.DataFrame, params: StrategyParams, short_equity: npt.NDArray[np.bool_]
) -> list[Row]:
    """A short stock's rows: ``short_equity_rate`` x market value, at least
    ``short_equity_per_share`` x shares, a stock priced below the low-price bound taking that
    tier's rate and amount (FINRA Rule 4210(c)); the row names the figure that won: the
    per-share minimum, the low-price rate, else the plain rate. Held in cash: the market
    value to hold, less the liability the value deducts (no per-share figure)."""
    shares = np.abs(
        frame["quantity"].to_numpy(np.float64) * frame["multiplier"].to_numpy(np.float64)
    )
    price = frame["price"].to_numpy(np.float64)
    notional = shares * np.abs(price)
    if params.held_in_cash:
        cash = (params.short_equity_rate - 1.0) * notional
        return [(short_equity, StrategyRow.SHORT_EQUITY_HELD_IN_CASH, cash)]
    tier = params.short_equity_low_price
    low = short_equity & (price < tier.under) if tier else np.zeros(len(frame), dtype=bool)
    rate = np.where(low, tier.rate if tier else 0.0, params.short_equity_rate) * notional
    minimum = np.where(low, tier.per_share if tier else 0.0, params.short_equity_per_share) * shares
    requirement = np.maximum(rate, minimum)
    return [
        (short_equity & (minimum > rate), StrategyRow.SHORT_EQUITY_PER_SHARE_MINIMUM, requirement),
        (short_equity & low, StrategyRow.SHORT_EQUITY_LOW_PRICE, requirement),
        (short_equity, StrategyRow.SHORT_EQUITY, requirement),
    ]


def _strategy_rows(
    frame: pd.DataFrame, params: StrategyParams, terms: dict[str, FloatArray]
) -> tuple[list[Row], FloatArray, FloatArray]:
    """(mask, row, requirement) in priority order, the covered fraction, the other rate's
    requirement."""
    quantity = frame["quantity"].to_numpy(np.float64)
    price = frame["price"].to_numpy(np.float64)
    notional = np.abs(quantity * frame["multiplier"].to_numpy(np.float64) * price)
    is_option = frame["is_option"].to_numpy(dtype=bool)
    is_call = frame["is_call"].to_numpy(dtype=bool)
    equity = as_text(frame["product"]).isin([Product.STOCK.value, Product.ETF.value])
    lot = cover_only(frame)
    long_equity = equity.to_numpy(dtype=bool) & (quantity > 0) & ~lot
    short_equity = equity.to_numpy(dtype=bool) & (quantity < 0) & ~lot
    short_call = is_option & is_call & (quantity < 0)
    short_put = is_option & ~is_call & (quantity < 0)
    long_option = is_option & (quantity > 0)
    covered = _covered_fraction(frame, short_call, long_equity | (lot & (quantity > 0)))
    if not params.held_in_cash:  # a cash account's short sale is no cover (220.8(a)(2))
        covered += _covered_fraction(frame, short_put, short_equity, strike_sign=-1.0)
    sp = _spreads(frame, params, terms, 1.0 - covered)
    contracts = np.abs(quantity)
    per_short = terms["uncovered_requirement"] / np.where(contracts > 0, contracts, 1.0)
    per_long = params.long_option_rate * notional / np.where(contracts > 0, contracts, 1.0)
    alone = (1.0 - covered) * terms["uncovered_requirement"] - sp.paired * per_short
    left = np.where(short_call | short_put, contracts * (1.0 - covered) - sp.paired, 0.0)
    st = _straddles(
        frame, params, terms, np.where(short_call, left, 0.0), np.where(short_put, left, 0.0)
    )
    alone = alone - st.paired * per_short
    in_spread, in_straddle = sp.paired > 0, st.paired > 0
    # a call spread charged with a put spread (an iron condor or butterfly, a short box)
    combined = np.zeros(len(frame)) if sp.combined is None else sp.combined
    in_combination = combined > 0
    short_total = alone + sp.requirement + st.requirement
    long_left = (contracts - sp.paired) * per_long
    cash = params.held_in_cash
    # a position some of whose contracts are covered and some not names both parts: its
    # covered contracts carry nothing, the rest what its row says (alone, spread, straddle)
    partly = (covered > 0.0) & (covered < 1.0)
    # covered in full only with a lot's shares: the row says the collateral covered it
    by_lot = np.zeros(len(frame), dtype=bool)
    if lot.any():
        by_lot = (covered >= 1.0) & (_covered_fraction(frame, short_call, long_equity) < 1.0)
    r = StrategyRow
    rows: list[Row] = [
        (long_equity, r.LONG_EQUITY, params.long_equity_rate * notional),
        *_short_equity_rows(frame, params, short_equity),
        (long_option & in_spread, r.LONG_OPTION_SPREAD, long_left),
        (long_option, r.LONG_OPTION, params.long_option_rate * notional),
        (short_call & by_lot, r.SHORT_CALL_COVERED_BY_COLLATERAL, np.zeros(len(frame))),
        (
            short_call & (covered >= 1.0),
            r.SHORT_CALL_COVERED_HELD_IN_CASH if cash else r.SHORT_CALL_COVERED,
            np.zeros(len(frame)),
        ),
        (short_call & partly & in_spread, r.SHORT_CALL_PARTLY_COVERED_SPREAD, short_total),
        (short_call & partly & in_straddle, r.SHORT_CALL_PARTLY_COVERED_STRADDLE, short_total),
        (
            short_call & partly,
            r.SHORT_CALL_PARTLY_COVERED_HELD_IN_CASH if cash else r.SHORT_CALL_PARTLY_COVERED,
            short_total,
        ),
        (short_call & in_combination, r.SHORT_CALL_SPREAD_COMBINED, short_total),
        (short_call & in_spread, r.SHORT_CALL_SPREAD, short_total),
        (short_call & in_straddle, r.SHORT_CALL_STRADDLE, short_total),
        (short_call, r.SHORT_CALL_HELD_IN_CASH if cash else r.SHORT_CALL_UNCOVERED, short_total),
        (short_put & (covered >= 1.0), r.SHORT_PUT_COVERED, np.zeros(len(frame))),
        (short_put & partly & in_spread, r.SHORT_PUT_PARTLY_COVERED_SPREAD, short_total),
        (short_put & partly & in_straddle, r.SHORT_PUT_PARTLY_COVERED_STRADDLE, short_total),
        (short_put & partly, r.SHORT_PUT_PARTLY_COVERED, short_total),
        (short_put & in_combination, r.SHORT_PUT_SPREAD_COMBINED, short_total),
        (short_put & in_spread, r.SHORT_PUT_SPREAD, short_total),
        (short_put & in_straddle, r.SHORT_PUT_STRADDLE, short_total),
        (short_put, r.SHORT_PUT_HELD_IN_CASH if cash else r.SHORT_PUT_UNCOVERED, short_total),
    ]
    return rows, covered, _other_rates(frame, params) * notional


def _covered_credit(
    frame: pd.DataFrame, params: StrategyParams, terms: dict[str, FloatArray], covered: FloatArray
) -> FloatArray:
    """Held in cash, per short call: minus the premium of its covered contracts, at most the
    value of the shares that deliver them (the liability the value deducts for a call the
    stock delivers, 12 CFR 220.8(a)(3)); 0 elsewhere, and in a margin account."""
    if not params.held_in_cash:
        return np.zeros(len(frame))
    call = frame["is_call"].to_numpy(dtype=bool)
    return -np.where(call, covered, 0.0) * np.minimum(terms["premium"], terms["underlying_value"])


def _spreads(
    frame: pd.DataFrame, params: StrategyParams, terms: dict[str, FloatArray], share: FloatArray
) -> Spreads:
    """Spread pairs of the short options' still uncovered ``share`` (none without a rate)."""
    n = len(frame)
    if params.spread_rate is None or not n:
        return Spreads(np.zeros(n), np.zeros(n))
    contracts = np.abs(frame["quantity"].to_numpy(np.float64))
    safe = np.where(contracts > 0, contracts, 1.0)
    price = frame["price"].to_numpy(np.float64) * frame["multiplier"].to_numpy(np.float64)
    priced = frame.assign(
        uncovered=terms["uncovered_requirement"] / safe,
        long_charge=params.long_option_rate * np.abs(price),
    )
    return option_spreads(priced, contracts * share, params.spread_rate)


def _straddles(
    frame: pd.DataFrame,
    params: StrategyParams,
    terms: dict[str, FloatArray],
    call_left: FloatArray,
    put_left: FloatArray,
) -> Straddles:
    """Straddle pairs of the short call and short put contracts still to charge alone (none
    without a rate); each pair charged ``straddle_rate`` x (greater leg + other premium),
    never more than its legs alone."""
    n = len(frame)
    if params.straddle_rate is None or params.held_in_cash or not n:
        return Straddles(np.zeros(n), np.zeros(n))
    contracts = np.abs(frame["quantity"].to_numpy(np.float64))
    safe = np.where(contracts > 0, contracts, 1.0)
    per_short = terms["uncovered_requirement"] / safe
    premium = frame["price"].to_numpy(np.float64) * frame["multiplier"].to_numpy(np.float64)
    usable = per_short > 0
    st = short_straddles(
        frame,
        np.maximum(np.where(usable, call_left, 0.0), 0.0),
        np.maximum(np.where(usable, put_left, 0.0), 0.0),
        per_short,
        np.abs(premium),
    )
    capped = np.minimum(params.straddle_rate * st.requirement, st.paired * per_short)
    return Straddles(st.paired, capped)


def _other_rates(frame: pd.DataFrame, params: StrategyParams) -> FloatArray:
    """Per position rate for positions no leg covers: the optional ``other_rate`` column
    (a rulebook's rate rows; NaN where none matched), else ``params.other_rate``."""
    if "other_rate" not in frame.columns:
        return np.full(len(frame), params.other_rate)
    rates = frame["other_rate"].to_numpy(np.float64)
    return np.where(np.isnan(rates), params.other_rate, rates)


def strategy_based(frame: pd.DataFrame, params: StrategyParams) -> pd.DataFrame:
    """Strategy-based requirement of every position.

    Args:
        frame: one row per position with :data:`STRATEGY_COLUMNS`.
        params: the rates.

    Returns:
        Per position, aligned with ``frame``: ``strategy_row`` (categorical
        :class:`StrategyRow`), ``requirement``, ``covered_fraction``, ``premium``,
        ``underlying_value``, ``otm_amount``, ``base_requirement``, ``floor_requirement``
        (the last five meaningful on short option rows). Held in cash, a covered call's
        ``requirement`` is negative: minus its premium (``short_call_covered_held_in_cash``).

    Raises:
        ValueError: a column is missing.
    """
    missing = [c for c in STRATEGY_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"strategy-based input lacks columns: {', '.join(missing)}")
    expired = expired_options(frame)
    if expired.any():  # no live option: out of covering, spreads and straddles
        frame = frame.assign(quantity=np.where(expired, 0.0, frame["quantity"].to_numpy()))
    terms = _short_option_terms(frame, params)
    rows, covered, other = _strategy_rows(frame, params, terms)
    credit = _covered_credit(frame, params, terms, covered)
    labels = list(StrategyRow)
    masks = [mask for mask, _, _ in rows]
    masks[:0] = [cover_only(frame), expired]  # a lot's cover row is charged nothing here
    code = np.select(
        masks,
        [
            labels.index(StrategyRow.OTHER),
            labels.index(StrategyRow.EXPIRED_OPTION),
            *(labels.index(r) for _, r, _ in rows),
        ],
        labels.index(StrategyRow.OTHER),
    )
    zero = np.zeros(len(frame))
    requirement = np.select(masks, [zero, zero, *(v for _, _, v in rows)], other)
    # the short option rows, whichever of them priced the position
    short_option = frame["is_option"].to_numpy(dtype=bool) & (frame["quantity"].to_numpy() < 0)
    out = pd.DataFrame(
        {
            "strategy_row": categorical(code, [r.value for r in labels]),
            "requirement": np.maximum(requirement, 0.0) + credit,
            "covered_fraction": covered,
        },
        index=frame.index,
    )
    for name in (
        "premium",
        "underlying_value",
        "otm_amount",
        "base_requirement",
        "floor_requirement",
    ):
        out[name] = np.where(short_option, terms[name], 0.0)
    return out
