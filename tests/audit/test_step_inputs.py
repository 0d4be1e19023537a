"""Step inputs: the rulebook figures each step read, by id and value (audit/trace/step_inputs.py).

Expected inputs are written out by hand from the shipped rulebooks' text.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from marginlex.audit.trace.model import Evidence
from marginlex.audit.trace.model import Step as TraceStep
from marginlex.audit.trace.step_inputs import step_inputs, step_inputs_json
from marginlex.audit.trace.steps import InputValue, RuleKind, SegregationOutput
from marginlex.dsl.loader import load_rulebook
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.plan.steps import Plan, Step

AS_OF = dt.date(2026, 6, 30)
SHIPPED = ("sec", "cftc", "harmonized")

Expected = list[tuple[str, str | None, object]]


@pytest.fixture(scope="module")
def plans() -> dict[str, Plan]:
    names = (*SHIPPED, "harmonized_85pct_offsets", "harmonized_no_digital_collateral")
    return {name: compile_plan(load_rulebook(name), AS_OF) for name in names}


def _step(plan: Plan, rule_id: str) -> Step:
    return next(s for s in plan.steps if s.rule_id == rule_id)


def _inputs(plan: Plan, rule_id: str) -> Expected:
    return [(v.id, v.unit, v.value) for v in step_inputs(_step(plan, rule_id), plan)]


def test_eligibility_lists_its_thresholds(plans: dict[str, Plan]) -> None:
    expected = [
        ("param.pm_min_equity", "USD", 100_000.0),
        ("param.pm_min_equity_unlisted", "USD", 5_000_000.0),
    ]
    assert _inputs(plans["sec"], "portfolio_margin") == expected
    # The harmonized override names pm_min_equity inside an `or`: still listed, once.
    assert _inputs(plans["harmonized"], "portfolio_margin") == expected
    # Requirements that compare no number read nothing from the rulebook.
    assert _inputs(plans["cftc"], "treasury_cross_margin") == []


def test_scenario_grid_lists_points_rate_ranges_and_minimum(plans: dict[str, Plan]) -> None:
    rule = "sec_portfolio_margin"
    assert _inputs(plans["sec"], rule) == [
        (f"{rule}.points", None, 10),
        ("param.pm_option_rate", "fraction", 0.0),
        (f"{rule}.range[1].up", "fraction", 0.06),
        (f"{rule}.range[1].down", "fraction", 0.08),
        (f"{rule}.range[2].up", "fraction", 0.10),
        (f"{rule}.range[2].down", "fraction", 0.10),
        (f"{rule}.range[otherwise].up", "fraction", 0.15),
        (f"{rule}.range[otherwise].down", "fraction", 0.15),
        ("param.pm_contract_minimum", "USD", 0.375),
    ]


def test_harmonized_grid_lists_the_tenor_bounds_of_its_treasury_rows(
    plans: dict[str, Plan],
) -> None:
    got = _inputs(plans["harmonized"], "sec_portfolio_margin")
    rule = "sec_portfolio_margin"
    assert got[6:12] == [
        (f"{rule}.range[3].when", "years", 2.0),  # instrument.tenor < 2 years
        (f"{rule}.range[3].up", "fraction", 0.01),
        (f"{rule}.range[3].down", "fraction", 0.01),
        (f"{rule}.range[4].when", "years", 7.0),
        (f"{rule}.range[4].up", "fraction", 0.03),
        (f"{rule}.range[4].down", "fraction", 0.03),
    ]
    assert got[12:16] == [
        (f"{rule}.range[5].up", "fraction", 0.06),
        (f"{rule}.range[5].down", "fraction", 0.06),
        (f"{rule}.range[6].up", "fraction", 0.30),
        (f"{rule}.range[6].down", "fraction", 0.30),
    ]
    assert len(got) == 19


def test_span_scan_lists_shift_extremes_ranges_and_minimum(plans: dict[str, Plan]) -> None:
    # `steps 3` and `coverage span_coverage over span_liquidation` are not read by the
    # evaluator, so they are not inputs.
    assert _inputs(plans["cftc"], "cftc_span") == [
        ("param.span_vol_shift", "fraction", 0.25),
        ("param.span_vol_floor", "fraction", 0.01),
        ("param.span_extreme_multiple", "multiple", 3.0),
        ("param.span_extreme_cover", "fraction", 0.33),
        ("cftc_span.prefer_instrument_range", None, True),
        ("cftc_span.range[1]", "fraction", 0.07),
        ("cftc_span.range[2]", "fraction", 0.02),
        ("cftc_span.range[3]", "fraction", 0.30),
        ("cftc_span.range[4]", "fraction", 0.30),  # crypto_perpetual, its own row
        ("cftc_span.range[otherwise]", "fraction", 0.15),
        ("param.short_option_minimum", "USD", 0.375),
    ]


def test_strategy_based_lists_legs_and_other_rows(plans: dict[str, Plan]) -> None:
    rule = "sec_strategy_based"
    got = _inputs(plans["sec"], rule)
    assert got[:13] == [
        (f"{rule}.long_stock.rate", "fraction", 0.25),
        (f"{rule}.short_stock.rate", "fraction", 0.30),
        # FINRA 4210(c): at least 5 USD a share; under 5 USD a share, 100% at least 2.50
        (f"{rule}.short_stock.per_share", "USD", 5.0),
        (f"{rule}.short_stock.under", "USD", 5.0),
        (f"{rule}.short_stock.under.rate", "fraction", 1.0),
        (f"{rule}.short_stock.under.per_share", "USD", 2.5),
        (f"{rule}.short_equity_option.rate", "fraction", 0.20),
        (f"{rule}.short_equity_option.floor", "fraction", 0.10),
        (f"{rule}.short_index_option.rate", "fraction", 0.15),
        (f"{rule}.short_index_option.floor", "fraction", 0.10),
        (f"{rule}.long_option.rate", "fraction", 1.0),
        (f"{rule}.option_spread.rate", "fraction", 1.0),
        (f"{rule}.short_straddle.rate", "fraction", 1.0),
    ]
    assert got[13:15] == [
        (f"{rule}.others[1].when", "years", 1.0),  # residual_maturity < 1 year
        (f"{rule}.others[1].rate", "fraction", 0.01),
    ]
    assert got[-2:] == [
        (f"{rule}.others[6].rate", "fraction", 0.06),
        (f"{rule}.others[otherwise].rate", "fraction", 0.25),
    ]
    assert len(got) == 13 + 5 * 2 + 2


def test_initial_multiple_and_offsets(plans: dict[str, Plan]) -> None:
    cftc = plans["cftc"]
    assert _inputs(cftc, "cftc_initial") == [("param.initial_to_maintenance", "multiple", 1.1)]
    assert _inputs(cftc, "cftc_class_group_netting") == [
        ("cftc_class_group_netting.rate", "fraction", 1.0)
    ]
    assert _inputs(cftc, "cftc_spread_credits") == [
        ("cftc_spread_credits.by", None, "instrument.product"),
        ("cftc_spread_credits.index_future", "fraction", 0.5),
        ("cftc_spread_credits.ust_future", "fraction", 0.3),
    ]
    assert _inputs(plans["sec"], "sec_product_group_credits") == [
        ("sec_product_group_credits.by", None, "instrument.index_class"),
        ("param.pm_offset_high_cap_broad", "fraction", 0.9),
        ("param.pm_offset_broad", "fraction", 0.75),
        ("param.pm_offset_narrow", "fraction", 0.9),
    ]
    assert _inputs(plans["sec"], "sec_margin_sets") == []


def test_a_variant_override_shows_the_overridden_value(plans: dict[str, Plan]) -> None:
    assert _inputs(plans["harmonized_85pct_offsets"], "sec_product_group_credits") == [
        ("sec_product_group_credits.by", None, "instrument.index_class"),
        ("param.pm_offset_high_cap_broad", "fraction", 0.85),
        ("param.pm_offset_broad", "fraction", 0.85),
        ("param.pm_offset_narrow", "fraction", 0.85),
    ]
    # The other variant overrides a haircut statement: its identity changes.
    assert _inputs(plans["harmonized"], "cftc_digital_assets") == [
        ("cftc_digital_assets.schedule", None, "by asset, 4 rows")
    ]
    assert _inputs(plans["harmonized_no_digital_collateral"], "cftc_digital_assets") == [
        ("cftc_digital_assets.schedule", None, "ineligible")
    ]


def test_collateral_steps_list_schedule_identity_and_cap(plans: dict[str, Plan]) -> None:
    assert _inputs(plans["sec"], "sec_treasuries") == [
        ("sec_treasuries.schedule", None, "by residual_maturity, 12 rows")
    ]
    assert _inputs(plans["harmonized"], "harmonized_collateral") == [
        (
            "harmonized_collateral.schedule",
            None,
            "more conservative of {sec_treasuries, sec_other_assets} and "
            "{cftc_treasuries, cftc_other_assets}",
        )
    ]
    assert _inputs(plans["cftc"], "cftc_digital_cap") == [
        ("cftc_digital_cap.limit", "fraction", 0.4)
    ]


def test_segregation_lists_its_constraint_settings(plans: dict[str, Plan]) -> None:
    assert _inputs(plans["sec"], "sec_customer_carrier") == [
        ("sec_customer_carrier.carrier_kinds", None, "{broker_dealer, bd_fcm}")
    ]
    assert _inputs(plans["harmonized"], "harmonized_merged_carrier") == [
        ("harmonized_merged_carrier.carrier_kinds", None, "{bd_fcm}"),
        ("harmonized_merged_carrier.agreements", None, "{subordination}"),
    ]
    assert _inputs(plans["cftc"], "cftc_customer_funds") == []
    assert _inputs(plans["cftc"], "cftc_one_owner") == []


RULEBOOK = """\
rulebook inputs_case "inputs"
  cites "test"

