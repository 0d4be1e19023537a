"""Issue 14's decision on the SPAN volatility shift: CME's volatility scan range is a change
relative to implied volatility, implied x (1 +/- shift), floored at a small positive
volatility; the old wording (`volatility shift V`) keeps its absolute meaning. Figures worked
out by hand in the docstrings (Black-Scholes at rate 0 by the scalar helper)."""

from __future__ import annotations

from math import erf, sqrt
from pathlib import Path

import numpy as np
import pytest
from _evaluate_books import bs, decision, make_book, run

from marginlex.engine.kernels.pricing import OptionLegs, revalue_options

# An option on the ES future (as in test_domain_ranges): 2026-06-30 to 2026-09-18, 80 days.
ES_CALL = "ES_C6000_2609,index_option,ES_2609,,,50,150.00,2026-09-18,call,6000,0.16,,"
T = 80 / 365


def test_cftc_span_shifts_implied_volatility_by_a_share_of_itself(tmp_path: Path) -> None:
    """Short 1 ES call, strike 6,000, implied vol 16%, 80 days, ES at 6,000, the future's
    scan range 7% (the book's). The rulebook's shift is 25% of implied volatility:
      vol up   = 16% x 1.25 = 20%,   vol down = 16% x 0.75 = 12%
    (the old reading added 25 points: 41%). BS(6,000, 16%) = 179.26 per unit.
      scenario 1 (price unchanged, vol up):  (BS(6,000, 20%) - 179.26) x 50 = 2,239.25 lost
      scenario 2 (price unchanged, vol down): (BS(6,000, 12%) - 179.26) x 50 = 2,240.04 won
      scenario 11 (+1 range = 6,420, vol up): 16,029.61 lost
      scenario 15 (+3 ranges = 7,260, vol unchanged): 54,080.16 x 0.33 = 17,846.45 lost
    maintenance = the worst, 17,846.45 (at 41% scenario 11 lost 26,732.06 and was the worst).
    """
    book = make_book(
        tmp_path,
        "F1,FOX,FCM1,CFTC,futures,customer,",
        "F1,ES_C6000_2609,-1",
        "L1,F1,USD,1000000,,",
        ES_CALL,
    )
    ev = run(book, "cftc")
    cg = (
        ev.frames["class_groups"].set_index("class_group").loc["SPX"]
    )  # the class group of ES_2609, its underlying
    now = bs(6000, 6000, T, 0.16, True)
    up = (bs(6000, 6000, T, 0.20, True) - now) * 50
    down = (bs(6000, 6000, T, 0.12, True) - now) * 50
    s11 = (bs(6420, 6000, T, 0.20, True) - now) * 50
    s15 = (bs(7260, 6000, T, 0.16, True) - now) * 50 * 0.33
    assert (up, down) == (pytest.approx(2239.25, abs=0.01), pytest.approx(-2240.04, abs=0.01))
    assert (s11, s15) == (pytest.approx(16029.61, abs=0.01), pytest.approx(17846.45, abs=0.01))
    # a short position: the P&L is the negative of the option's change in value
    assert cg["pnl_0"] == pytest.approx(-up, abs=0.01)
    assert cg["pnl_1"] == pytest.approx(-down, abs=0.01)
    assert cg["pnl_10"] == pytest.approx(-s11, abs=0.01)
    assert decision(ev, "ms:F1")["maintenance"] == pytest.approx(17846.45, abs=0.01)


def _legs(vol: float) -> OptionLegs:
    """One long call, spot = strike = 100, one year, 1 unit."""
    one = (np.array([x]) for x in (100.0, 100.0, 1.0, vol))
    return OptionLegs(*one, np.array([True]), np.array([1.0]))


def test_a_relative_shift_is_floored_and_an_absolute_one_keeps_its_meaning() -> None:
    """Implied 1.2%, shift 25% of it: down = 1.2% x 0.75 = 0.9%, under the 1% floor, so 1%;
    up = 1.2% x 1.25 = 1.5%. The absolute reading of the same 0.25 is 26.2% up and 0 down
    (floored at 0: the option at intrinsic, 0 at the money). Price unchanged, so each P&L is
    BS(vol) - BS(1.2%); at the money BS = 100 x (2 N(vol / 2) - 1)."""
    moves = np.zeros((2, 1))
    signs = np.array([0.25, -0.25])
    now = 100 * (2 * _n(0.006) - 1)
    relative = revalue_options(
        _legs(0.012), moves, vol_moves=signs, vol_relative=True, vol_floor=0.01
    ).ravel()
    absolute = revalue_options(_legs(0.012), moves, vol_moves=signs).ravel()
    assert relative.tolist() == pytest.approx(
        [100 * (2 * _n(0.0075) - 1) - now, 100 * (2 * _n(0.005) - 1) - now]
    )
    assert absolute.tolist() == pytest.approx([100 * (2 * _n(0.131) - 1) - now, -now])


def _n(x: float) -> float:
    """The standard normal distribution function."""
    return 0.5 * (1 + erf(x / sqrt(2)))


# A future scanned at 0.05% (its own scan range, so the volatility moves decide) and a put on
# it with an implied volatility of 0.8%, under the rulebook's 1% floor.
LOW_VOL = (
    "ESV_2609,index_future,,SPXV,,50,6000.00,2026-09-18,,,,0.0005,\n"
    "ESV_P6000_2609,index_option,ESV_2609,,,50,15.00,2026-09-18,put,6000,0.008,,"
)


def test_the_extreme_moves_keep_an_implied_volatility_under_the_floor(tmp_path: Path) -> None:
    """Long 1 ESV put, strike 6,000, at 6,000, 80 days, implied 0.8%.
    Scenarios 1-14 shock the volatility: 0.8% x 1.25 = 1% up, max(0.8% x 0.75, 1%) = 1%
    down (the floor, as `span_vol_floor` says of a shocked volatility), so each prices the
    put at 1%, worth more than at 0.8%: BS(6,000, 0.8%) = 8.9650, BS(6,000, 1%) = 11.2062.
    The extreme moves (15, 16) keep the volatility unchanged (running.md, domain.md section
    3), 0.8%: scenario 15 (+3 x 0.05% = 6,009): (BS(6,009, 0.8%) - 8.9650) x 50 x 0.33 =
    -62.44, the worst; the maintenance is 62.44. Priced at the floor, 1%, the "unchanged"
    scenario gained the volatility it does not move: (7.2845 - 8.9650) x 50 x 0.33 = -27.73
    was the maintenance."""
    book = make_book(
        tmp_path,
        "F1,FOX,FCM1,CFTC,futures,customer,",
        "F1,ESV_P6000_2609,1",
        "L1,F1,USD,1000000,,",
        LOW_VOL,
    )
    now = bs(6000, 6000, T, 0.008, False)
    s15 = (bs(6009, 6000, T, 0.008, False) - now) * 50 * 0.33
    at_floor = (bs(6009, 6000, T, 0.01, False) - now) * 50 * 0.33
    assert (now, s15) == (pytest.approx(8.9650, abs=1e-4), pytest.approx(-62.44, abs=0.005))
    assert at_floor == pytest.approx(-27.73, abs=0.005)
    ev = run(book, "cftc")
    cg = ev.frames["class_groups"].set_index("class_group").loc["SPXV"]
    assert cg["worst_point"] == 14  # scenario 15, counted from 0
    assert cg["pnl_14"] == pytest.approx(s15, abs=1e-6)
    assert decision(ev, "ms:F1")["maintenance"] == pytest.approx(62.44, abs=0.005)
