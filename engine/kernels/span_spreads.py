"""SPAN inter-commodity spreads by priority (CME SPAN practice, weighted price risk).

CME's SPAN lists its inter-commodity spreads with a priority: the spreads of the first
priority are formed first, each consuming the remaining delta of its legs, so a leg taken
by an earlier spread is not there for a later one. For one spread row (legs keyed ``a`` and
``b``, rate ``r``) in one margin set:

- each class group's **net delta** is its contracts, an option counted by its delta
  (``quantity x delta``), signed; its **weighted price risk** is its scanning risk per
  contract of net delta, ``w = scanning risk / |net delta|``;
- spreads pair a long leg of one key with a short leg of the other: a row with leg ratios
  ``ra`` and ``rb`` (CME's "number of contracts for each side required to form the
  spread"; 1 and 1 unless the rulebook says) forms ``n = min(long a / ra, short b / rb) +
  min(short a / ra, long b / rb)`` spreads, each consuming ``ra`` contracts of delta from
  leg ``a`` and ``rb`` from leg ``b`` (shared in proportion to the remaining delta where a
  key has several class groups on one side);
- each leg is credited ``r x (delta it gave to spreads) x w``: the rate times the risk of
  the contracts matched.

A key may stand for one tier of a class group's months (CME's tiered legs): the caller
then gives one leg row per (class group, tier) with the tier's net delta and risk
``w x |tier delta|``, so that ``w`` stays the class group's.

Rows are taken in the table's order, its priority. A class group's requirement is
``max(scanning risk + charges - credits, short option minimum)``; its credits never exceed
its scanning risk (it gives at most its net delta, at ``w`` each, at a rate of at most 1).
Vectorized over class groups; the loop is over the rulebook's spread rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from marginlex.engine.kernels.grouping import FloatArray, IntArray


@dataclass(frozen=True)
class SpreadLegs:
    """Class-group rows (one margin set code, key code, net delta and scanning risk each)."""

    margin_set: IntArray
    key: IntArray
    delta: FloatArray
    risk: FloatArray


@dataclass(frozen=True)
class SpreadRow:
    """One spread of the table: legs keyed ``a`` and ``b``, the rate, each leg's ratio."""

    a: int
    b: int
    rate: float
    ratio_a: float = 1.0
    ratio_b: float = 1.0


@dataclass(frozen=True)
class PriorityResult:
    """Per class group: ``credit`` and ``delta_spread`` (contracts given to spreads); per
    spread row and margin set (rows x sets): ``formed``, the spreads each row formed,
    ``row_credit``, the credits they gave, ``row_matched``, the risk they matched (of
    which ``row_matched_a`` by the row's leg ``a``), ``row_risk``, the whole risk of the
    legs they took from, and ``row_earlier``, the credits earlier rows gave those legs (so
    that ``row_risk - row_earlier`` is the risk the legs had left when the row took from
    them)."""

    credit: FloatArray
    delta_spread: FloatArray
    formed: FloatArray
    row_credit: FloatArray
    row_matched: FloatArray
    row_matched_a: FloatArray
    row_risk: FloatArray
    row_earlier: FloatArray


def _side_totals(sets: IntArray, n_sets: int, hit: np.ndarray, amount: FloatArray) -> FloatArray:
    totals = np.bincount(sets, weights=np.where(hit, amount, 0.0), minlength=n_sets)
    return np.asarray(totals, dtype=np.float64)


