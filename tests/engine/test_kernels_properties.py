"""Property tests: requirements never negative, collateral never raises a call, row order
does not change group results."""

from __future__ import annotations

import numpy as np
import pandas as pd
from _kernel_frames import positions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marginlex.engine.kernels.haircuts import (
    AssetRate,
    ConcentrationCap,
    HaircutSchedule,
    apply_concentration_cap,
    apply_haircuts,
)
from marginlex.engine.kernels.offsets import (
    OffsetParams,
    SpreadCredit,
    product_group_offsets,
    spread_credits,
)
from marginlex.engine.kernels.scenarios import GridParams, scenario_grid
from marginlex.engine.kernels.span import SpanParams, span_scan
from marginlex.engine.kernels.strategy import OptionRates, StrategyParams, strategy_based
from marginlex.engine.phases.decision import DecisionParams, decide

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GRID = GridParams(minimum_per_contract=0.375)
SPAN = SpanParams(
    scan_ranges={"stock": 0.1, "equity_option": 0.1},
    vol_shift=0.04,
    extreme_fraction=0.33,
    short_option_minimum=0.375,
)
STRATEGY = StrategyParams(
    long_equity_rate=0.25,
    short_equity_rate=0.30,
    equity_option=OptionRates(underlying_rate=0.2, minimum_rate=0.1),
    broad_index_option=OptionRates(underlying_rate=0.15, minimum_rate=0.1),
    other_rate=1.0,
)
SCHEDULE = HaircutSchedule(
    name="p",
    flat=(
        AssetRate(assets=("USD",), rate=0.0),
        AssetRate(assets=("STOCK",), rate=0.15),
        AssetRate(assets=("BTC",), rate=0.2),
    ),
)
CAP = ConcentrationCap(name="digital", assets=("BTC",), fraction=0.4)

UNDERLYINGS = {"AAA": 100.0, "BBB": 40.0, "CCC": 250.0}


@st.composite
def books(draw: st.DrawFn) -> pd.DataFrame:
    """Up to 12 positions in 3 margin sets: stocks and options on three underlyings."""
    rows = []
    for _ in range(draw(st.integers(1, 12))):
        name = draw(st.sampled_from(sorted(UNDERLYINGS)))
        spot = UNDERLYINGS[name]
        ms = draw(st.integers(0, 2))
        qty = float(draw(st.integers(-20, 20)))
        ranges = (
            {"range_up": 0.15, "range_down": 0.15}
            if name != "CCC"
            else {"range_up": 0.06, "range_down": 0.08}
        )
        if draw(st.booleans()):
            strike = spot * draw(st.sampled_from([0.8, 0.95, 1.0, 1.05, 1.2]))
            rows.append(
                {
                    "margin_set": ms,
                    "account_id": f"A{ms}",
                    "instrument_id": f"{name}O{strike:g}",
                    "underlying": name,
                    "class_group": name,
                    "product": "equity_option",
                    "quantity": qty,
                    "multiplier": 100.0,
                    "price": 2.0,
                    "is_option": True,
                    "is_call": draw(st.booleans()),
                    "is_contract": True,
                    "underlying_price": spot,
                    "strike": strike,
                    "implied_vol": draw(st.sampled_from([0.0, 0.2, 0.5])),
                    "t": draw(st.sampled_from([0.0, 0.05, 0.5])),
                    **ranges,
                }
            )
        else:
            rows.append(
                {
                    "margin_set": ms,
                    "account_id": f"A{ms}",
                    "instrument_id": name,
                    "class_group": name,
                    "quantity": qty * 10,
                    "price": spot,
                    **ranges,
                }
            )
    return positions(*rows)


