"""Short straddles and strangles in the strategy-based fallback (FINRA Rule 4210(f)(2)(G)).

A short call and a short put on the same underlying, with the same multiplier, in the same
account (a straddle at one strike, a strangle at two; expiries may differ) are charged, per
pair of contracts, the greater of the two legs' uncovered requirements plus the other leg's
premium, where the legs alone are charged both requirements: the account can be assigned on
one side only at a time, and the other side's premium is what buying it back costs.

Only contracts still uncovered after covered calls and spreads pair. In each (account,
underlying, multiplier), short calls and short puts are each taken in the order of their
per-contract requirement, largest first (ties: the row order), and matched along their
cumulative counts (:func:`~marginlex.engine.kernels.spreads.match_along_counts`); contracts
left on one side stay charged alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from marginlex.engine.kernels.grouping import FloatArray
from marginlex.engine.kernels.spreads import match_along_counts, option_groups


@dataclass(frozen=True)
class Straddles:
    """Per input row: ``paired`` contracts and the ``requirement`` of those contracts."""

    paired: FloatArray
    requirement: FloatArray


def short_straddles(
    frame: pd.DataFrame,
    call_units: FloatArray,
    put_units: FloatArray,
    uncovered: FloatArray,
    premium: FloatArray,
) -> Straddles:
    """Pair short calls with short puts and charge each pair the greater leg plus the
    other's premium.

    Args:
        frame: strategy columns (``account_id``, ``underlying``, ``multiplier``).
        call_units: per row, short call contracts still charged alone (0 elsewhere).
        put_units: per row, short put contracts still charged alone (0 elsewhere).
        uncovered: per row, one contract's uncovered requirement (premium included).
        premium: per row, one contract's premium (price x multiplier).

    Returns:
        Paired contracts per row and their requirement.

    >>> frame = pd.DataFrame({"account_id": ["A", "A"], "underlying": ["XYZ", "XYZ"],
    ...                       "multiplier": [100.0, 100.0]})
    >>> s = short_straddles(frame, np.array([1.0, 0.0]), np.array([0.0, 1.0]),
    ...                     np.array([2_560.0, 2_560.0]), np.array([560.0, 560.0]))
    >>> s.paired.tolist(), s.requirement.tolist()
    ([1.0, 1.0], [2560.0, 560.0])
    """
    n = len(frame)
    paired, requirement = np.zeros(n), np.zeros(n)
    calls, puts = call_units > 0, put_units > 0
    if not (calls.any() and puts.any()):
        return Straddles(paired, requirement)
    group = option_groups(frame, calls | puts, by_type=False)
    (rows,) = np.nonzero(calls | puts)
    ordered = rows[np.lexsort((rows, -uncovered[rows], group[rows]))]
    c_rows, p_rows = ordered[calls[ordered]], ordered[puts[ordered]]
    cr, pr, count = match_along_counts(group, c_rows, call_units, p_rows, put_units)
    call_greater = uncovered[cr] >= uncovered[pr]
    on_call = np.where(call_greater, uncovered[cr], premium[cr])
    on_put = np.where(call_greater, premium[pr], uncovered[pr])
    np.add.at(paired, cr, count)
    np.add.at(paired, pr, count)
    np.add.at(requirement, cr, count * on_call)
    np.add.at(requirement, pr, count * on_put)
    return Straddles(paired, requirement)
