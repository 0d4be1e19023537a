"""Vectorized expression evaluation: every node type has a handler; NaN semantics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from marginlex.dsl.loader import load_rulebook
from marginlex.dsl.model import expressions as e
from marginlex.dsl.model import rulebook as m
from marginlex.engine.book.load import load_demo_book
from marginlex.engine.plan.compile import CompileError, compile_plan
from marginlex.engine.plan.context import EvaluationError, RowContext, build_contexts
from marginlex.engine.plan.expressions import HANDLERS, mask
from marginlex.engine.plan.steps import Plan, StepKind

PLAN = Plan(
    rulebook_id="t",
    title="",
    version="",
    as_of=dt.date(2026, 6, 30),
    parameters={"floor": 100.0},
    steps=(),
)
A = e.Subject.ACCOUNT


def field(name: str, subject: e.Subject = A) -> e.FieldRef:
    return e.FieldRef(subject=subject, name=name)


def q(amount: float, unit: e.Unit = e.Unit.USD) -> e.Quantity:
    return e.Quantity(amount=amount, unit=unit, text=str(amount))


def ctx() -> RowContext:
    frame = pd.DataFrame(
        {
            "regime": pd.Series(["SEC", "CFTC", None], dtype="str"),
            "equity": [50.0, 150.0, float("nan")],
            "kind": pd.Categorical(["margin", "futures", None]),
        }
    )
    return RowContext("account", 3, {A: frame})


def test_every_expression_type_has_a_handler() -> None:
    assert set(HANDLERS) == set(e.EXPR_TYPES)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (
            e.Compare(op=e.CmpOp.EQ, left=field("regime"), right=e.Symbol(name="SEC")),
            [True, False, False],
        ),
        # NaN comparisons are False, `!=` included.
        (
            e.Compare(op=e.CmpOp.NE, left=field("regime"), right=e.Symbol(name="SEC")),
            [False, True, False],
        ),
        (
            e.Compare(op=e.CmpOp.GE, left=field("equity"), right=e.ParamRef(name="floor")),
            [False, True, False],
        ),
        (e.Compare(op=e.CmpOp.LT, left=field("equity"), right=q(100)), [True, False, False]),
        (
            e.Membership(
                item=field("kind"),
                collection=e.SetOf(items=(e.Symbol(name="futures"), e.Symbol(name="cash"))),
            ),
            [False, True, False],
        ),
        (
            e.Membership(
                item=field("kind"),
                negated=True,
                collection=e.SetOf(items=(e.Symbol(name="futures"),)),
            ),
            [True, False, False],
        ),
        (
            e.Not(item=e.Compare(op=e.CmpOp.EQ, left=field("regime"), right=e.Text(value="SEC"))),
            [False, True, True],
        ),
        (
            e.And(
                items=(
                    e.BoolValue(value=True),
                    e.Compare(op=e.CmpOp.GT, left=field("equity"), right=q(10)),
                )
            ),
            [True, True, False],
        ),
        (
            e.Or(
                items=(
                    e.BoolValue(value=False),
                    e.Compare(op=e.CmpOp.GT, left=field("equity"), right=q(100)),
                )
            ),
            [False, True, False],
        ),
        (
            e.Compare(
                op=e.CmpOp.LT,
                left=e.DateValue(value=dt.date(2026, 1, 1)),
                right=e.DateValue(value=dt.date(2026, 2, 1)),
            ),
            [True, True, True],
        ),
    ],
)
def test_conditions_as_columns(expr: e.Node, expected: list[bool]) -> None:
    assert mask(expr, ctx(), PLAN).tolist() == expected


def test_unknown_parameter_and_field_are_actionable() -> None:
    bad = e.Compare(op=e.CmpOp.GE, left=field("equity"), right=e.ParamRef(name="nope"))
    with pytest.raises(EvaluationError, match="parameter `nope` is not in force"):
        mask(bad, ctx(), PLAN)
    with pytest.raises(EvaluationError, match=r"no field `account\.colour`"):
        mask(e.Compare(op=e.CmpOp.EQ, left=field("colour"), right=q(1)), ctx(), PLAN)


def test_set_fields_graph_predicates_and_pushdown_on_the_demo_book() -> None:
    book = load_demo_book()
    c = build_contexts(book, book.as_of)
    ids = c.accounts.own[A]["id"].tolist()
    signed = e.Membership(item=e.Symbol(name="cross_margin"), collection=field("agreements"))
    assert {i for i, x in zip(ids, mask(signed, c.accounts, PLAN), strict=True) if x} == {
        "A04_DELTA_PM",
        "A05_DELTA_FUT",
        "A06_ECHO_XM",
        "A07_ECHO_SEC",
        "A12_JULIET_PM",
    }
    dco = e.GraphPredicate(
        subject=e.Subject.CARRIER, relation=e.RelationKind.MEMBER_OF, target_kind="dco"
    )
    member = dict(zip(ids, mask(dco, c.accounts, PLAN), strict=True))
    assert member["A08_FOX_FUT"] and not member["A01_ALICE_PM"]
    holds = e.Holds(subject=A, product=e.Symbol(name="ust_note"))
    assert [i for i, x in zip(ids, mask(holds, c.accounts, PLAN), strict=True) if x] == [
        "A07_ECHO_SEC"
    ]
    # An instrument-only condition on positions is evaluated per instrument and gathered.
    future = e.Compare(
        op=e.CmpOp.EQ,
        left=field("product", e.Subject.INSTRUMENT),
        right=e.Symbol(name="index_future"),
    )
    on_positions = mask(future, c.positions, PLAN)
    products = book.positions["product"].astype("str").to_numpy()
    assert np.array_equal(on_positions, products == "index_future")
    # Account fields reach positions through their account.
    sec = e.Compare(op=e.CmpOp.EQ, left=field("regime"), right=e.Symbol(name="SEC"))
    pos_regime = c.positions.column(A, "regime").astype("str").to_numpy()
    assert np.array_equal(mask(sec, c.positions, PLAN), pos_regime == "SEC")


def test_eligible_before_its_rule_ran_is_an_error() -> None:
    book = load_demo_book()
    c = build_contexts(book, book.as_of)
    with pytest.raises(EvaluationError, match="before eligibility rule `portfolio_margin`"):
        mask(e.Eligible(rule="portfolio_margin"), c.accounts, PLAN)


def test_plan_orders_phases_and_keeps_skipped_steps() -> None:
    rulebook = load_rulebook("harmonized")
    plan = compile_plan(rulebook, dt.date(2026, 6, 30))
    phases = [s.phase for s in plan.steps]
    assert phases == sorted(phases)
    assert [s.rule_id for s in plan.active(StepKind.SCOPE)] == ["harmonized_accounts"]
    assert plan.parameters["pm_min_equity"] == 100000.0
    assert plan.parameters["span_extreme_cover"] == pytest.approx(0.33)
    assert plan.skipped == ()


def test_a_rulebook_is_not_compiled_for_a_date_before_it_takes_effect() -> None:
    # harmonized.mlx: `effective from 2026-01-01`; deciding as of 2025-06-30 would apply
    # rules that bound nobody on that date.
    with pytest.raises(CompileError) as err:
        compile_plan(load_rulebook("harmonized"), dt.date(2025, 6, 30))
    assert str(err.value) == (
        "rulebook `harmonized` is in force from 2026-01-01, not on 2025-06-30: choose an "
        "as-of date in that range (--as-of), or a rulebook version in force on that date"
    )


def test_statements_not_in_force_are_skipped_steps() -> None:
    rulebook = load_rulebook("sec")
    dated = tuple(
        s.model_copy(update={"effective": m.Effective(start=dt.date(2027, 1, 1))})
        if s.id == "sec_product_group_credits"
        else s
        for s in rulebook.statements
    )
    plan = compile_plan(rulebook.model_copy(update={"statements": dated}), dt.date(2026, 6, 30))
    assert [s.rule_id for s in plan.skipped] == ["sec_product_group_credits"]
    assert "sec_product_group_credits" not in [s.rule_id for s in plan.active(StepKind.OFFSET)]


def _edited(name: str, rule_id: str, edit: Callable[[Any], Any]) -> m.Rulebook | Any:
    rulebook = load_rulebook(name)
    statements = tuple(edit(s) if s.id == rule_id else s for s in rulebook.statements)
    return rulebook.model_copy(update={"statements": statements})


def test_netting_at_a_rate_other_than_100_percent_is_refused_even_through_a_parameter() -> None:
    def by_parameter(s: Any) -> Any:
        rule = s.rule.model_copy(update={"rate": m.ParamRef(name="netting", span=s.span)})
        return s.model_copy(update={"rule": rule})

    rulebook = _edited("sec", "sec_class_group_netting", by_parameter)
    rate = next(p for p in rulebook.statements if isinstance(p, m.Parameter))
    eighty_five = rate.value.model_copy(
        update={"amount": 85.0, "unit": m.Unit.PERCENT, "text": "85"}
    )
    netting = rate.model_copy(update={"id": "netting", "value": eighty_five})
    rulebook = rulebook.model_copy(update={"statements": (netting, *rulebook.statements)})
    with pytest.raises(
        CompileError,
        match="sec_class_group_netting`: the evaluator does not "
        "support netting within a class group at a rate other than 100%",
    ):
        compile_plan(rulebook, dt.date(2026, 6, 30))


def test_a_span_scan_in_other_than_three_steps_is_refused() -> None:
    def five_steps(s: Any) -> Any:
        return s.model_copy(update={"method": s.method.model_copy(update={"steps": 5})})

    with pytest.raises(
        CompileError,
        match=r"cftc.mlx:\d+:\d+: rule `cftc_span`: the evaluator "
        r"does not support a SPAN scan in other than 3 steps",
    ):
        compile_plan(_edited("cftc", "cftc_span", five_steps), dt.date(2026, 6, 30))
