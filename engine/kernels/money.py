"""Vectorized money rounding: half up to the cent, never banker's rounding.

Amounts are float64 inside the plan. Reported figures are rounded half up (ties away from
zero, as :data:`decimal.ROUND_HALF_UP`), and a tie is the decimal a hand computation gives:
10.10 x 85% is 8.585 on paper and 8.584999999999999 in float64, and rounds to 8.59. An
amount within :data:`TIE_ULPS` units in the last place of a half cent is that half cent (the
representation and arithmetic error of a few operations on decimal inputs).
:func:`marginlex.audit.trace.money.to_cents` rounds floats through this same function.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

TIE_ULPS = 4.0
"""How close to a half unit (in float64 units in the last place of the scaled amount) an
amount is taken for the half unit itself: 8.584999999999999 (1 ulp off 8.585) is a tie. A
product of two decimal inputs lands within about two ulps of its exact value; a wider window
takes amounts that are not ties for ties once amounts reach hundreds of millions."""
_MAX_TIE_WINDOW = 1e-6
"""And never more than a millionth of a unit: an amount of cents times a rate of at most six
decimals (12.3456%) lies on a grid of millionths of a cent, so nearer than that to a half
cent it is the half cent; further, it is not, however large the amount (from about $50m a
float64's ulp passes a millionth of a cent: a tie computed there rounds as its float
reads). Without the bound, past 10**13 cents the window reached half a unit and every
amount rounded up, again each time it was rounded."""


def round_half_up(amounts: npt.ArrayLike, decimals: int = 2) -> FloatArray:
    """Round every amount half up (ties away from zero) to ``decimals`` places.

    ``numpy.round`` rounds ties to even (2.5 -> 2); money must not. An amount a few ulps
    from a tie (:data:`TIE_ULPS`) is the tie: float arithmetic on decimal inputs lands there.

    Args:
        amounts: scalar or array of amounts (float64 or convertible).
        decimals: places to keep; 2 for cents.

    Returns:
        A float64 array of the rounded amounts; NaN stays NaN; -0.0 becomes 0.0.

    >>> round_half_up([2.675, -0.005, 0.125, 1.0049, 10.10 * 0.85]).tolist()
    [2.68, -0.01, 0.13, 1.0, 8.59]
    """
    values = np.asarray(amounts, dtype=np.float64)
    scale = 10.0**decimals
    exact = np.abs(values) * scale
    below = np.floor(exact)
    tolerance = np.minimum(
        TIE_ULPS * np.finfo(np.float64).eps * np.maximum(exact, 1.0), _MAX_TIE_WINDOW
    )
    # at or past the half, or a few ulps short of it: away from zero
    whole = np.where(exact - below >= 0.5 - tolerance, below + 1.0, below)
    rounded = np.copysign(whole, values) / scale
    # -0.0 and 0.0 must print and hash identically.
    return np.where(rounded == 0.0, 0.0, rounded)


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
