"""Issue 14, section 6: a pattern day trader's minimum equity (FINRA Rule 4210(f)(8)(B)(iv)(a),
`sec_pattern_day_trader`): the requirement of a set holding a pattern day trader is at least
25,000, so a value under it is called up to it. Figures worked out by hand in the docstrings."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from _evaluate_books import ACCOUNTS_HEADER, decision, make_book, run

from marginlex.audit.ledger.record import rulebook_ref
from marginlex.audit.ledger.recorded_inputs import rulebook_bundle
from marginlex.audit.trace.from_evaluation import trace_columns
from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import Book
from marginlex.engine.evaluate import evaluate
from marginlex.engine.plan.compile import compile_plan

WITH_PDT = ACCOUNTS_HEADER.rstrip("\n") + ",pattern_day_trader\n"


def _book(tmp: Path, flag: str, cash: float) -> Book:
    """S1: CAROL's margin account at BDF1, long 100 XYZ at 100.00 (10,000) and ``cash``."""
    return make_book(
        tmp,
        f"S1,CAROL,BDF1,SEC,margin,customer,,{flag}",
        "S1,XYZ,100",
        f"L1,S1,USD,{cash},,",
        accounts_header=WITH_PDT,
    )


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
@pytest.mark.parametrize(
    ("flag", "cash", "maintenance", "call"),
    [
        ("", 5000, 2500.0, 0.0),
        ("false", 5000, 2500.0, 0.0),
        ("true", 5000, 25000.0, 10000.0),
        ("true", 20000, 25000.0, 0.0),
    ],
)
def test_a_pattern_day_trader_is_called_up_to_its_minimum_equity(
    tmp_path: Path, rulebook: str, flag: str, cash: float, maintenance: float, call: float
) -> None:
    """Strategy based: long stock 25% x 10,000 = 2,500. The value is the cash plus the
    stock: 5,000 + 10,000 = 15,000. Not a pattern day trader (blank or false): 2,500,
    no call. A pattern day trader: the requirement is raised to 25,000 and the call is
    25,000 - 15,000 = 10,000; with 20,000 of cash the value is 30,000: no call."""
    d = decision(run(_book(tmp_path, flag, cash), rulebook), "ms:S1")
    assert d["method_rule_id"] == "sec_strategy_based"
    assert d["maintenance"] == maintenance
    assert d["value"] == cash + 10000.0
    assert d["call"] == call


def test_the_minimum_is_traced_as_a_source_of_the_requirement(tmp_path: Path) -> None:
    """The minimums frame says what the requirement was before (2,500) and the trace names
    the rule and its citation among the maintenance figure's sources."""
    ev = run(_book(tmp_path, "true", 5000), "sec")
    frame = ev.frames["minimums"]
    assert frame["margin_set_id"].astype(str).tolist() == ["ms:S1"]
    assert frame["rule_id"].astype(str).tolist() == ["sec_pattern_day_trader"]
    assert frame["minimum"].tolist() == [25000.0]
    assert frame["haircuts"].tolist() == [0.0]  # cash takes none
    assert frame["requirement_before"].tolist() == [2500.0]
    book = _book(tmp_path / "again", "true", 5000)
    sec = load_rulebook("sec")
    ref = rulebook_ref(sec, ev, rulebook_bundle(sec))
    trace = json.loads(trace_columns(ev, book, ref, "t").json[0])
    sources = [s for s in trace["figures"]["sources"] if s["figure"] == "maintenance"]
    assert [s["rule_id"] for s in sources] == ["sec_strategy_based", "sec_pattern_day_trader"]
    assert sources[1]["citation"].startswith("FINRA Rule 4210(f)(8)(B)(iv)(a)")


def test_no_set_is_raised_without_a_pattern_day_trader(tmp_path: Path) -> None:
    """The frame is empty when no account is flagged."""
    assert run(_book(tmp_path, "", 5000), "sec").frames["minimums"].empty


