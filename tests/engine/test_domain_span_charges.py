"""SPAN calendar spread and delivery month charges (issue 14, section 2), by hand.

The evaluated cases are in ``rulebooks/tests/cftc.test.toml`` (C_PIA, C_QUIN); these test the
kernel's spread formation on its own.
"""

from __future__ import annotations

import numpy as np

from marginlex.engine.kernels.span_charges import calendar_spreads, delivery_charges

NEAR_FAR = np.array([0.25, np.inf])  # up to 3 months, otherwise


def test_a_long_and_a_short_in_two_months_of_one_tier_form_spreads_there() -> None:
    # long 5 Sep (0.22y), short 3 Aug (0.14y): 3 spreads, both legs in tier 1; 2 long left over
    got = calendar_spreads(
        np.array([0, 0]),
        1,
        counted=np.array([True, True]),
        quantity=np.array([5.0, -3.0]),
        expiry=np.array([0.22, 0.14]),
        bounds=NEAR_FAR,
    )
    assert got.tolist() == [[3.0, 0.0]]


def test_a_spread_takes_the_tier_of_its_farther_leg() -> None:
    # long 3 Sep (tier 1), short 1 Aug (tier 1), short 2 Dec (tier 2): up to tier 1 min(3, 1)
    # = 1; up to tier 2 min(3, 3) = 3, so 2 spreads have their far leg in tier 2
    got = calendar_spreads(
        np.array([0, 0, 0]),
        1,
        counted=np.ones(3, bool),
        quantity=np.array([3.0, -1.0, -2.0]),
        expiry=np.array([80 / 365, 52 / 365, 171 / 365]),
        bounds=NEAR_FAR,
    )
    assert got.tolist() == [[1.0, 2.0]]


def test_one_expiry_nets_before_spreads_and_class_groups_stay_apart() -> None:
    # group 0: +4 and -4 of the same expiry (two accounts of one set) net to 0: no spread;
    # group 1: +2 Sep, -2 Dec: 2 spreads in tier 2; an uncounted row (an option) is ignored
    got = calendar_spreads(
        np.array([0, 0, 1, 1, 1]),
        2,
        counted=np.array([True, True, True, True, False]),
        quantity=np.array([4.0, -4.0, 2.0, -2.0, -9.0]),
        expiry=np.array([0.2, 0.2, 0.2, 0.47, 0.3]),
        bounds=NEAR_FAR,
    )
    assert got.tolist() == [[0.0, 0.0], [0.0, 2.0]]


def test_a_position_past_every_bound_is_not_counted() -> None:
    # tiers `up to 3 months` only: the Dec leg (0.47y) is past it, so no spread forms
    got = calendar_spreads(
        np.array([0, 0]),
        1,
        counted=np.ones(2, bool),
        quantity=np.array([1.0, -1.0]),
        expiry=np.array([0.2, 0.47]),
        bounds=np.array([0.25]),
    )
    assert got.tolist() == [[0.0]]


def test_delivery_month_charge_is_per_gross_contract() -> None:
    # group 0: long 3 and short 2 in the delivery month: 5 x 500 = 2,500; group 1 none
    got = delivery_charges(
        np.array([0, 0, 1]), 2, np.array([True, True, False]), np.array([3.0, -2.0, 4.0]), 500.0
    )
    assert got.tolist() == [2500.0, 0.0]
