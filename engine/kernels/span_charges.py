"""SPAN charges added to a class group's scanning risk (CME SPAN practice).

**Intra-commodity (calendar) spread charge.** The scan moves every expiry of a class group
by the same fraction of its price, so a long in one month and a short in another net
perfectly; a clearing house charges each spread formed between expiries a rate per spread.
Positions of one expiry are netted first (contracts, signed). Tiers are bounds on time to
expiry (``up to 3 months``, ``otherwise``; the caller reads a bound in months as the last day
of that contract month, CME's tiers being ranges of contract months); a spread belongs to
the tier of its farther leg. Spreads are formed nearest months first: with ``L(t)`` and
``S(t)`` the long and short contracts of tiers 1..t, ``min(L(t), S(t))`` spreads have both
legs within tier t, so ``min(L(t), S(t)) - min(L(t-1), S(t-1))`` spreads fall in tier t and
are charged its rate.

**Delivery (spot) month charge.** A charge per contract, gross, on positions expiring in the
as-of date's calendar month, where the scan's price moves understate the risk of a contract
converging to its delivery price.

Both are added to the scanning risk; the class group's requirement is then
max(scanning risk + charges - inter-commodity credit, short option minimum), as CME's SPAN
combines them. Vectorized: no loop over positions, only over the rulebook's tiers.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from marginlex.engine.kernels.grouping import FloatArray, sum_by_group

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def calendar_ladder(
    codes: IntArray,
    size: int,
    *,
    counted: BoolArray,
    quantity: FloatArray,
    expiry: FloatArray,
    bounds: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Spreads formed per (class group, tier), with what formed them: (spreads, ``L(t)``,
    ``S(t)``), each (size, tiers); ``L(t)`` and ``S(t)`` are the long and short contracts of
    tiers 1..t (netted per expiry), and tier t's spreads (those whose farther leg is in it)
    are ``min(L(t), S(t)) - min(L(t-1), S(t-1))``.

    Args:
        codes: class-group code per row.
        size: number of class groups.
        counted: rows the charge counts (the rulebook's ``for position where``).
        quantity: signed contracts per row.
        expiry: time to expiry per row, in years (the expiry's identity too: rows of one
            expiry net); ``inf`` for a contract without one (a perpetual), farther than
            every dated row (the last tier when it is ``otherwise``), all such rows of a
            class group one expiry; NaN is not counted.
        bounds: the tiers' upper bounds in years, ascending; ``inf`` for ``otherwise``. A row
            past every bound is not counted.

    >>> spreads, longs, shorts = calendar_ladder(np.array([0, 0, 0]), 1,
    ...     counted=np.array([True] * 3), quantity=np.array([10.0, -4.0, -6.0]),
    ...     expiry=np.array([0.1, 0.2, 0.5]), bounds=np.array([0.25, np.inf]))
    >>> spreads.tolist(), longs.tolist(), shorts.tolist()
    ([[4.0, 6.0]], [[10.0, 10.0]], [[4.0, 10.0]])

    A perpetual (no expiry) long 10 against 10 short of a dated month: 10 spreads, in the
    farther leg's tier, the perpetual's:

    >>> calendar_ladder(np.array([0, 0]), 1, counted=np.array([True, True]),
    ...     quantity=np.array([10.0, -10.0]), expiry=np.array([np.inf, 0.1]),
    ...     bounds=np.array([0.25, np.inf]))[0].tolist()
    [[0.0, 10.0]]
    """
    tiers = len(bounds)
    tier = np.searchsorted(bounds, expiry, side="left")
    keep = counted & (tier < tiers) & ~np.isnan(expiry)
    # one (class group, expiry day) per key: its net contracts; the pair as one integer,
    # ordered as the pairs are, so that one 1-D unique finds them
    dated = np.isfinite(expiry[keep])
    day = np.round(np.where(dated, expiry[keep], 0.0) * 365.0).astype(np.int64)
    # no expiry: one key past every dated one
    day = np.where(dated, day, int(day[dated].max()) + 1 if dated.any() else 0)
    low = int(day.min()) if len(day) else 0
    span = (int(day.max()) - low + 1) if len(day) else 1
    unique, inverse = np.unique(codes[keep] * span + (day - low), return_inverse=True)
    net = np.bincount(inverse, weights=quantity[keep], minlength=len(unique))
    cell = (unique // span) * tiers + tier[keep][_first_of(inverse)]
    longs = np.bincount(cell, weights=np.maximum(net, 0.0), minlength=size * tiers)
    shorts = np.bincount(cell, weights=np.maximum(-net, 0.0), minlength=size * tiers)
    long_to = np.cumsum(longs.reshape(size, tiers), axis=1).astype(np.float64)
    short_to = np.cumsum(shorts.reshape(size, tiers), axis=1).astype(np.float64)
    formed = np.minimum(long_to, short_to)
    return np.diff(formed, axis=1, prepend=0.0), long_to, short_to


def _first_of(inverse: IntArray) -> IntArray:
    """For each unique key, the index of one row that has it."""
    first = np.zeros(inverse.max() + 1 if len(inverse) else 0, dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse))[::-1]
    return first


def delivery_charges(
    codes: IntArray, size: int, in_delivery: BoolArray, quantity: FloatArray, amount: float
) -> FloatArray:
    """Per class group, ``amount`` x gross contracts expiring in the delivery month.

    >>> delivery_charges(np.array([0, 0, 1]), 2, np.array([True, True, False]),
    ...     np.array([3.0, -2.0, 5.0]), 100.0).tolist()
    [500.0, 0.0]
    """
    return sum_by_group(codes, amount * np.abs(quantity) * in_delivery, size)
