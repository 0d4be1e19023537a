"""Scenario-grid kernel and product-group offsets, with hand-computed figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _kernel_frames import as_float_list, bs_scalar, option, positions

from marginlex.engine.kernels.offsets import OffsetParams, OffsetRate, product_group_offsets
from marginlex.engine.kernels.scenarios import (
    GridParams,
    GridRange,
    assign_ranges,
    contract_flags,
    point_fractions,
    scenario_grid,
)

SEC = GridParams(rate=0.0, minimum_per_contract=0.375)
T30 = 30 / 365


def test_points_for_15_and_6_8() -> None:
    # +/-15% at 10 points: -15 -12 -9 -6 -3 +3 +6 +9 +12 +15 (%)
    assert (point_fractions(10) * 0.15).round(10).tolist() == [
        -0.15,
        -0.12,
        -0.09,
        -0.06,
        -0.03,
        0.03,
        0.06,
        0.09,
        0.12,
        0.15,
    ]


def test_stock_with_short_put_at_15_percent() -> None:
    # 100 XYZ at $100 and short 1 XYZ Jan 95 put (x100), 30 days, vol 30%, rate 0, +/-15%.
    frame = positions(
        {"quantity": 100.0},
        option(
            instrument_id="XYZP95",
            quantity=-1.0,
            underlying_price=100.0,
            strike=95.0,
            implied_vol=0.30,
            t=T30,
            price=1.42,
        ),
    )
    result = scenario_grid(frame, SEC)
    shocks = point_fractions(10) * 0.15
    put_now = bs_scalar(100.0, 95.0, T30, 0.30, call=False)
    expected = [
        100 * 100.0 * s - 100 * (bs_scalar(100.0 * (1 + s), 95.0, T30, 0.30, False) - put_now)
        for s in shocks
    ]
    assert as_float_list(result.group_pnl[0]) == pytest.approx(expected, rel=1e-10)
    # By hand at -15% (spot 85), t = 30/365 = 0.0821918, vol sqrt t = 0.3 x 0.2866911 = 0.0860073:
    #   now: d1 = (ln(100/95) + 0.045 t) / 0.0860073 = (0.0512933 + 0.0036986) / 0.0860073
    #        = 0.639387, d2 = 0.553379; put = 95 N(-0.553379) - 100 N(-0.639387)
    #        = 95 x 0.290002 - 100 x 0.261286 = 1.42160
    #   at 85: d1 = (ln(85/95) + 0.0036986) / 0.0860073 = (-0.1112256 + 0.0036986) / 0.0860073
    #        = -1.250207, d2 = -1.336215; put = 95 N(1.336215) - 85 N(1.250207)
    #        = 95 x 0.909260 - 85 x 0.894388 = 10.35675
    #   short put P&L = -(10.35675 - 1.42160) x 100 = -893.52; stock = 100 x 100 x -0.15 = -1500
    #   total = -2393.52: the worst point (column 0), loss 2393.52; minimum 1 x 0.375 x 100 = 37.50
    g = result.groups.iloc[0]
    assert g["worst_point"] == 0
    assert g["worst_shock"] == pytest.approx(-0.15)
    assert g["loss"] == pytest.approx(2393.52, abs=0.01)
    assert g["minimum"] == 37.5
    assert g["requirement"] == pytest.approx(2393.52, abs=0.01)
    assert not g["minimum_binds"]
    assert result.positions["pnl_at_worst"].tolist() == pytest.approx([-1500.0, -893.52], abs=0.01)


def test_high_cap_index_etf_at_minus_8() -> None:
    # 1,000 SPY at $500, high-cap broad-based: +6% / -8%. Worst point -8%:
    # loss = 1,000 x 500 x 0.08 = 40,000. Points: -8 -6.4 -4.8 -3.2 -1.6 +1.2 +2.4 +3.6 +4.8 +6.
    frame = positions(
        {
            "instrument_id": "SPY",
            "class_group": "SPY",
            "product": "etf",
            "quantity": 1000.0,
            "price": 500.0,
            "range_up": 0.06,
            "range_down": 0.08,
        }
    )
    result = scenario_grid(frame, SEC)
    g = result.groups.iloc[0]
    assert g["worst_point"] == 0
    assert g["worst_shock"] == pytest.approx(-0.08)
    assert g["loss"] == pytest.approx(40_000.0)
    assert g["requirement"] == pytest.approx(40_000.0)
    moves = [-8, -6.4, -4.8, -3.2, -1.6, 1.2, 2.4, 3.6, 4.8, 6.0]
    assert as_float_list(result.group_pnl[0]) == pytest.approx([500_000 * m / 100 for m in moves])


def test_minimum_binds_on_a_conversion() -> None:
    # Long 100 XYZ at $50, long 1 put and short 1 call at strike 50, same expiry, r = 0:
    # S + P - C = K at every point (put-call parity), so the grid loss is ~0 and the
    # minimum 2 contracts x $0.375 x 100 = $75 binds.
    leg = {
        "underlying_price": 50.0,
        "strike": 50.0,
        "implied_vol": 0.25,
        "t": 60 / 365,
        "price": 2.0,
    }
    frame = positions(
        {"quantity": 100.0, "price": 50.0},
        option(instrument_id="XYZP50", quantity=1.0, **leg),
        option(instrument_id="XYZC50", quantity=-1.0, is_call=True, **leg),
    )
    g = scenario_grid(frame, SEC).groups.iloc[0]
    assert g["loss"] == pytest.approx(0.0, abs=1e-8)
    assert g["contracts"] == 2.0
    assert g["minimum"] == 75.0
    assert g["requirement"] == 75.0
    assert g["minimum_binds"]


def test_long_option_minimum_capped_at_market_value() -> None:
    # Long 10 XYZ Jan 150 calls (x100) at $0.05, spot 100, 30 days, vol 30%: far out of the
    # money. Market value = 10 x 100 x 0.05 = $50. The uncapped minimum would be
    # 10 x $0.375 x 100 = $375; FINRA 4210(g)(2)(F) caps it at market value for a long
    # position, so the minimum is $50. A long option loses at most its model value, and the
    # model value of a 150 call at spot 115 (+15%) is a few cents, so the loss is well under
    # $50 and the minimum binds at $50.
    frame = positions(
        option(
            instrument_id="XYZC150",
            quantity=10.0,
            is_call=True,
            underlying_price=100.0,
            strike=150.0,
            implied_vol=0.30,
            t=T30,
            price=0.05,
        ),
    )
    result = scenario_grid(frame, SEC)
    g = result.groups.iloc[0]
    assert g["loss"] < 50.0
    assert g["minimum"] == pytest.approx(50.0)
    assert g["requirement"] == pytest.approx(50.0)
    assert g["minimum_binds"]
    # A short position keeps the full minimum: 10 x 0.375 x 100 = 375.
    short = positions(
        option(
            instrument_id="XYZC150",
            quantity=-10.0,
            is_call=True,
            underlying_price=100.0,
            strike=150.0,
            implied_vol=0.30,
            t=T30,
            price=0.05,
        )
    )
    assert scenario_grid(short, SEC).groups.iloc[0]["minimum"] == pytest.approx(375.0)


def test_long_unlisted_derivative_minimum_capped_at_market_value() -> None:
    # A security-based swap (an unlisted derivative) is a contract for the minimum when the
    # rulebook lists product sbs. Long 10 SWAPC at $0.02 (multiplier 1): market value
    # 10 x 1 x 0.02 = $0.20; the uncapped minimum 10 x $0.375 x 1 = $3.75 is capped at
    # $0.20 for a long unlisted derivative, as for a long option. Its grid loss is
    # 15% x $0.20 = $0.03, so the capped minimum binds: requirement $0.20.
    long_swap = {"instrument_id": "SWAPC", "class_group": "SWAPC", "product": "sbs"}
    frame = positions({**long_swap, "quantity": 10.0, "price": 0.02, "is_contract": True})
    g = scenario_grid(frame, SEC).groups.iloc[0]
    assert g["loss"] == pytest.approx(0.03)
    assert g["minimum"] == pytest.approx(0.20)
    assert g["requirement"] == pytest.approx(0.20)
    # Short, the swap keeps the full minimum: 10 x 0.375 x 1 = 3.75 > its 0.03 loss.
    short = positions({**long_swap, "quantity": -10.0, "price": 0.02, "is_contract": True})
    assert scenario_grid(short, SEC).groups.iloc[0]["requirement"] == pytest.approx(3.75)
    # A long stock flagged as a contract is not capped (neither option nor unlisted).
    stock = positions({"quantity": 10.0, "price": 0.02, "is_contract": True})
    assert scenario_grid(stock, SEC).groups.iloc[0]["minimum"] == pytest.approx(3.75)


def test_groups_sorted_by_margin_set_and_class_group() -> None:
    frame = positions(
        {"margin_set": 1, "class_group": "B", "quantity": 1.0},
        {"margin_set": 0, "class_group": "Z", "quantity": 1.0},
        {"margin_set": 1, "class_group": "A", "quantity": 1.0},
    )
    groups = scenario_grid(frame, SEC).groups
    assert list(zip(groups["margin_set"], groups["class_group"], strict=True)) == [
        (0, "Z"),
        (1, "A"),
        (1, "B"),
    ]


def test_mixed_ranges_in_one_class_group_are_refused() -> None:
    frame = positions({"quantity": 1.0}, {"quantity": 1.0, "range_up": 0.10})
    with pytest.raises(ValueError, match="class group 'XYZ' mixes range_up values"):
        scenario_grid(frame, SEC)


def test_odd_point_count_is_refused() -> None:
    with pytest.raises(ValueError, match="even number of points"):
        GridRange(up=0.1, down=0.1, points=9)
    with pytest.raises(ValueError, match="n_points must be an even number"):
        scenario_grid(positions({"quantity": 1.0, "n_points": 9}), SEC)


def test_assign_ranges_and_flags() -> None:
    table = {
        "high_cap_broad": GridRange(up=0.06, down=0.08, points=10),
        "other": GridRange(up=0.15, down=0.15, points=10),
    }
    out = assign_ranges(pd.Series(["other", "high_cap_broad"]), table)
    assert out.to_numpy().tolist() == [[0.15, 0.15, 10], [0.06, 0.08, 10]]
    with pytest.raises(ValueError, match="no scenario range for narrow"):
        assign_ranges(pd.Series(["narrow"]), table)
    flags = contract_flags(
        pd.Series(["stock", "equity_option", "index_future"]),
        pd.Series([None, "call", None], dtype="str"),
    )
    assert flags.to_numpy().tolist() == [
        [False, False, False],
        [True, True, True],
        [False, False, True],
    ]


def test_product_group_offset_figure() -> None:
    # Two class groups of the high-cap product group (offset 90%), +6/-8 at 10 points:
    #   A: long 100 at $100 (exposure 10,000); B: short 50 at $100 (exposure -5,000).
    # At -8% (column 0): A -800, B +400 -> net = 800 - 0.9 x 400 = 440.
    # At +6% (column 9): A +600, B -300 -> net = 300 - 0.9 x 600 = -240.
    # Every other point is a smaller multiple of these, so the worst is column 0: 440.
    # Stand-alone: A loses 800 (at -8%), B loses 300 (at +6%): 1,100; credit 1,100 - 440 = 660.
    rng = {"range_up": 0.06, "range_down": 0.08}
    frame = positions(
        {"class_group": "A", "quantity": 100.0, **rng},
        {"class_group": "B", "quantity": -50.0, **rng},
        {"class_group": "C", "quantity": 10.0},  # a single stock: stands alone
    )
    grid = scenario_grid(frame, SEC)
    pg = pd.Series(["high_cap_broad", "high_cap_broad", None], dtype="str")
    params = OffsetParams(rates=(OffsetRate(product_group="high_cap_broad", rate=0.9),))
    out = product_group_offsets(grid.groups, grid.group_pnl, pg, params)
    rows = out.product_groups.set_index("product_group")
    hc = rows.loc["high_cap_broad"]
    assert hc["worst_point"] == 0
    assert hc["losses_at_worst"] == pytest.approx(800.0)
    assert hc["gains_at_worst"] == pytest.approx(400.0)
    assert hc["netted_loss"] == pytest.approx(440.0)
    assert hc["class_group_losses"] == pytest.approx(1100.0)
    assert hc["requirement"] == pytest.approx(440.0)
    assert hc["credit"] == pytest.approx(660.0)
    # C: 10 x 100 x 15% = 150, unchanged, no credit.
    assert bool(rows.loc["C", "standalone"])
    assert rows.loc["C", "requirement"] == pytest.approx(150.0)
    assert rows.loc["C", "credit"] == 0.0
    assert out.class_group_product_group.tolist() == [0, 0, 1]  # product groups sort first


def test_offset_requirement_respects_summed_minimums() -> None:
    # Two conversions in one product group: losses ~0, minimums 75 + 75 = 150 bind.
    leg = {"underlying_price": 50.0, "strike": 50.0, "implied_vol": 0.25, "t": 60 / 365}
    rows = []
    for cg in ("A", "B"):
        rows += [
            {"class_group": cg, "quantity": 100.0, "price": 50.0},
            option(class_group=cg, quantity=1.0, **leg),
            option(class_group=cg, quantity=-1.0, is_call=True, **leg),
        ]
    grid = scenario_grid(positions(*rows), SEC)
    out = product_group_offsets(
        grid.groups, grid.group_pnl, pd.Series(["narrow", "narrow"]), OffsetParams(default_rate=0.5)
    )
    pg = out.product_groups.iloc[0]
    assert pg["minimum"] == 150.0
    assert pg["requirement"] == 150.0
    assert pg["minimum_binds"]
    assert np.isclose(pg["credit"], 0.0)
