"""Citations and reasons that stay true (issue 10, item 3): one test per promise.

- a table row's own `[status, cites "..."]` reaches the trace lines of what it decided;
- a (dated) overriding parameter's citation reaches the decisions it governed;
- `because` texts render `{parameter}` with the value in force, and check keeps them honest;
- a failed minimum says by how much it failed.

Figures are hand-computed from the demo book (docs/demo-book.md): A01_ALICE_PM has equity
150,000 cash + 1,000 XYZ at 100 - 10 XYZ 90 puts at 1.74 x 100 = 248,260.00.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from audit_helpers import DATA

import marginlex
from marginlex.audit.explain.text import render_text
from marginlex.audit.trace.from_evaluation import decision_traces, trace_columns
from marginlex.audit.trace.model import DecisionTrace, RulebookRef
from marginlex.audit.trace.steps import ClassGroupsOutput, CollateralOutput, EligibilityOutput
from marginlex.dsl import check_text
from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import load_demo_book
from marginlex.engine.evaluate import evaluate
from marginlex.engine.plan.compile import compile_plan

HOUSE = """rulebook house "House minimum on the SEC rulebook"
  cites "House policy 7 on portfolio margin"
  extends sec

override parameter pm_min_equity = 100,000 USD
  cites "FINRA Rule 4210(g)(6)(B)(i)"
  status secondary
  effective from 2026-01-01 until 2026-06-01

override parameter pm_min_equity = 300,000 USD
  cites "House minimum, policy 7 section 2"
  status illustrative
  effective from 2026-06-01

override haircut sec_other_assets for collateral
  where collateral.asset in {USD, STOCK, ETF, MMF}
  cites "SEC Rule 15c3-1(c)(2)(vi)"
  status illustrative
  by asset
    USD 0% [verified, cites "SEC Rule 15c3-1(c)(2)(vi)(E): cash"]
    STOCK 15%
    ETF 15%
    MMF 2%
