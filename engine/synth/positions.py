"""Positions of a synthetic book: option strategies, ETFs, futures, Treasuries, hedges.

Each strategy kind builds its legs for all the accounts that drew it at once (arrays of
account row, instrument row, quantity): the loop is over a dozen strategy kinds, never
over accounts.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from marginlex.engine.synth.instruments import ATM, ETFS, Universe

Legs = tuple[np.ndarray, np.ndarray, np.ndarray]
SEC_STRATEGIES = {  # kind: probability for a securities account
    "long_stock": 0.30,
    "covered_call": 0.12,
    "protective_put": 0.08,
    "short_put": 0.10,
    "call_spread": 0.08,
    "short_straddle": 0.04,
    "conversion": 0.04,
    "long_etf": 0.12,
    "index_put_write": 0.05,
    "ust_cash": 0.06,
    "sbs": 0.01,
}
CFTC_STRATEGIES = {
    "index_future": 0.40,
    "calendar": 0.20,
    "ust_future": 0.30,
    "crypto_future": 0.10,
}


class LegBuilder:
    """Draws the legs of each strategy kind for a batch of accounts."""

    def __init__(self, uni: Universe, wealth: np.ndarray, rng: np.random.Generator) -> None:
        self.u, self.wealth, self.rng = uni, wealth, rng
        self.price = uni.frame["price"].to_numpy()
        self.n_exp = uni.options.shape[1]
        self._dispatch: dict[str, Callable[[np.ndarray], Legs]] = {
            "long_stock": self._long_stock,
            "covered_call": self._covered_call,
            "protective_put": self._protective_put,
            "short_put": self._short_put,
            "call_spread": self._call_spread,
            "short_straddle": self._short_straddle,
            "conversion": self._conversion,
            "long_etf": self._long_etf,
            "index_put_write": self._index_put_write,
            "ust_cash": self._ust_cash,
            "sbs": self._sbs,
            "index_future": self._index_future,
            "calendar": self._calendar,
            "ust_future": self._ust_future,
            "crypto_future": self._crypto_future,
        }

    def _contracts(self, acct: np.ndarray) -> np.ndarray:
        scale = np.clip(self.wealth[acct] / 100_000.0, 0.2, 20.0)
        k = np.maximum(1, np.round(scale * self.rng.uniform(0.5, 2.0, acct.size)))
        return np.asarray(k, dtype=np.float64)

    def _shares(self, acct: np.ndarray, row: np.ndarray) -> np.ndarray:
        value = self.wealth[acct] * self.rng.uniform(0.05, 0.4, acct.size)
        return np.asarray(
            np.maximum(10.0, np.round(value / self.price[row] / 10.0) * 10.0), dtype=np.float64
        )

    def _option(self, under: np.ndarray, m: np.ndarray | int, put: bool) -> np.ndarray:
        e = self.rng.integers(0, self.n_exp, under.size)
        return np.asarray(self.u.options[under, e, m, int(put)])

    def _stock(self, n: int) -> np.ndarray:
        return self.u.stocks[self.rng.integers(0, self.u.stocks.size, n)]

    def build(self, kind: str, acct: np.ndarray) -> Legs:
        """Legs of ``kind`` for every account row in ``acct``."""
        return self._dispatch[kind](acct)

    def _long_stock(self, a: np.ndarray) -> Legs:
        s = self._stock(a.size)
        return a, s, self._shares(a, s)

    def _covered_call(self, a: np.ndarray) -> Legs:
        s, k = self._stock(a.size), self._contracts(a)
        call = self._option(s, ATM + self.rng.integers(1, 3, a.size), put=False)
        return _cat((a, s, 100.0 * k), (a, call, -k))

    def _protective_put(self, a: np.ndarray) -> Legs:
        s, k = self._stock(a.size), self._contracts(a)
        put = self._option(s, ATM - self.rng.integers(1, 3, a.size), put=True)
        return _cat((a, s, 100.0 * k), (a, put, k))

    def _short_put(self, a: np.ndarray) -> Legs:
        s = self._stock(a.size)
        return (
            a,
            self._option(s, ATM - self.rng.integers(1, 3, a.size), put=True),
            -self._contracts(a),
        )

    def _call_spread(self, a: np.ndarray) -> Legs:
        s, k = self._stock(a.size), self._contracts(a)
        e = self.rng.integers(0, self.n_exp, a.size)
        return _cat((a, self.u.options[s, e, ATM, 0], k), (a, self.u.options[s, e, ATM + 1, 0], -k))

    def _short_straddle(self, a: np.ndarray) -> Legs:
        s, k = self._stock(a.size), self._contracts(a)
        e = self.rng.integers(0, self.n_exp, a.size)
        return _cat((a, self.u.options[s, e, ATM, 0], -k), (a, self.u.options[s, e, ATM, 1], -k))

    def _conversion(self, a: np.ndarray) -> Legs:
        s, k = self._stock(a.size), self._contracts(a)
        e = self.rng.integers(0, self.n_exp, a.size)
        return _cat(
            (a, s, 100.0 * k),
            (a, self.u.options[s, e, ATM, 1], k),
            (a, self.u.options[s, e, ATM, 0], -k),
        )

    def _long_etf(self, a: np.ndarray) -> Legs:
        f = self.u.etfs[self.rng.choice(len(ETFS), a.size, p=[0.4, 0.25, 0.15, 0.07, 0.07, 0.06])]
        return a, f, self._shares(a, f)

    def _index_put_write(self, a: np.ndarray) -> Legs:
        f = self.u.etfs[self.rng.integers(0, 3, a.size)]
        # Moneyness index 1 (10% out of the money) of SPY/QQQ/IWM is an index option.
        return _cat(
            (a, f, self._shares(a, f)), (a, self._option(f, ATM - 2, put=True), -self._contracts(a))
        )

    def _ust_cash(self, a: np.ndarray) -> Legs:
        row = self.u.cash_ust[self.rng.integers(3, self.u.cash_ust.size, a.size)]
        value = self.wealth[a] * self.rng.uniform(0.1, 0.5, a.size)
        return a, row, np.maximum(1.0, np.round(value / (self.price[row] * 10.0)))

    def _sbs(self, a: np.ndarray) -> Legs:
        row = self.u.sbs[self.rng.integers(0, self.u.sbs.size, a.size)]
        return a, row, self._shares(a, row) * self.rng.choice([-1.0, 1.0], a.size)

    def _futures(self, a: np.ndarray, rows: np.ndarray, mean: float) -> Legs:
        sign = self.rng.choice([-1.0, 1.0], a.size)
        return a, rows, sign * (1.0 + self.rng.poisson(mean, a.size))

    def _index_future(self, a: np.ndarray) -> Legs:
        root = self.rng.integers(0, self.u.index_futures.shape[0], a.size)
        return self._futures(a, self.u.index_futures[root, 0], 2.0)

    def _calendar(self, a: np.ndarray) -> Legs:
        root = self.rng.integers(0, self.u.index_futures.shape[0], a.size)
        k = 1.0 + self.rng.poisson(2.0, a.size)
        return _cat((a, self.u.index_futures[root, 0], k), (a, self.u.index_futures[root, 1], -k))

    def _ust_future(self, a: np.ndarray) -> Legs:
        return self._futures(a, self.u.ust_futures[self.rng.integers(0, 4, a.size)], 5.0)

    def _crypto_future(self, a: np.ndarray) -> Legs:
        return self._futures(a, self.u.crypto_futures[self.rng.integers(0, 2, a.size)], 1.0)

    def hedges(self, sec: np.ndarray, cftc: np.ndarray, treasury: bool) -> Legs:
        """Cross-regime hedges between two accounts of one owner (aligned arrays).

        Index: long SPY in the securities account, short front ES futures of about the
        same notional in the futures account. Treasury: short ZN futures in the futures
        (cross-margin) account, long 10-year notes of about the same DV01 in the other.
        """
        frame = self.u.frame
        if not treasury:
            spy, es = self.u.etfs[0], self.u.index_futures[0, 0]
            shares = np.maximum(100.0, np.round(self.wealth[sec] / self.price[spy] / 100.0) * 100.0)
            notional = float(self.price[es] * frame["multiplier"].iat[es])
            fut = np.maximum(1.0, np.round(shares * self.price[spy] / notional))
            return _cat((sec, np.full(sec.size, spy), shares), (cftc, np.full(sec.size, es), -fut))
        zn, note = self.u.ust_futures[2], self.u.cash_ust[7]
        n_fut = 1.0 + self.rng.poisson(15.0, sec.size)
        dv01 = frame["dv01"].to_numpy()
        bonds = np.round(n_fut * dv01[zn] / dv01[note])
        return _cat((cftc, np.full(sec.size, zn), -n_fut), (sec, np.full(sec.size, note), bonds))


def _cat(*legs: Legs) -> Legs:
    return (
        np.concatenate([x[0] for x in legs]),
        np.concatenate([x[1] for x in legs]),
        np.concatenate([x[2] for x in legs]),
    )


def draw_positions(
    builder: LegBuilder, acct_rows: np.ndarray, is_sec: np.ndarray, rng: np.random.Generator
) -> Legs:
    """Strategies for every account: Poisson counts, kinds by regime, legs per kind."""
    parts: list[Legs] = []
    for table, mask, mean in ((SEC_STRATEGIES, is_sec, 7.0), (CFTC_STRATEGIES, ~is_sec, 10.0)):
        accts = acct_rows[mask]
        count = 1 + rng.poisson(mean, accts.size)
        owner = np.repeat(accts, count)
        kinds = np.array(list(table))
        drawn = rng.choice(kinds.size, owner.size, p=np.array(list(table.values())))
        for k, kind in enumerate(kinds):
            parts.append(builder.build(str(kind), owner[drawn == k]))
    return _cat(*parts)
