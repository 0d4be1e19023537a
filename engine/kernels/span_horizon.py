"""The factor a SPAN scan's ``coverage C over L`` scales its price scan ranges by.

A scan range is stated for 99% coverage over a one-day liquidation period (17 CFR
39.13(g)(2)(ii)(A) and (iii): the regulatory minimum for futures and options). Another
horizon is reached by two assumptions, both ``illustrative`` (issue 14, section 2):

* the square-root-of-time rule: a move over ``L`` days is ``sqrt(L / 1 day)`` times a
  one-day move (independent daily moves of equal variance);
* normal quantiles: a move covered at ``C`` is ``z(C) / z(99%)`` times one covered at 99%,
  ``z`` the standard normal quantile (a normal distribution of moves, no fat tails).

99% over 1 day multiplies by exactly 1, so rulebooks written at the minimum keep their figures.
The checker refuses what 39.13(g)(2) forbids (:mod:`marginlex.dsl.check.supported`).
"""

from __future__ import annotations

import math
from statistics import NormalDist

#: The calibration every scan range is stated for: 99% coverage, one day (in years).
BASE_COVERAGE = 0.99
BASE_LIQUIDATION_YEARS = 1.0 / 365.0


def horizon_factor(coverage: float | None, liquidation_years: float | None) -> float:
    """sqrt(L / 1 day) x z(C) / z(99%); a missing clause is its base value (factor 1).

    >>> horizon_factor(0.99, 1 / 365)
    1.0
    >>> round(horizon_factor(0.99, 2 / 365), 6)  # sqrt(2)
    1.414214
    >>> round(horizon_factor(0.995, 1 / 365), 6)  # z(99.5%) / z(99%) = 2.575829 / 2.326348
    1.107242
    >>> horizon_factor(None, None)
    1.0
    """
    time = 1.0
    if liquidation_years is not None:
        days = liquidation_years / BASE_LIQUIDATION_YEARS
        time = 1.0 if math.isclose(days, 1.0, rel_tol=1e-12) else math.sqrt(days)
    quantile = 1.0
    if coverage is not None and not math.isclose(coverage, BASE_COVERAGE, rel_tol=1e-12):
        normal = NormalDist()
        quantile = normal.inv_cdf(coverage) / normal.inv_cdf(BASE_COVERAGE)
    return time * quantile
