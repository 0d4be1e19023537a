"""The instrument universe of a synthetic book: stocks, ETFs, option chains, futures,
Treasuries, crypto and security-based swaps, with lookup arrays for building strategies.

Option prices are Black-Scholes values (rate 0) of the generated implied volatilities, so
that a book's marks are consistent with the model the SEC rulebook revalues with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from scipy.special import ndtr

from marginlex.engine.book.schema import INSTRUMENTS

# An ETF and its index are different underlyings (docs/domain-decisions.md): each ETF is a
# class group of its own (its id), in its index's product group (index_class), so it offsets
# the index's futures by the product-group credit, never 100% as one class group.
ETFS = (  # id, index_class, price
    ("SPY", "high_cap_broad", 600.0),
    ("QQQ", "high_cap_broad", 520.0),
    ("IWM", "broad", 220.0),
    ("XLF", "narrow", 48.0),
    ("XLE", "narrow", 90.0),
    ("XLK", "narrow", 230.0),
)
INDEX_FUTURES = (  # root, etf it tracks, the index's class group, multiplier, price ratio
    ("ES", "SPY", "SPX", 50.0, 10.0),
    ("NQ", "QQQ", "NDX", 20.0, 40.0),
    ("RTY", "IWM", "RUT", 50.0, 10.0),
)
UST_FUTURES = (  # root, class group, multiplier, price, dv01 per contract
    ("ZT", "UST_2Y", 2000.0, 103.0, 38.0),
    ("ZF", "UST_5Y", 1000.0, 108.0, 45.0),
    ("ZN", "UST_10Y", 1000.0, 110.5, 70.0),
    ("ZB", "UST_30Y", 1000.0, 118.0, 150.0),
)
CASH_UST = (  # id stem, product, years to maturity, class group
    ("B3M", "ust_bill", 0.25, "UST_BILL"),
    ("B6M", "ust_bill", 0.5, "UST_BILL"),
    ("B1Y", "ust_bill", 1.0, "UST_BILL"),
    ("N2Y", "ust_note", 2.0, "UST_2Y"),
    ("N3Y", "ust_note", 3.0, "UST_2Y"),
    ("N5Y", "ust_note", 5.0, "UST_5Y"),
    ("N7Y", "ust_note", 7.0, "UST_5Y"),
    ("N10Y", "ust_note", 10.0, "UST_10Y"),
    ("B20Y", "ust_bond", 20.0, "UST_30Y"),
    ("B30Y", "ust_bond", 30.0, "UST_30Y"),
    ("S15Y", "ust_strip", 15.0, "UST_10Y"),
)
DELIVERABLE = {"ZT": "N2Y", "ZF": "N5Y", "ZN": "N10Y", "ZB": "B30Y"}
MONEYNESS = np.array([-0.20, -0.10, -0.05, 0.0, 0.05, 0.10, 0.20])
ATM = 3  # index of 0.0 in MONEYNESS
COLUMNS = INSTRUMENTS.names  # the contract order, from the one schema


@dataclass(frozen=True)
class Universe:
    """Instruments and integer lookups into its rows (row numbers of ``frame``)."""

    frame: pd.DataFrame
    stocks: np.ndarray  # rows of stocks
    etfs: np.ndarray  # rows of the ETFs, in ETFS order
    options: np.ndarray  # [underlying u, expiry e, moneyness m, 0=call/1=put] -> row
    option_under: np.ndarray  # underlying rows, aligned with options axis 0
    index_futures: np.ndarray  # [future root, expiry] -> row
    ust_futures: np.ndarray  # [root] -> row (front month)
    cash_ust: np.ndarray  # rows in CASH_UST order
    crypto_futures: np.ndarray  # [BTC, ETH] -> row
    sbs: np.ndarray  # rows of security-based swaps


def third_fridays(as_of: date, count: int) -> list[date]:
    """The next ``count`` monthly expiries (third Friday) after ``as_of``."""
    out: list[date] = []
    year, month = as_of.year, as_of.month
    while len(out) < count:
        first = date(year, month, 1)
        friday = first + timedelta(days=(4 - first.weekday()) % 7 + 14)
        if friday > as_of:
            out.append(friday)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def black_scholes(
    spot: np.ndarray, strike: np.ndarray, t: np.ndarray, vol: np.ndarray, is_call: np.ndarray
) -> np.ndarray:
    """Black-Scholes value, rate 0, vectorized."""
    sd = vol * np.sqrt(t)
    d1 = (np.log(spot / strike) + 0.5 * sd * sd) / sd
    call = spot * ndtr(d1) - strike * ndtr(d1 - sd)
    return np.asarray(np.where(is_call, call, call - spot + strike), dtype=np.float64)


class _Rows:
    """Instrument rows accumulated column by column (a few thousand rows, built once)."""

    def __init__(self) -> None:
        self.cols: dict[str, list[object]] = {c: [] for c in COLUMNS}

    def __len__(self) -> int:
        return len(self.cols["instrument_id"])

    def add(self, **cols: object) -> int:
        """Append rows (scalars broadcast); returns the first new row number."""
        start = len(self)
        n = len(np.atleast_1d(np.asarray(cols["instrument_id"])))
        for name in COLUMNS:
            value = np.asarray(cols.get(name), dtype=object)
            self.cols[name].extend(np.broadcast_to(value, (n,)).tolist())
        return start

    def frame(self) -> pd.DataFrame:
        """The rows as a frame with the loaded dtypes."""
        frame = pd.DataFrame(self.cols)
        for c in ("multiplier", "price", "strike", "implied_vol", "scan_range", "dv01"):
            frame[c] = frame[c].astype("float64")
        frame["maturity"] = pd.to_datetime(frame["maturity"]).astype("datetime64[s]")
        return frame


@dataclass(frozen=True)
class _Underlyings:
    ids: np.ndarray
    price: np.ndarray
    vol: np.ndarray
    class_group: np.ndarray
    index_class: np.ndarray


def _stocks_and_etfs(rows: _Rows, n_stocks: int, rng: np.random.Generator) -> _Underlyings:
    stock_ids = np.array([f"STK{i:04d}" for i in range(1, n_stocks + 1)])
    stock_px = np.round(np.exp(rng.normal(4.0, 0.7, n_stocks)), 2)
    stock_vol = np.round(rng.uniform(0.2, 0.6, n_stocks), 3)
    rows.add(instrument_id=stock_ids, product="stock", price=stock_px)
    etf_ids = np.array([e[0] for e in ETFS])
    etf_px = np.array([e[2] for e in ETFS])
    groups, classes = [e[0] for e in ETFS], [e[1] for e in ETFS]
    rows.add(
        instrument_id=etf_ids, product="etf", class_group=groups, index_class=classes, price=etf_px
    )
    return _Underlyings(
        ids=np.concatenate([stock_ids, etf_ids]),
        price=np.concatenate([stock_px, etf_px]),
        vol=np.concatenate([stock_vol, np.array([0.18, 0.22, 0.25, 0.24, 0.3, 0.26])]),
        class_group=np.concatenate([stock_ids, groups]),
        index_class=np.concatenate([np.full(n_stocks, None), classes]),
    )


def _options(rows: _Rows, und: _Underlyings, as_of: date, expiries: list[date]) -> np.ndarray:
    """A chain per underlying: expiries x moneyness x call/put; returns the row grid."""
    shape = (len(und.ids), len(expiries), len(MONEYNESS), 2)
    u, e, m, t = (a.ravel() for a in np.indices(shape))
    raw_strike = und.price[u] * (1 + MONEYNESS[m])
    # Whole-dollar strikes, cents below $50 so that strikes of cheap stocks stay distinct.
    strike = np.where(und.price[u] < 50, np.round(raw_strike, 2), np.round(raw_strike))
    t_years = np.array([(x - as_of).days / 365 for x in expiries])[e]
    vol = und.vol[u]
    value = black_scholes(und.price[u], strike, t_years, vol, t == 0)
    exp_txt = np.array([x.strftime("%y%m%d") for x in expiries])[e]
    strike_txt = pd.Series([f"{k:g}" for k in strike.tolist()])
    ids = pd.Series(und.ids[u]) + "_" + exp_txt + np.where(t == 0, "C", "P") + strike_txt
    # On SPY/QQQ/IWM, odd moneyness steps are listed as (mini) index options.
    is_index = np.isin(und.ids[u], ["SPY", "QQQ", "IWM"]) & (m % 2 == 1)
    start = rows.add(
        instrument_id=ids.to_numpy(),
        product=np.where(is_index, "index_option", "equity_option"),
        underlying=und.ids[u],
        class_group=und.class_group[u],
        index_class=und.index_class[u],
        multiplier=100.0,
        price=np.maximum(np.round(value, 2), 0.01),
        maturity=[pd.Timestamp(x) for x in np.array(expiries)[e]],
        option_type=np.where(t == 0, "call", "put"),
        strike=strike,
        implied_vol=vol,
    )
    return (start + np.arange(u.size)).reshape(shape)


def _index_futures(rows: _Rows, fut_exp: list[pd.Timestamp]) -> np.ndarray:
    etf_px = {e[0]: e[2] for e in ETFS}
    index_class = {e[0]: e[1] for e in ETFS}
    start = len(rows)
    for root, etf, group, mult, ratio in INDEX_FUTURES:
        for k, mat in enumerate(fut_exp):
            rows.add(
                instrument_id=f"{root}_{mat:%y%m}",
                product="index_future",
                class_group=group,
                index_class=index_class[etf],
                multiplier=mult,
                price=round(etf_px[etf] * ratio * (1 + 0.004 * k), 2),
                maturity=mat,
                scan_range=0.06 if root == "ES" else None,
            )
    return (start + np.arange(len(INDEX_FUTURES) * 2)).reshape(len(INDEX_FUTURES), 2)


def _treasuries(rows: _Rows, ts: pd.Timestamp, expiry: pd.Timestamp) -> tuple[int, int]:
    """Cash Treasuries, then Treasury futures on them; returns both first rows."""
    cash_ids: dict[str, str] = {}
    cash_start = len(rows)
    for stem, product, years, group in CASH_UST:
        mat = ts + pd.Timedelta(days=round(years * 365.25))
        coupon_px = 100.0 - 0.6 * years if product != "ust_strip" else 100.0 * 0.96**years
        dur = years if product in ("ust_bill", "ust_strip") else years * 0.85
        cash_ids[stem] = f"UST_{stem}_{mat:%Y%m}"
        rows.add(
            instrument_id=cash_ids[stem],
            product=product,
            class_group=group,
            multiplier=10.0,
            price=round(coupon_px, 3),
            maturity=mat,
            dv01=round(1000 * dur * 1e-4 * coupon_px / 100, 4),
        )
    fut_start = len(rows)
    for root, group, mult, price, dv01 in UST_FUTURES:
        # The deliverable note or bond is the underlying, so the future has a tenor.
        rows.add(
            instrument_id=f"{root}_{expiry:%y%m}",
            product="ust_future",
            underlying=cash_ids[DELIVERABLE[root]],
            class_group=group,
            multiplier=mult,
            price=price,
            maturity=expiry + pd.Timedelta(days=3),
            scan_range=0.02,
            dv01=dv01,
        )
    return cash_start, fut_start


def _crypto(rows: _Rows, expiry: pd.Timestamp) -> int:
    rows.add(instrument_id=["BTC", "ETH"], product="crypto", price=[100000.0, 3500.0])
    start = len(rows)
    for coin, mult, px in (("BTC", 5.0, 100500.0), ("ETH", 50.0, 3520.0)):
        rows.add(
            instrument_id=f"{coin}_{expiry:%y%m}",
            product="crypto_future",
            underlying=coin,
            multiplier=mult,
            price=px,
            maturity=expiry,
            scan_range=0.3,
        )
    return start


def _swaps(
    rows: _Rows, und: _Underlyings, n_stocks: int, ts: pd.Timestamp, rng: np.random.Generator
) -> np.ndarray:
    picks = np.sort(rng.choice(n_stocks, size=min(10, n_stocks), replace=False))
    start = rows.add(
        instrument_id=[f"SBS_{und.ids[i]}" for i in picks],
        product="sbs",
        underlying=und.ids[picks],
        price=und.price[picks],
        maturity=ts + pd.Timedelta(days=365),
    )
    return start + np.arange(picks.size)


def build_universe(n_accounts: int, as_of: date, rng: np.random.Generator) -> Universe:
    """Generate the instrument universe for a book of ``n_accounts`` accounts."""
    rows, ts = _Rows(), pd.Timestamp(as_of)
    n_stocks = int(np.clip(n_accounts // 200, 20, 500))
    und = _stocks_and_etfs(rows, n_stocks, rng)
    expiries = third_fridays(as_of, 3)
    options = _options(rows, und, as_of, expiries)
    fut_exp = [pd.Timestamp(expiries[2]), pd.Timestamp(expiries[2]) + pd.Timedelta(days=91)]
    index_futures = _index_futures(rows, fut_exp)
    cash, ust_fut = _treasuries(rows, ts, fut_exp[0])
    crypto = _crypto(rows, fut_exp[0])
    sbs = _swaps(rows, und, n_stocks, ts, rng)
    return Universe(
        frame=rows.frame(),
        stocks=np.arange(n_stocks),
        etfs=n_stocks + np.arange(len(ETFS)),
        options=options,
        option_under=np.arange(len(und.ids)),
        index_futures=index_futures,
        ust_futures=ust_fut + np.arange(len(UST_FUTURES)),
        cash_ust=cash + np.arange(len(CASH_UST)),
        crypto_futures=crypto + np.arange(2),
        sbs=sbs,
    )
