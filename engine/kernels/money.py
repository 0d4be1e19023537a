"""Vectorized money rounding: half up to the cent, never banker's rounding.

Amounts are float64 inside the plan. Reported figures are rounded half up (ties away from
zero, as :data:`decimal.ROUND_HALF_UP`), matching :func:`marginlex.audit.trace.money.to_cents`
on every amount whose shortest ``repr`` has at most a few decimals.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Scaled amounts are first rounded to this many decimals so that representation error
# (2.675 is stored as 2.67499999...) does not decide the tie: we round the number people
# see, as audit.money.to_cents does through repr().
_TIE_DECIMALS = 6
_TIE_ULPS = 16.0
_EXACT_UNITS = 2.0**40  # below it a half unit's float has the half unit for its repr
_EXACT_DECIMALS = 6


def round_half_up(amounts: npt.ArrayLike, decimals: int = 2) -> FloatArray:
    """Round every amount half up (ties away from zero) to ``decimals`` places.

    ``numpy.round`` rounds ties to even (2.5 -> 2); money must not.

    Args:
        amounts: scalar or array of amounts (float64 or convertible).
        decimals: places to keep; 2 for cents.

    Returns:
        A float64 array of the rounded amounts; NaN stays NaN; -0.0 becomes 0.0.

    >>> round_half_up([2.675, -0.005, 0.125, 1.0049]).tolist()
    [2.68, -0.01, 0.13, 1.0]
    """
    values = np.asarray(amounts, dtype=np.float64)
    scale = 10.0**decimals
    exact = np.abs(values) * scale
    whole = np.floor(np.round(exact, _TIE_DECIMALS) + 0.5)
    # Near a half, float64 cannot tell a tie from a number a few ulps off it (past about
    # 1e7 cents, 6 decimals are below its resolution): those few amounts are decided exactly,
    # as Decimal(repr(x)) does, so that 193273528.33499932 is .33 and 67108864.365 is .37.
    fraction = exact - np.floor(exact)
    near = np.flatnonzero(np.abs(fraction - 0.5) <= _TIE_ULPS * np.finfo(np.float64).eps * exact)
    if near.size:
        whole = np.array(whole, dtype=np.float64, ndmin=1)
        flat = np.abs(values).reshape(-1)
        units = _near_tie_units(flat[near], exact.reshape(-1)[near], decimals)
        slow = np.flatnonzero(np.isnan(units))  # past the exact shortcut's range: few or none
        units[slow] = [_half_up_units(float(flat[near[i]]), decimals) for i in slow]
        whole.reshape(-1)[near] = units
        whole = whole.reshape(values.shape)
    rounded = np.copysign(whole, values) / scale
    # -0.0 and 0.0 must print and hash identically.
    return np.where(rounded == 0.0, 0.0, rounded)


def _near_tie_units(amounts: FloatArray, exact: FloatArray, decimals: int) -> FloatArray:
    """:func:`_half_up_units` of amounts (>= 0) a few ulps from a half unit, without
    formatting them; NaN where the shortcut does not hold (the caller decides those).

    The half unit nearest each, ``d = (2k + 1) / (2 * 10**decimals)``, is a decimal of a few
    digits, and the float nearest it is one correctly rounded division of two integers. An
    amount that is that float has ``d`` for its shortest ``repr`` (no shorter decimal lies
    within its half ulp while amounts stay under ``2**40`` units): a tie, rounded up. Any
    other amount's ``repr`` lies within its own half ulp, which does not hold ``d``: on the
    same side of ``d`` as the amount is, so it rounds that way.
    """
    scale = 10.0**decimals
    twice = np.round(exact * 2.0)  # the odd count of half units nearest
    half = twice / (2.0 * scale)
    units = np.where(amounts >= half, (twice + 1.0) / 2.0, (twice - 1.0) / 2.0)
    exact_range = (exact < _EXACT_UNITS) & (0 <= decimals <= _EXACT_DECIMALS)
    return np.where(exact_range, units, np.nan)


def _half_up_units(amount: float, decimals: int) -> float:
    """``amount`` (>= 0) in units of ``10**-decimals``, rounded half up from its ``repr``."""
    units = Decimal(repr(amount)).scaleb(decimals).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return float(units)


def round_cents(amounts: npt.ArrayLike) -> FloatArray:
    """Round amounts half up to the cent.

    Args:
        amounts: scalar or array of USD amounts.

    Returns:
        A float64 array rounded to 0.01.

    >>> round_cents([0.005, 10.0, -1.015]).tolist()
    [0.01, 10.0, -1.02]
    """
    return round_half_up(amounts, 2)
