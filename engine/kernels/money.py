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
        whole.reshape(-1)[near] = [_half_up_units(float(flat[i]), decimals) for i in near]
        whole = whole.reshape(values.shape)
    rounded = np.copysign(whole, values) / scale
    # -0.0 and 0.0 must print and hash identically.
    return np.where(rounded == 0.0, 0.0, rounded)


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
