"""Money rounding and Black-Scholes kernels."""

from __future__ import annotations

import doctest
import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from _kernel_frames import bs_scalar
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from marginlex.audit.trace.money import to_cents
from marginlex.engine.kernels import (
    grouping,
    haircuts,
    money,
    offsets,
    pricing,
    scenarios,
    span,
    strategy,
)
from marginlex.engine.kernels.money import round_cents, round_half_up
from marginlex.engine.kernels.pricing import black_scholes, years_between
from marginlex.engine.phases import decision as decide


@pytest.mark.parametrize(
    "module", [money, pricing, grouping, scenarios, span, offsets, haircuts, strategy, decide]
)
def test_doctests(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.failed == 0


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        (0.005, 0.01),  # a tie rounds up, not to even (banker's would give 0.00)
        (0.015, 0.02),
        (0.025, 0.03),  # banker's: 0.02
        (2.675, 2.68),  # stored as 2.67499999...; the number people see rounds up
        (-0.005, -0.01),  # half up = away from zero, as decimal.ROUND_HALF_UP
        (-1.015, -1.02),
        (1.0049, 1.0),
        (1234567.125, 1234567.13),
        (67108864.365, 67108864.37),  # a tie past float64's 6-decimal resolution
        (193273528.33499932, 193273528.33),  # 6.8e-5 cents short of the tie: not one
        (-193273528.33499932, -193273528.33),
        (87305154.30499985, 87305154.3),  # 101,954,008.15 x 85.6319%: 1.5e-5 cents short
        (10.10 * 0.85, 8.59),  # 8.584999999999999: on paper 8.585, a tie
        (47.90 * 0.85, 40.72),  # 40.714999999999996
        (10.25 * 0.30, 3.08),  # 3.0749999999999997
        (8.584999995, 8.58),  # a millionth of a cent below the tie is below it
        (1e18 + 0.0, 1e18),  # past every cent: unchanged
        (2e12, 2e12),  # the window never reaches a whole cent's share (it added one)
        (-0.001, 0.0),  # and never -0.0
    ],
)
def test_round_cents_half_up(amount: float, cents: float) -> None:
    out = float(round_cents(amount))
    assert out == cents
    assert math.copysign(1.0, out) == math.copysign(1.0, cents) or cents == 0.0
    assert not (out == 0.0 and math.copysign(1.0, out) < 0)


def test_round_half_up_keeps_nan_and_shape() -> None:
    out = round_half_up(np.array([[1.005, np.nan]]))
    assert out.shape == (1, 2)
    assert out[0, 0] == 1.01
    assert np.isnan(out[0, 1])


@settings(max_examples=200, deadline=None)
@given(st.integers(-(10**9), 10**9), st.integers(0, 999))
def test_round_cents_matches_audit_decimal(units: int, mills: int) -> None:
    # Amounts with three decimals: the vectorized kernel and the Decimal reporter agree.
    amount = units + math.copysign(mills / 1000.0, units or 1)
    assert float(round_cents(amount)) == float(to_cents(amount))


def test_years_between_is_days_over_365() -> None:
    # 2026-01-01 -> 2027-01-01 is 365 days = 1.0; -> 2026-01-31 is 30 days = 30/365.
    out = years_between(
        "2026-01-01", np.array(["2027-01-01", "2026-01-31", "NaT"], dtype="datetime64[D]")
    )
    assert out[0] == 1.0
    assert out[1] == 30 / 365
    assert np.isnan(out[2])


def test_black_scholes_matches_scalar_reference() -> None:
    spots = np.array([80.0, 95.0, 100.0, 120.0])
    for call in (True, False):
        got = black_scholes(spots, 100.0, 0.5, 0.25, call, rate=0.03)
        want = [bs_scalar(s, 100.0, 0.5, 0.25, call, 0.03) for s in spots]
        assert got.tolist() == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_black_scholes_atm_call_by_hand() -> None:
    # S = K = 100, t = 1, vol = 0.2, r = 0: d1 = 0.1, d2 = -0.1;
    # call = 100 (N(0.1) - N(-0.1)) = 100 (0.5398278 - 0.4601722) = 7.96557.
    assert float(black_scholes(100.0, 100.0, 1.0, 0.2, True)) == pytest.approx(7.96557, abs=1e-5)