def _permuted(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    order = np.random.default_rng(seed).permutation(len(frame))
    return frame.iloc[order].reset_index(drop=True)


@SETTINGS
@given(books())
def test_requirements_are_never_negative(book: pd.DataFrame) -> None:
    grid = scenario_grid(book, GRID)
    assert (grid.groups[["loss", "minimum", "requirement"]].to_numpy() >= 0).all()
    pg = pd.Series(np.where(grid.groups["class_group"] == "BBB", None, "broad"), dtype="str")
    offsets = product_group_offsets(grid.groups, grid.group_pnl, pg, OffsetParams(default_rate=0.9))
    assert (offsets.product_groups[["netted_loss", "requirement", "credit"]].to_numpy() >= 0).all()
    scan = span_scan(book, SPAN)
    credited = spread_credits(scan.groups, (SpreadCredit(group_a="AAA", group_b="CCC", rate=0.8),))
    assert (
        credited.groups[["scanning_risk", "requirement", "spread_credit"]].to_numpy() >= 0
    ).all()
    assert (strategy_based(book, STRATEGY)["requirement"].to_numpy() >= 0).all()


TIE_NAMING = [
    "worst_point",
    "worst_shock",
    "worst_scenario",
    "worst_price_move",
    "worst_vol_move",
    "worst_weight",
    "direction",
]
"""Which scenario a class group's worst loss is named by (``direction``, which the offsets
read, is still compared where the group's risk is more than noise). Among tied scenarios (a hedged
group's P&L is 0 at every point, up to the last bits of sums taken in another order) a
kernel names the one its row order makes worst: the figures agree, the name may not. A
book's rows reach the kernels in one canonical order (the loader sorts them), so a run's
trace names the same scenario whatever order the files were written in
(``test_evaluate_properties.py::test_row_order_of_the_files_changes_no_decision`` holds
every trace frame)."""


@SETTINGS
@given(books(), st.integers(0, 2**32 - 1))
def test_row_order_does_not_change_group_results(book: pd.DataFrame, seed: int) -> None:
    shuffled = _permuted(book, seed)
    for kernel in (lambda f: scenario_grid(f, GRID).groups, lambda f: span_scan(f, SPAN).groups):
        a, b = kernel(book), kernel(shuffled)
        assert a["class_group"].tolist() == b["class_group"].tolist()
        assert a["margin_set"].tolist() == b["margin_set"].tolist()
        numeric = a.select_dtypes("number").columns.difference(TIE_NAMING, sort=False)
        np.testing.assert_allclose(
            a[numeric].to_numpy(float), b[numeric].to_numpy(float), rtol=1e-9, atol=1e-6
        )
        if "direction" in a:  # the offsets read it (which legs hedge): where a risk is real
            real = a["scanning_risk"].to_numpy(float) > 1e-6
            assert (a["direction"][real].to_numpy() == b["direction"][real].to_numpy()).all()
    s_a = strategy_based(book, STRATEGY).groupby(book["margin_set"])["requirement"].sum()
    s_b = strategy_based(shuffled, STRATEGY).groupby(shuffled["margin_set"])["requirement"].sum()
    np.testing.assert_allclose(s_a.to_numpy(), s_b.to_numpy(), rtol=1e-9, atol=1e-6)


LOT = st.tuples(
    st.sampled_from(["USD", "STOCK", "BTC", "SOL"]), st.floats(0, 1e6), st.integers(0, 1)
)


def _call(lots: list[tuple[str, float, int]], requirement: np.ndarray) -> np.ndarray:
    frame = pd.DataFrame(
        {
            "asset": pd.Series([a for a, _, _ in lots], dtype="str"),
            "market_value": [v for _, v, _ in lots],
            "maturity_years": np.nan,
            "margin_set": [m for _, _, m in lots],
        }
    )
    cut = apply_haircuts(frame, SCHEDULE)
    capped, _ = apply_concentration_cap(frame.assign(value=cut["value"]), requirement, CAP)
    value = np.bincount(frame["margin_set"], weights=capped["value"], minlength=2)
    market = np.bincount(frame["margin_set"], weights=frame["market_value"], minlength=2)
    sets = pd.DataFrame(
        {
            "margin_set": [0, 1],
            "collateral_market_value": market,
            "collateral_value": value,
            "position_value": [-5e4, 1e4],
            "requirement": requirement,
            "breach": False,
        }
    )
    return decide(sets, DecisionParams())["call"].to_numpy()


@SETTINGS
@given(st.lists(LOT, max_size=8), LOT, st.tuples(st.floats(0, 1e6), st.floats(0, 1e6)))
def test_adding_collateral_never_raises_a_call(lots: list, extra: tuple, req: tuple) -> None:
    requirement = np.array(req)
    before = _call(lots, requirement)
    after = _call([*lots, extra], requirement)
    assert (after <= before).all()
