"""A rulebook variant by path: the `rates` method, a rule not yet in force, as-of dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from _evaluate_books import decision, make_book

from marginlex.dsl.loader import load_rulebook
from marginlex.engine.evaluate import evaluate
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.plan.steps import StepKind

VARIANT = Path(__file__).parents[1] / "data" / "evaluate" / "sec_flat_rates.mlx"


def test_rates_method_and_a_skipped_rule(tmp_path: Path) -> None:
    # An ineligible margin account: 500 ABC x 50 = 25,000 at 40% = 10,000; 2 ABC 55 calls
    # short, market value -2 x 100 x 0.72 = -144, at `otherwise 100%` of |market value|
    # = 144. Requirement 10,144.
    book = make_book(
        tmp_path,
        "P1,HOTEL,BD1,SEC,margin,customer,",
        "P1,ABC,500\nP1,ABC_C55_2609,-2",
        "L1,P1,USD,5000,,",
    )
    rulebook = load_rulebook(VARIANT)
    plan = compile_plan(rulebook, book.as_of)
    assert [s.rule_id for s in plan.skipped] == ["future_one_owner"]
    assert "future_one_owner" not in [s.rule_id for s in plan.active(StepKind.SEGREGATION)]
    ev = evaluate(plan, book)
    d = decision(ev, "ms:P1")
    assert d["method_rule_id"] == "sec_strategy_based" and d["maintenance"] == 10144.0
    rows = ev.frames["positions"].set_index("instrument_id")
    assert rows.loc["ABC", "range_row"] == "row 1"
    assert rows.loc["ABC_C55_2609", "range_row"] == "row 2 (otherwise)"
    later = compile_plan(rulebook, dt.date(2027, 3, 1))
    assert later.skipped == ()


def test_a_plan_runs_only_on_its_date(tmp_path: Path) -> None:
    book = make_book(tmp_path, "P1,HOTEL,BD1,SEC,margin,customer,", "P1,ABC,1", "L1,P1,USD,5000,,")
    plan = compile_plan(load_rulebook("sec"), dt.date(2026, 7, 1))
    with pytest.raises(ValueError, match="compiled for 2026-07-01, not 2026-06-30"):
        evaluate(plan, book, book.as_of)
    # On its own date it runs: residual maturities and option times move with the date.
    assert len(evaluate(plan, book).decisions) == 1