def test_put_call_parity() -> None:
    # C - P = S - K e^{-rt}
    s, k, t, v, r = 103.0, 97.0, 0.75, 0.4, 0.05
    c = float(black_scholes(s, k, t, v, True, rate=r))
    p = float(black_scholes(s, k, t, v, False, rate=r))
    assert c - p == pytest.approx(s - k * math.exp(-r * t), abs=1e-10)


def test_expired_and_zero_vol_options_are_intrinsic() -> None:
    # Expired call 110 vs 100: 10; expired put: 0; zero-vol put 90 vs 100: 10; negative t too.
    got = black_scholes(
        np.array([110.0, 110.0, 90.0, 90.0]),
        100.0,
        np.array([0.0, 0.0, 0.5, -0.1]),
        np.array([0.3, 0.3, 0.0, 0.3]),
        np.array([True, False, False, False]),
    )
    assert got.tolist() == [10.0, 0.0, 10.0, 10.0]


@settings(max_examples=500, deadline=None)
@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False))
def test_round_cents_matches_audit_decimal_on_any_float(amount: float) -> None:
    # Every float, not only three-decimal ones: the trace's Decimal and the vectorized kernel
    # report the same cents, alone or in an array.
    assert float(round_cents(amount)) == float(to_cents(amount))
    assert float(round_cents(np.array([amount, amount]))[1]) == float(to_cents(amount))


def _repr_half_up(amount: float) -> float:
    """The amount's shortest repr, half up to the cent (what a float far from a tie gives)."""
    return float(Decimal(repr(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**8), st.integers(-2, 2), st.booleans())
def test_amounts_a_few_ulps_from_a_half_cent_are_the_half_cent(
    half_cents: int, ulps: int, negative: bool
) -> None:
    """Within a few ulps of a half cent (what arithmetic on decimal inputs leaves) an amount
    is that half cent, and rounds away from zero (amounts to half a million dollars: past
    about $50m a float's ulp is more than the millionth of a cent the window allows)."""
    amount = (2 * half_cents + 1) / 200.0
    for _ in range(abs(ulps)):
        amount = math.nextafter(amount, math.inf if ulps > 0 else -math.inf)
    amount = -amount if negative else amount
    assert float(round_cents(amount)) == math.copysign((half_cents + 1) / 100.0, amount)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**8), st.integers(1, 999_999), st.booleans())
@example(10**8, 499_999, False)
@example(10**8, 500_001, True)
@example(858, 499_999, False)
def test_amounts_off_a_half_cent_by_a_millionth_of_a_cent_or_more_round_as_written(
    cents: int, millionths: int, negative: bool
) -> None:
    """Away from the tie window the amount rounds as its repr reads, half up: up to a
    million dollars, a millionth of a cent from the tie is outside the window."""
    amount = (cents + millionths / 1_000_000) / 100.0
    assume(abs(millionths - 500_000) >= 1)
    amount = -amount if negative else amount
    assert float(round_cents(amount)) == _repr_half_up(amount)


@pytest.mark.parametrize(
    ("amount", "paper"),
    [
        (12_000_000_000.005, "12000000000.01"),
        (98_765_432_109.125, "98765432109.13"),
        (5_497_558_138.885, "5497558138.89"),
        (0.1 * 3 * 0.05, "0.02"),  # 0.015000000000000003
        (1.15 * 0.3, "0.35"),  # 0.345 on paper, 0.34499999999999997 in float64
        (1_000_000.10 * 0.85, "850000.09"),  # 850000.085
        (2_500_000.30 * 0.15, "375000.05"),  # 375000.045
    ],
)
def test_computed_ties_round_as_on_paper(amount: float, paper: str) -> None:
    assert float(round_cents(amount)) == float(paper)
    assert float(round_cents(-amount)) == -float(paper)