"""


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("house") / "house.mlx"
    path.write_text(HOUSE, encoding="utf-8")
    return path


def _traces(rulebook: object, as_of: dt.date) -> dict[str, DecisionTrace]:
    resolved = load_rulebook(rulebook)  # type: ignore[arg-type]
    book = load_demo_book()
    ev = evaluate(compile_plan(resolved, as_of), book)
    ref = RulebookRef(id=resolved.id, name=resolved.header.title, sha256="0" * 64, version="")
    traces = decision_traces(trace_columns(ev, book, ref, "test"))
    return {t.margin_set.id: t for t in traces}


def _eligibility(trace: DecisionTrace) -> tuple[str, EligibilityOutput]:
    step = next(s for s in trace.steps if s.rule_id == "portfolio_margin")
    assert isinstance(step.output, EligibilityOutput)
    return step.citation, step.output


# ---- a table row's citation and status reach the lines it decided -----------------------


def test_a_range_row_marked_secondary_is_cited_as_secondary_on_its_positions() -> None:
    traces = _traces("sec", dt.date(2026, 6, 30))
    step = next(s for s in traces["ms:A01_ALICE_PM"].steps if s.rule_id == "sec_portfolio_margin")
    assert step.evidence.value == "V"  # the statement is verified, its ±15% row is not
    assert isinstance(step.output, ClassGroupsOutput)
    positions = step.output.groups[0].positions
    assert {(p.instrument_id, p.evidence, p.citation) for p in positions} == {
        ("XYZ", "S", "FINRA Rule 4210(g)(2)(F)(i)(c)"),
        ("XYZ_P90_2609", "S", "FINRA Rule 4210(g)(2)(F)(i)(c)"),
    }
    # SPY is high-cap broad: the first range row, verified with its own citation.
    spy = next(s for s in traces["ms:A04_DELTA_PM"].steps if s.rule_id == "sec_portfolio_margin")
    assert isinstance(spy.output, ClassGroupsOutput)
    (p,) = spy.output.groups[0].positions
    assert (p.evidence, p.citation) == ("V", "FINRA Rule 4210(g)(2)(F)(i)(a)")


def test_a_strategy_when_row_and_a_leg_carry_their_own_notes() -> None:
    ev = marginlex.evaluate("sec")
    pos = ev.frames["positions"].set_index(["margin_set_id", "instrument_id"])
    # The demo's cash Treasury (A07) is margined in the CFTC cross-margin set, not here
    # (sec_treasury_give_up): the 4210(e)(2)(A) rows' own notes are checked on a small book
    # in rulebooks/tests/sec.test.toml (R_UST).
    assert ("ms:A07_ECHO_SEC", "UST_2035_08") not in pos.index
    # Long stock: the `long_stock` leg has no note, so the statement's citation and status.
    stock = pos.loc[("ms:A10_HOTEL_MGN", "ABC")]
    assert stock["citation"] == "Regulation T, 12 CFR 220.12; FINRA Rule 4210(c) and (f)(2)"
    assert stock["evidence"] == "secondary"


def test_a_haircut_row_note_reaches_its_lots_and_the_explain_line(house: Path) -> None:
    traces = _traces(house, dt.date(2026, 6, 30))
    trace = traces["ms:A12_JULIET_PM"]
    step = next(s for s in trace.steps if s.rule_id == "sec_other_assets")
    assert isinstance(step.output, CollateralOutput)
    assert step.evidence.value == "I"
    lots = {lot.lot_id: (lot.evidence, lot.citation) for lot in step.output.lots}
    # L18 is MMF: a row without a note takes the (illustrative) statement's citation.
    assert lots["L18"] == ("I", "SEC Rule 15c3-1(c)(2)(vi)")
    cash = traces["ms:A01_ALICE_PM"]
    text = render_text(cash)
    assert (
        'L01 USD (A01_ALICE_PM) market value 150,000.00: row "USD" 0% -> 150,000.00, value '
        "150,000.00  ‹sec_other_assets [V]: SEC Rule 15c3-1(c)(2)(vi)(E): cash›"
    ) in text


def test_a_schema_1_0_trace_is_read_and_explained_with_its_steps_citations() -> None:
    old = DecisionTrace.model_validate_json((DATA / "pm_decision.json").read_text())
    assert old.schema_version == "1.0"
    lots = [
        lot for s in old.steps if isinstance(s.output, CollateralOutput) for lot in s.output.lots
    ]
    assert lots and all(lot.citation is None and lot.evidence is None for lot in lots)
    assert json.loads(old.canonical())["schema_version"] == "1.0"
    assert "‹" in render_text(old)


# ---- a dated override's own citation governs the decisions it applied to --------------


def test_a_dated_override_cites_itself_in_the_decisions_it_governed(house: Path) -> None:
    citation, _ = _eligibility(_traces(house, dt.date(2026, 6, 30))["ms:A01_ALICE_PM"])
    assert citation == ("FINRA Rule 4210(g)(6); pm_min_equity: House minimum, policy 7 section 2")
    before, _ = _eligibility(_traces(house, dt.date(2026, 3, 31))["ms:A01_ALICE_PM"])
    assert before == "FINRA Rule 4210(g)(6); pm_min_equity: FINRA Rule 4210(g)(6)(B)(i)"
    shipped, _ = _eligibility(_traces("sec", dt.date(2026, 6, 30))["ms:A01_ALICE_PM"])
    assert shipped == "FINRA Rule 4210(g)(6)"  # no override: the statement's alone


# ---- reasons render the value in force; a failed minimum says by how much ---------------


def test_the_reason_names_the_minimum_in_force_and_the_shortfall(house: Path) -> None:
    _, out = _eligibility(_traces(house, dt.date(2026, 6, 30))["ms:A01_ALICE_PM"])
    checks = {r.name: r for r in out.requirements}
    failed = checks["min_equity"]
    # 300,000.00 - 248,260.00 = 51,740.00
    assert (failed.passed, failed.reason, str(failed.shortfall)) == (
        False,
        "account equity must be at least 300,000 USD",
        "51740.00",
    )
    assert checks["pm_account"].shortfall is None  # passed
    assert checks["min_equity_unlisted"].shortfall is None  # does not apply (no sbs)
    text = render_text(_traces(house, dt.date(2026, 6, 30))["ms:A01_ALICE_PM"])
    assert (
        "FAIL min_equity: account equity must be at least 300,000 USD "
        "(equity 248,260.00, short 51,740.00)"
    ) in text
    _, earlier = _eligibility(_traces(house, dt.date(2026, 3, 31))["ms:A01_ALICE_PM"])
    passed = {r.name: r for r in earlier.requirements}["min_equity"]
    assert (passed.passed, passed.reason) == (True, "account equity must be at least 100,000 USD")


def test_shortfalls_of_the_demo_book_by_hand() -> None:
    frame = marginlex.evaluate("sec").frames["eligibility"]
    short = frame[frame["shortfall"].notna()]
    # A02_BOB_PM: equity 40,000 cash + 300 XYZ x 100 - 2 XYZ 90 puts x 100 x 1.74 = 69,652,
    # short 100,000 - 69,652 = 30,348. A10_HOTEL_MGN: 5,000 cash + 500 ABC x 50 = 30,000,
    # short 70,000. A13_KILO_MGN: 10,000 own cash + 200 ABC x 50 = 20,000 (lot L22 is pledged
    # away to A14), short 80,000. A16_NOVA_CASH: -50,000 debit + 1,000 XYZ x 100 = 50,000,
    # short 50,000. Every other in-scope account passes its minimum (or is not tested).
    got = dict(zip(short["account_id"].astype(str), short["shortfall"], strict=True))
    assert got == {
        "A02_BOB_PM": pytest.approx(30348.0, abs=0.005),
        "A10_HOTEL_MGN": 70000.0,
        "A13_KILO_MGN": 80000.0,
        "A16_NOVA_CASH": 50000.0,
    }
    assert set(short["requirement"].astype(str)) == {"min_equity"}


# ---- check keeps the texts honest ------------------------------------------------------


def test_a_variant_raising_a_minimum_is_warned_about_a_reason_that_spells_the_old_one(
    tmp_path: Path,
) -> None:
    (tmp_path / "base.mlx").write_text(
        'rulebook base "Base"\n  cites "b"\n'
        'parameter floor = 100,000 USD\n  cites "b"\n'
        'eligibility e for account\n  cites "b"\n'
        '  require min_equity: account.equity >= floor\n    because "at least $100,000"\n'
    )
    variant = tmp_path / "variant.mlx"
    variant.write_text(
        'rulebook variant "V"\n  cites "v"\n  extends base\n'
        'override parameter floor = 300,000 USD\n  cites "house"\n'
    )
    (found,) = check_text(variant.read_text(), str(variant))
    assert (found.code.value, found.severity.value, found.span.line) == ("MLX224", "warning", 4)
    assert found.message == (
        'the reason of `min_equity` says "$100,000", but `floor`, which it tests, is 300,000 USD'
    )
    assert found.hint is not None and "`{floor}`" in found.hint
    assert "the `because` text (line 8 of base.mlx)" in found.hint  # where `because` is


def test_shipped_rulebooks_name_their_minimums_by_parameter() -> None:
    for name in ("sec", "harmonized"):
        plan = compile_plan(load_rulebook(name), dt.date(2026, 6, 30))
        step = next(s for s in plan.steps if s.rule_id == "portfolio_margin")
        assert not any("{" in r or "$" in r for r in step.reasons), step.reasons
        assert any("100,000 USD" in r for r in step.reasons)


def test_the_shortfall_column_is_computed_for_every_account_at_once() -> None:
    from marginlex.dsl.model import expressions as e  # noqa: PLC0415
    from marginlex.engine.phases.shortfall import shortfall  # noqa: PLC0415
    from marginlex.engine.plan.context import RowContext  # noqa: PLC0415
    from marginlex.engine.plan.steps import Plan  # noqa: PLC0415

    ctx = RowContext(
        "account", 3, {e.Subject.ACCOUNT: pd.DataFrame({"equity": [99_999.5, 1e5, 250_000.0]})}
    )
    plan = Plan(
        rulebook_id="x", title="", version="", as_of=dt.date(2026, 1, 1), parameters={}, steps=()
    )
    equity = e.FieldRef(subject=e.Subject.ACCOUNT, name="equity")
    minimum = e.Quantity(amount=100_000, unit=e.Unit.USD, text="100,000")
    mirrored = e.Compare(op=e.CmpOp.LE, left=minimum, right=equity)  # 100,000 USD <= equity
    np.testing.assert_array_equal(shortfall(mirrored, ctx, plan), [0.5, np.nan, np.nan])
    quantity = e.Compare(
        op=e.CmpOp.GE, left=e.FieldRef(subject=e.Subject.ACCOUNT, name="kind"), right=minimum
    )
    assert np.isnan(shortfall(quantity, ctx, plan)).all()  # not an amount against a minimum


def test_each_strategy_leg_and_when_row_cites_its_own_note() -> None:
    from marginlex.dsl import parse  # noqa: PLC0415
    from marginlex.dsl.model import rulebook as m  # noqa: PLC0415
    from marginlex.engine.plan.citations import strategy_notes  # noqa: PLC0415

    book = parse(
        'rulebook t "T" cites "c"\n'
        'margin s cites "statement" status secondary\n'
        "  applies to account where account.regime = SEC\n"
        "  strategy based\n"
        '    long_stock 25% [verified, cites "long stock row"]\n'
        '    short_equity_option 20% at least 10% [illustrative, cites "option row"]\n'
        "    short_index_option 15% at least 10%\n"
        '    when instrument.product in {ust_note} 2% [verified, cites "ust row"]\n'
    )
    statement = book.statements[0]
    assert isinstance(statement, m.Margin) and isinstance(statement.method, m.StrategyBased)
    frame = pd.DataFrame(
        {
            "product": ["stock", "equity_option", "index_option", "ust_note", "crypto"],
            "index_class": ["", "", "broad", "", ""],
        }
    )
    kernel = pd.Series(
        pd.Categorical(
            ["long_equity", "short_put_uncovered", "short_call_uncovered", "other", "other"]
        )
    )
    out = strategy_notes(statement, statement.method, frame, kernel, np.array([-1, -1, -1, 0, -1]))
    assert out["citation"].tolist() == [
        "long stock row",
        "option row",
        "statement",  # the broad index option's leg has no note
        "ust row",
        "long stock row",  # no row matched: it takes the long_stock rate, and its note
    ]
    assert out["evidence"].tolist() == [
        "verified",
        "illustrative",
        "secondary",
        "verified",
        "verified",
    ]