parameter floor_equity = 25,000 USD
  cites "test"

parameter cap = 30%
  cites "test"

eligibility big for account
  cites "test"
  require sized: account.equity >= floor_equity
    when account.equity < 2,000,000 USD and account.equity > 1,000 USD
    because "sized"

haircut flat_cash for collateral
  where collateral.residual_maturity < 6 months and collateral.maturity > 2026-01-02
  cites "test"
  rate 2%

concentration capped for collateral
  where collateral.digital_asset
  cites "test"
  at most cap of requirement
"""


def test_conditions_number_their_literals_and_units_follow_fields(tmp_path: Path) -> None:
    path = tmp_path / "inputs_case.mlx"
    path.write_text(RULEBOOK, encoding="utf-8")
    plan = compile_plan(load_rulebook(path), AS_OF)
    assert _inputs(plan, "big") == [
        ("param.floor_equity", "USD", 25_000.0),
        ("big.sized.when.1", "USD", 2_000_000.0),
        ("big.sized.when.2", "USD", 1_000.0),
    ]
    assert _inputs(plan, "flat_cash") == [
        ("flat_cash.where.1", "years", 0.5),
        ("flat_cash.where.2", None, dt.date(2026, 1, 2)),
        ("flat_cash.schedule", None, "flat rate"),
        ("flat_cash.rate", "fraction", 0.02),
    ]
    assert _inputs(plan, "capped") == [("param.cap", "fraction", 0.3)]
    assert step_inputs_json(_step(plan, "flat_cash"), plan).startswith(
        '[{"id":"flat_cash.where.1","unit":"years","value":0.5},'
        '{"id":"flat_cash.where.2","unit":null,"value":"2026-01-02"}'
    )


def _as_in_trace(inputs: tuple[InputValue, ...]) -> str:
    """The trace step's canonical JSON with these inputs (the kind does not matter)."""
    step = TraceStep(
        citation="c",
        evidence=Evidence.VERIFIED,
        inputs=inputs,
        kind=RuleKind.SEGREGATION,
        output=SegregationOutput(violations=()),
        rule_id="r",
    )
    return step.model_dump_json()


@pytest.mark.parametrize("name", SHIPPED)
def test_json_is_what_the_trace_model_serializes(plans: dict[str, Plan], name: str) -> None:
    plan = plans[name]
    for step in plan.steps:
        if not step.in_force:
            continue
        inputs = step_inputs(step, plan)
        text = step_inputs_json(step, plan)
        assert f'"inputs":{text},"kind":' in _as_in_trace(inputs), step.rule_id
        assert [InputValue.model_validate(v) for v in json.loads(text)] == list(inputs)
        assert len({v.id for v in inputs}) == len(inputs), f"{step.rule_id}: repeated ids"