def priority_spreads(legs: SpreadLegs, rows: list[SpreadRow], n_sets: int) -> PriorityResult:
    """Form spreads row by row (in priority order).

    Two spreads competing for one leg: long 1 ES (risk 21,000), short 1 NQ (28,000), short
    1 RTY (10,000); row 1 ES with RTY at 40%, row 2 ES with NQ at 50%. Row 1 takes ES's one
    contract: ES is credited 40% x 21,000 = 8,400, RTY 40% x 10,000 = 4,000; row 2 finds no
    ES delta left: NQ gets nothing.

    >>> legs = SpreadLegs(np.array([0, 0, 0]), np.array([0, 1, 2]),
    ...     np.array([1.0, -1.0, -1.0]), np.array([21000.0, 28000.0, 10000.0]))
    >>> out = priority_spreads(legs, [SpreadRow(0, 2, 0.4), SpreadRow(0, 1, 0.5)], 1)
    >>> out.credit.tolist(), out.formed.tolist()
    ([8400.0, 0.0, 4000.0], [[1.0], [0.0]])

    Ratios: long 5 of key 0 (risk 1,000 each), short 2 of key 1 (3,000 each), two of key 0
    against one of key 1 at 50%: ``n = min(5 / 2, 2 / 1) = 2`` spreads take 4 and 2
    contracts; key 0 is credited 50% x 4 x 1,000 = 2,000, key 1 50% x 2 x 3,000 = 3,000.

    >>> legs = SpreadLegs(np.array([0, 0]), np.array([0, 1]), np.array([5.0, -2.0]),
    ...     np.array([5000.0, 6000.0]))
    >>> out = priority_spreads(legs, [SpreadRow(0, 1, 0.5, ratio_a=2.0)], 1)
    >>> out.credit.tolist(), out.delta_spread.tolist(), out.formed.tolist()
    ([2000.0, 3000.0], [4.0, 2.0], [[2.0]])
    """
    delta = legs.delta
    weight = np.divide(legs.risk, np.abs(delta), out=np.zeros(len(delta)), where=delta != 0)
    remaining = delta.copy()
    given, credit = np.zeros(len(delta)), np.zeros(len(delta))
    formed = np.zeros((len(rows), n_sets))
    row_credit, row_matched, row_matched_a, row_risk, row_earlier = (
        np.zeros((len(rows), n_sets)) for _ in range(5)
    )
    sets = legs.margin_set
    for number, row in enumerate(rows):  # the rulebook's spread rows, not positions
        take = _taken(legs, remaining, row, n_sets, formed[number])
        row_earlier[number] = np.bincount(
            sets, weights=np.where(take > 0, credit, 0.0), minlength=n_sets
        )
        given += take
        credit += row.rate * take * weight
        row_matched[number] = np.bincount(sets, weights=take * weight, minlength=n_sets)
        on_a = np.where(legs.key == row.a, take * weight, 0.0)
        row_matched_a[number] = np.bincount(sets, weights=on_a, minlength=n_sets)
        row_credit[number] = row.rate * row_matched[number]
        row_risk[number] = np.bincount(
            sets, weights=np.where(take > 0, legs.risk, 0.0), minlength=n_sets
        )
        remaining = remaining - np.sign(remaining) * take
    return PriorityResult(
        credit=credit,
        delta_spread=given,
        formed=formed,
        row_credit=row_credit,
        row_matched=row_matched,
        row_matched_a=row_matched_a,
        row_risk=row_risk,
        row_earlier=row_earlier,
    )


def _taken(
    legs: SpreadLegs, remaining: FloatArray, row: SpreadRow, n_sets: int, formed: FloatArray
) -> FloatArray:
    """The delta each class group gives to the spreads of one row (``formed`` is filled
    with the spreads per margin set)."""
    sets, a, b = legs.margin_set, row.a, row.b
    ra, rb = row.ratio_a, row.ratio_b
    is_a, is_b = legs.key == a, (legs.key == b) & (legs.key != a)
    long, short, size = remaining > 0, remaining < 0, np.abs(remaining)
    sides = [is_a & long, is_a & short, is_b & long, is_b & short]
    a_long, a_short, b_long, b_short = (_side_totals(sets, n_sets, s, size) for s in sides)
    if a == b:  # longs (ratio a) against shorts (ratio b) of one key: one set of spreads
        first = second = np.minimum(a_long / ra, a_short / rb)
        formed[:] = first
        used = [ra * first, rb * first, 0.0 * first, 0.0 * first]
    else:
        first, second = np.minimum(a_long / ra, b_short / rb), np.minimum(a_short / ra, b_long / rb)
        formed[:] = first + second
        used = [ra * first, ra * second, rb * second, rb * first]
    spreads = np.select(sides, [u[sets] for u in used], 0.0)
    side = np.select(sides, [a_long[sets], a_short[sets], b_long[sets], b_short[sets]], 0.0)
    taken = np.divide(spreads * size, side, out=np.zeros(len(size)), where=side > 0)
    return np.asarray(taken, dtype=np.float64)