@pytest.mark.parametrize(
    ("asset", "worth", "equity", "value", "maintenance", "call"),
    [
        ("STOCK", 28_000, 28_000.0, 23_800.0, 20_800.0, 0.0),
        ("MMF", 25_400, 25_400.0, 24_892.0, 24_492.0, 0.0),
        ("STOCK", 20_000, 20_000.0, 17_000.0, 22_000.0, 5_000.0),
        ("SOL", 30_000, 30_000.0, 0.0, 25_000.0, 25_000.0),
    ],
)
def test_the_minimum_is_of_equity_not_of_the_value_after_haircuts(
    tmp_path: Path,
    asset: str,
    worth: float,
    equity: float,
    value: float,
    maintenance: float,
    call: float,
) -> None:
    """FINRA 4210(f)(8)(B)(iv)(a) asks $25,000 of *equity* (4210(a)(5): securities and cash
    at market value), not of the value after haircuts (an independent reviewer, session
    24). A pattern day trader with no positions and one lot: 28,000 of stock (15% haircut:
    value 23,800) has equity 28,000 >= 25,000: no call (was 1,200); 25,400 of a money
    market fund (2%: value 24,892): no call (was 108). The requirement is raised to the
    minimum less the haircuts (25,000 - 4,200 = 20,800; 25,000 - 508 = 24,492), so a call
    is what the equity lacks: 20,000 of stock (value 17,000) is called 25,000 - 20,000 =
    5,000 (the requirement 25,000 - 3,000 = 22,000, less the value 17,000). Collateral
    the value counts at 0 (SOL, refused in a securities account) is no equity either: it
    is called 25,000 (a reviewer found it satisfied the minimum when its whole market value
    was taken for a haircut)."""
    book = make_book(
        tmp_path,
        "S2,CAROL,BDF1,SEC,margin,customer,,true",
        "",
        f"L2,S2,{asset},{worth},,",
        accounts_header=WITH_PDT,
    )
    d = decision(run(book, "sec"), "ms:S2")
    assert (d["equity"], d["value"]) == (equity, value)
    assert (d["maintenance"], d["call"]) == (maintenance, call)


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
@pytest.mark.parametrize("kind", ["cross_margin", "cleared_swaps"])
def test_every_kind_but_cash_keeps_the_minimum(tmp_path: Path, rulebook: str, kind: str) -> None:
    """CAROL's SEC account of kind ``cross_margin`` or ``cleared_swaps`` (credit is taken in
    every kind but ``cash``, decision 26), flagged a pattern day trader, long 100 XYZ with
    5,000 of cash: strategy based 25% x 10,000 = 2,500, raised to 25,000; value 5,000 +
    10,000 = 15,000; call 10,000. (The rule asked `kind in {margin, portfolio_margin}`:
    2,500, no call.)"""
    book = make_book(
        tmp_path,
        f"S1,CAROL,BDF1,SEC,{kind},customer,,true",
        "S1,XYZ,100",
        "L1,S1,USD,5000,,",
        accounts_header=WITH_PDT,
    )
    d = decision(run(book, rulebook), "ms:S1")
    assert d["method_rule_id"] == "sec_strategy_based"
    assert (d["maintenance"], d["value"], d["call"]) == (25000.0, 15000.0, 10000.0)


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
@pytest.mark.parametrize(
    ("as_of", "maintenance", "call"),
    [(date(2027, 10, 19), 25000.0, 10000.0), (date(2027, 10, 20), 2500.0, 0.0)],
)
def test_the_minimum_ends_with_the_phase_in_of_its_repeal(
    tmp_path: Path, rulebook: str, as_of: date, maintenance: float, call: float
) -> None:
    """SR-FINRA-2025-017 (91 FR 20731) eliminated 4210(f)(8)(B); a member may keep the
    $25,000 minimum until the phase-in ends on October 20, 2027 (decision 31). The day
    before, the pattern day trader with 15,000 of value is called 25,000 - 15,000 = 10,000;
    from that day on, the strategy-based 25% x 10,000 = 2,500 alone: no call."""
    book = _book(tmp_path, "true", 5000)
    ev = evaluate(compile_plan(load_rulebook(rulebook), as_of), book)
    d = decision(ev, "ms:S1")
    assert d["maintenance"] == maintenance
    assert d["call"] == call
