"""Vectorized Black-Scholes valuation of European options.

Time is calendar days / 365. An option with no time left (``t <= 0``) or no volatility
(``vol <= 0``) is worth its intrinsic value, undiscounted: the kernels revalue expiring and
degenerate options at intrinsic, as the rulebooks say, rather than dividing by zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import ndtr

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DAYS_PER_YEAR = 365.0


def years_between(start: npt.ArrayLike, end: npt.ArrayLike) -> FloatArray:
    """Calendar days from ``start`` to ``end`` divided by 365.

    Args:
        start: dates (datetime64 or ISO strings), e.g. the as-of date.
        end: dates, e.g. expiries or maturities; NaT gives NaN.

    Returns:
        Years as float64 (negative when ``end`` is before ``start``).

    >>> years_between("2026-01-01", ["2027-01-01", "2026-04-02"]).tolist()
    [1.0, 0.2493150684931507]
    """
    days = (
        np.asarray(end, dtype="datetime64[D]") - np.asarray(start, dtype="datetime64[D]")
    ).astype(np.float64)
    # NaT - date is NaT, which astype(float) turns into a huge negative number, not NaN.
    days = np.where(np.isnat(np.asarray(end, dtype="datetime64[D]")), np.nan, days)
    return np.asarray(days / DAYS_PER_YEAR, dtype=np.float64)


def intrinsic(spot: FloatArray, strike: FloatArray, is_call: BoolArray) -> FloatArray:
    """Intrinsic value per unit: max(S - K, 0) for calls, max(K - S, 0) for puts.

    >>> intrinsic(np.array([110.0, 90.0]), np.array([100.0, 100.0]), np.array([True, True]))
    array([10.,  0.])
    """
    return np.where(is_call, np.maximum(spot - strike, 0.0), np.maximum(strike - spot, 0.0))


def black_scholes(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t: npt.ArrayLike,
    vol: npt.ArrayLike,
    is_call: npt.ArrayLike,
    *,
    rate: float = 0.0,
) -> FloatArray:
    """Black-Scholes value per unit of European calls and puts, broadcasting all inputs.

    ``d1 = (ln(S/K) + (r + vol^2/2) t) / (vol sqrt t)``, ``d2 = d1 - vol sqrt t``;
    call ``S N(d1) - K e^{-rt} N(d2)``, put ``K e^{-rt} N(-d2) - S N(-d1)``, with
    ``N = scipy.special.ndtr``. Where ``t <= 0`` or ``vol <= 0`` the value is intrinsic.

    Args:
        spot: underlying price(s).
        strike: strike(s).
        t: time to expiry in years (days / 365).
        vol: annualized implied volatility, e.g. 0.25.
        is_call: True for calls, False for puts.
        rate: continuously compounded risk-free rate (a rulebook parameter, default 0).

    Returns:
        Value per unit of underlying, float64, shaped as the broadcast of the inputs.

    >>> round(float(black_scholes(100.0, 100.0, 1.0, 0.2, True)), 6)
    7.965567
    """
    s = np.asarray(spot, dtype=np.float64)
    k = np.asarray(strike, dtype=np.float64)
    tt = np.asarray(t, dtype=np.float64)
    v = np.asarray(vol, dtype=np.float64)
    call = np.asarray(is_call, dtype=np.bool_)
    live = (tt > 0.0) & (v > 0.0) & (s > 0.0) & (k > 0.0)
    if live.all():  # the usual case: no stand-ins, inputs keep their small shapes
        return _live_value(s, k, tt, v, call, rate=rate)
    # Dead entries get harmless stand-ins so that no warning or NaN is computed for them.
    s_safe, k_safe, t_safe, v_safe = (np.where(live, x, 1.0) for x in (s, k, tt, v))
    value = _live_value(s_safe, k_safe, t_safe, v_safe, call, rate=rate)
    return np.asarray(np.where(live, value, intrinsic(s, k, call)), dtype=np.float64)


def _live_value(
    s: FloatArray, k: FloatArray, tt: FloatArray, v: FloatArray, call: BoolArray, *, rate: float
) -> FloatArray:
    """Black-Scholes where every input is valid (t, vol, spot, strike all positive)."""
    vol_sqrt_t = v * np.sqrt(tt)
    d1 = (np.log(s / k) + (rate + 0.5 * v * v) * tt) / vol_sqrt_t
    d2 = d1 - vol_sqrt_t
    discounted_k = k * np.exp(-rate * tt) if rate else k
    sign = np.where(call, 1.0, -1.0)
    # One formula for both: sign * (S N(sign d1) - K e^{-rt} N(sign d2)).
    value = sign * (s * ndtr(sign * d1) - discounted_k * ndtr(sign * d2))
    # Every input enters the value, so it already has the broadcast shape.
    return np.asarray(value, dtype=np.float64)


def option_delta(
    spot: FloatArray, strike: FloatArray, t: FloatArray, vol: FloatArray, is_call: BoolArray
) -> FloatArray:
    """Delta per unit of underlying, rate 0 (Black-76 on a future): ``N(d1)`` for a call,
    ``N(d1) - 1`` for a put; with no time or volatility left, 1 (or -1) in the money, else 0.

    >>> option_delta(np.array([100.0, 100.0]), np.array([100.0, 120.0]), np.array([1.0, 0.0]),
    ...     np.array([0.2, 0.2]), np.array([True, False])).round(4).tolist()
    [0.5398, -1.0]
    """
    live = (t > 0.0) & (vol > 0.0) & (spot > 0.0) & (strike > 0.0)
    s, k, tt, v = (np.where(live, x, 1.0) for x in (spot, strike, t, vol))
    d1 = (np.log(s / k) + 0.5 * v * v * tt) / (v * np.sqrt(tt))
    in_money = np.where(is_call, spot > strike, spot < strike)
    dead = np.where(in_money, 1.0, 0.0)
    call_delta = np.where(live, ndtr(d1), dead)
    put_delta = np.where(live, ndtr(d1) - 1.0, -dead)
    return np.asarray(np.where(is_call, call_delta, put_delta), dtype=np.float64)


@dataclass(frozen=True)
class OptionLegs:
    """Option rows to revalue, one entry per row (all arrays of length M).

    Attributes:
        spot: underlying price now.
        strike: strike.
        t: time to expiry in years (days / 365).
        vol: annualized implied volatility.
        is_call: True for calls.
        units: signed quantity x multiplier.
    """

    spot: FloatArray
    strike: FloatArray
    t: FloatArray
    vol: FloatArray
    is_call: BoolArray
    units: FloatArray

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, rows: npt.NDArray[np.int64], units: FloatArray
    ) -> OptionLegs:
        """The legs of ``rows`` of a positions frame (``underlying_price``, ``strike``, ``t``,
        ``implied_vol``, ``is_call``); ``units`` is quantity x multiplier of every row."""
        return cls(
            spot=frame["underlying_price"].to_numpy(np.float64)[rows],
            strike=frame["strike"].to_numpy(np.float64)[rows],
            t=frame["t"].to_numpy(np.float64)[rows],
            vol=frame["implied_vol"].to_numpy(np.float64)[rows],
            is_call=frame["is_call"].to_numpy(dtype=bool)[rows],
            units=units[rows],
        )

    def value_now(self, rate: float) -> FloatArray:
        """Model value per unit at the current underlying price."""
        return black_scholes(self.spot, self.strike, self.t, self.vol, self.is_call, rate=rate)


def shocked_volatility(
    vol: FloatArray, moves: FloatArray, *, relative: bool = False, floor: float = 0.0
) -> FloatArray:
    """Volatility after a scenario's move: vol + move floored at 0, or with ``relative``
    (a SPAN volatility scan range as a share of implied) vol x (1 + move) floored at ``floor``.
    A move of 0 (SPAN's extreme scenarios, "volatility unchanged") leaves the volatility as it
    is: the floor is a shocked volatility's, so an implied volatility under it is not lifted
    to it where nothing is shocked (0.8% stays 0.8%, not 1%).

    >>> shocked_volatility(np.array([0.16]), np.array([0.25]), relative=True).round(4).tolist()
    [0.2]
    >>> shocked_volatility(np.array([0.16]), np.array([-0.25])).tolist()
    [0.0]
    >>> shocked_volatility(np.array([0.008]), np.array([0.25, -0.25, 0.0]), relative=True,
    ...     floor=0.01).round(4).tolist()
    [0.01, 0.01, 0.008]
    """
    if relative:
        shocked = np.where(moves == 0.0, vol, np.maximum(vol * (1.0 + moves), floor))
        return np.asarray(shocked, dtype=np.float64)
    return np.asarray(np.maximum(vol + moves, 0.0), dtype=np.float64)


def revalue_options(
    legs: OptionLegs,
    moves: FloatArray,
    *,
    vol_moves: FloatArray | None = None,
    rate: float = 0.0,
    vol_relative: bool = False,
    vol_floor: float = 0.0,
) -> FloatArray:
    """Scenario P&L of option rows: (model value shocked - model value now) x units.

    Args:
        legs: the option rows (M).
        moves: relative underlying moves, points-major (K, M): shocked spot = S (1 + move).
        vol_moves: absolute volatility change per point (K,), or None for unchanged
            volatility; a shocked volatility is floored at 0 (the option is then at
            intrinsic).
        rate: the rulebook's rate.
        vol_relative: ``vol_moves`` are shares of implied volatility: the shocked volatility
            is vol x (1 + move), floored at ``vol_floor`` (a SPAN volatility scan range).
        vol_floor: the floor of a relative shift.

    Returns:
        (K, M) P&L per scenario point and option row.

    >>> legs = OptionLegs(*(np.array([x]) for x in (100.0, 100.0, 0.0, 0.2)), np.array([False]),
    ...                   np.array([-100.0]))
    >>> (revalue_options(legs, np.array([[-0.1], [0.1]])) + 0.0).ravel().tolist()
    [-1000.0, 0.0]
    """
    now = legs.value_now(rate)
    vol = legs.vol[None, :]
    shocked_vol = (
        vol
        if vol_moves is None
        else shocked_volatility(vol, vol_moves[:, None], relative=vol_relative, floor=vol_floor)
    )
    shocked = black_scholes(
        legs.spot[None, :] * (1.0 + moves),
        legs.strike[None, :],
        legs.t[None, :],
        shocked_vol,
        legs.is_call[None, :],
        rate=rate,
    )
    return np.asarray((shocked - now[None, :]) * legs.units[None, :], dtype=np.float64)


OPTION_AT_WORST = ("underlying_at_worst", "vol_at_worst", "value_now", "value_at_worst")
"""What an option row's P&L at its group's worst point was computed from, per unit: the
shocked underlying price and volatility, and the model value now and there."""


def option_values_at(
    frame: pd.DataFrame,
    moves: FloatArray,
    vol_moves: FloatArray,
    rate: float,
    *,
    vol_relative: bool = False,
    vol_floor: float = 0.0,
) -> pd.DataFrame:
    """:data:`OPTION_AT_WORST` of every row of a positions frame at one move per row.

    ``moves`` and ``vol_moves`` are each row's relative underlying move and volatility move
    (shocked as :func:`revalue_options` shocks it, :func:`shocked_volatility`);
    non-option rows get NaN. An option row's P&L is then units x (value_at_worst -
    value_now), times the point's weight.

    >>> f = pd.DataFrame({"is_option": [True, False], "underlying_price": [100.0, 0.0],
    ...     "strike": [100.0, 0.0], "t": [0.0, 0.0], "implied_vol": [0.2, 0.0],
    ...     "is_call": [False, False]})
    >>> at = option_values_at(f, np.array([-0.1, -0.1]), np.zeros(2), 0.0).round(6)
    >>> at.iloc[0].to_dict()
    {'underlying_at_worst': 90.0, 'vol_at_worst': 0.2, 'value_now': 0.0, 'value_at_worst': 10.0}
    >>> bool(at.iloc[1].isna().all())
    True
    """
    n = len(frame)
    out = {name: np.full(n, np.nan) for name in OPTION_AT_WORST}
    rows = np.flatnonzero(frame["is_option"].to_numpy(dtype=bool))
    if rows.size:
        legs = OptionLegs.from_frame(frame, rows, np.ones(n))
        spot = legs.spot * (1.0 + moves[rows])
        vol = shocked_volatility(legs.vol, vol_moves[rows], relative=vol_relative, floor=vol_floor)
        out["underlying_at_worst"][rows] = spot
        out["vol_at_worst"][rows] = vol
        out["value_now"][rows] = legs.value_now(rate)
        out["value_at_worst"][rows] = black_scholes(
            spot, legs.strike, legs.t, vol, legs.is_call, rate=rate
        )
    return pd.DataFrame(out, index=frame.index)
