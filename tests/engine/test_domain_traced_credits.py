"""Every figure of a SPAN requirement adds up from the parts its trace shows (schema 1.5): a
class group's calendar-spread and delivery-month charges tier by tier, each leg's
inter-commodity credit and its requirement after it (a short-option minimum that binds
said so), a digital-asset cap's amount, and a set of one account naming no merging rule.
The cases are an independent reviewer's (books b1 F6, F8, F12 and b4 S1, written before
running); figures by hand in the docstrings. Each test recomputes the set's figure from the
shown parts, as an auditor would, and fails on a trace without them."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from _evaluate_books import make_book
from typer.testing import CliRunner

from marginlex.audit.canonical import canonical_json
from marginlex.audit.trace.model import as_version
from marginlex.cli import app

ACCOUNTS = """
F6,GOLF,FCM1,CFTC,futures,customer,
F8,HOTEL,FCM1,CFTC,futures,customer,
F12,INDIA,FCM1,CFTC,futures,customer,
S1,KILO,FCM1,CFTC,futures,customer,
"""
POSITIONS = """
F6,RZN_2606,1
F6,RZN_2609,-1
F8,RES_2609,1
F8,RNQ_2609,-1
F8,RRTY_2609,1
F12,RES_2609,1
S1,RES_2609,1
S1,RES_C9000,-600
S1,RNQ_2609,-1
"""
COLLATERAL = """
C6,F6,USD,1000,,
C8,F8,USD,100000,,
C12a,F12,USD,5000,,
C12b,F12,BTC,20000,,
C12c,F12,ETH,5000,,
C12d,F12,USDC,2000,,
C21,S1,USD,100000,,
"""
INSTRUMENTS = """
RES_2609,index_future,,RSPX,high_cap_broad,50,6000.00,2026-09-18,,,,0.07,
RNQ_2609,index_future,,RNDX,high_cap_broad,20,20000.00,2026-09-18,,,,0.07,
RRTY_2609,index_future,,RRUT,broad,50,2000.00,2026-09-18,,,,0.07,
RES_C9000,index_option,RES_2609,,,50,0.05,2026-09-18,call,9000,0.10,,
RZN_2606,ust_future,UST_2035_08,RUST_10Y,,1000,110.00,2026-06-30,,,,0.02,
RZN_2609,ust_future,UST_2035_08,RUST_10Y,,1000,110.50,2026-09-21,,,,0.02,
"""


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("traced_credits")
    make_book(tmp, ACCOUNTS, POSITIONS, COLLATERAL, extra_instruments=INSTRUMENTS)
    return tmp / "book"


def _explain(book: Path, decision: str, *more: str) -> str:
    args = ["explain", decision, "--rulebook", "cftc", "--book", str(book), *more]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def _trace(book: Path, decision: str) -> dict[str, Any]:
    trace: dict[str, Any] = json.loads(_explain(book, decision, "--format", "json"))
    return trace


def _groups(trace: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        g["class_group"]: g
        for s in trace["steps"]
        if s["kind"] == "margin"
        for g in s["output"]["groups"]
    }


def _usd(value: object) -> Decimal:
    return Decimal(str(value))


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def test_span_charges_add_up_tier_by_tier(book: Path) -> None:
    """b1 F6: long 1 ZN June (expiring on the as-of date, 2026-06-30) and short 1 ZN
    September (83 days): scan |2,200 - 2,210| = 10.00; both legs within 3 months: 1 spread x
    span_calendar_near 100 = 100.00; the June contract is in its delivery month: 1 x
    span_delivery_charge 500 = 500.00; charges 600.00, loss 610.00, maintenance 610.00."""
    trace = _trace(book, "cftc:ms:F6")
    group = _groups(trace)["RUST_10Y"]
    rows = {(c["charge"], c["tier"]): c for c in group["span_charges"]}
    calendar = rows["calendar", "up to 3 months"]
    delivery = rows["delivery", "delivery month"]
    assert (calendar["count"], calendar["rate"]["id"], calendar["rate"]["value"]) == (
        1.0,
        "param.span_calendar_near",
        100.0,
    )
    assert (calendar["long_contracts"], calendar["short_contracts"]) == (1.0, 1.0)
    assert (delivery["count"], delivery["rate"]["id"], delivery["rate"]["value"]) == (
        1.0,
        "param.span_delivery_charge",
        500.0,
    )
    for c in rows.values():  # each charge is its count times its rate, and is cited
        assert _usd(c["amount"]) == _cents(Decimal(str(c["count"] * c["rate"]["value"])))
        assert c["citation"]
    charges = sum(_usd(c["amount"]) for c in rows.values())
    assert charges == _usd(group["charges"]) == Decimal("600.00")
    worst = next(p for p in group["points"] if p["label"] == group["worst_point"])
    assert -_usd(worst["pnl"]) + charges == _usd(group["loss"]) == Decimal("610.00")
    assert _usd(group["after_credits"]) == _usd(trace["figures"]["maintenance"])
    text = _explain(book, "cftc:ms:F6")
    assert (
        "Calendar spreads, tier up to 3 months: 1 spread x param.span_calendar_near 100.00 "
        "= 100.00" in text
    )
    assert (
        "Delivery month: 1 contract (long 1, short 0) x param.span_delivery_charge 500.00 = "
        "500.00" in text
    )


def test_each_leg_shows_its_credit(book: Path) -> None:
    """b1 F8: +1 ES (21,000 at -7%), -1 NQ (28,000 at +7%), +1 RTY (7,000 at -7%): the
    up side (NQ) 28,000 and the down side (ES + RTY) 28,000 match 28,000; at 50% per leg ES
    is credited 10,500, RTY 3,500, NQ 14,000 (28,000 in all): 10,500 + 3,500 + 14,000 =
    maintenance 28,000."""
    trace = _trace(book, "cftc:ms:F8")
    groups = _groups(trace)
    credit = {k: _usd(g["credit"]) for k, g in groups.items()}
    after = {k: _usd(g["after_credits"]) for k, g in groups.items()}
    assert credit == {"RSPX": 10500, "RRUT": 3500, "RNDX": 14000}
    assert after == {"RSPX": 10500, "RRUT": 3500, "RNDX": 14000}
    for g in groups.values():  # credit = 50% x matched; after = max(loss - credit, minimum)
        assert _usd(g["credit"]) == _cents(Decimal("0.5") * _usd(g["matched_risk"]))
        assert _usd(g["after_credits"]) == max(
            _usd(g["loss"]) - _usd(g["credit"]), _usd(g["minimum"])
        ) - _usd(g["paired_credit"])
    assert sum(after.values()) == _usd(trace["figures"]["maintenance"]) == Decimal("28000.00")
    text = _explain(book, "cftc:ms:F8")
    assert (
        "RRUT: scanning risk 7,000.00, matched 7,000.00 x 50% = credit 3,500.00; requirement "
        "max(loss 7,000.00 - credit 3,500.00 = 3,500.00, minimum 0.00) = 3,500.00" in text
    )


def test_a_short_option_minimum_that_binds_is_said(book: Path) -> None:
    """b4 S1: +1 ES, -600 ES 9000 calls (short option minimum 600 x 0.375 x 50 = 11,250),
    -1 NQ: SPX risk 21,000 (the far calls gain nothing at -7%), NDX 28,000; matched
    min(21,000, 28,000) = 21,000: SPX matches all its 21,000, credit 10,500 -> 10,500, below
    its minimum: 11,250 (750 of the credit not taken); NDX matches 28,000 x 21,000 / 28,000
    = 21,000, credit 10,500 -> 17,500. Maintenance 11,250 + 17,500 = 28,750; the offset's
    credit 49,000 - 28,750 = 20,250."""
    trace = _trace(book, "cftc:ms:S1")
    groups = _groups(trace)
    spx, ndx = groups["RSPX"], groups["RNDX"]
    assert (_usd(spx["minimum"]), _usd(spx["credit"]), _usd(spx["after_credits"])) == (
        Decimal("11250.00"),
        Decimal("10500.00"),
        Decimal("11250.00"),
    )
    assert (_usd(ndx["matched_risk"]), _usd(ndx["credit"]), _usd(ndx["after_credits"])) == (
        Decimal("21000.00"),
        Decimal("10500.00"),
        Decimal("17500.00"),
    )
    total = _usd(spx["after_credits"]) + _usd(ndx["after_credits"])
    assert total == _usd(trace["figures"]["maintenance"]) == Decimal("28750.00")
    text = _explain(book, "cftc:ms:S1")
    assert "= 11,250.00: the minimum binds, 750.00 of the credit is not taken" in text


def test_the_digital_cap_states_its_amount(book: Path) -> None:
    """b1 F12: +1 ES: maintenance 21,000, initial 23,100; BTC 20,000 -> 16,000, ETH 5,000 ->
    4,000, USDC 2,000 -> 1,960 after haircuts: 21,960, above the cap 40% x initial 23,100 =
    9,240; value 5,000 USD + 9,240 = 14,240; call 23,100 - 14,240 = 8,860."""
    trace = _trace(book, "cftc:ms:F12")
    (step,) = [s for s in trace["steps"] if s["kind"] == "concentration"]
    capped = [lot for lot in step["output"]["lots"] if lot["cap_applied"]]
    assert len(capped) == 3
    for lot in capped:
        assert (lot["cap_of"], lot["cap_limit"]) == ("initial", 0.4)
        assert _usd(lot["cap_base"]) == _usd(trace["figures"]["initial"]) == Decimal("23100.00")
        assert _usd(lot["cap_amount"]) == _cents(Decimal("0.4") * _usd(lot["cap_base"]))
        assert _usd(lot["capped_value"]) == Decimal("21960.00")
    assert sum(_usd(lot["value"]) for lot in capped) == Decimal("9240.00")
    assert Decimal(5000) + _usd(capped[0]["cap_amount"]) == _usd(trace["figures"]["value"])
    text = _explain(book, "cftc:ms:F12")
    assert "Cap 9,240.00 = 40% x initial 23,100.00" in text


def test_a_futures_account_alone_cites_no_merging_rule(book: Path) -> None:
    """b1 F6 is carried by an FCM that is no broker-dealer: no rule could cross-margin it,
    and its set names none (it named `cftc_cross_margin_sets`, citing the Treasury order)."""
    trace = _trace(book, "cftc:ms:F6")
    ms = trace["margin_set"]
    assert (ms["rule_id"], ms["citation"], ms["edges"]) == (None, None, [])
    text = _explain(book, "cftc:ms:F6")
    assert "account F6 alone: no rule merged another account into it" in text
    line = next(x for x in text.splitlines() if "Margin set ms:F6" in x)
    assert "cftc_cross_margin_sets" not in line


def test_a_1_4_trace_is_written_back_as_it_was_recorded(book: Path) -> None:
    """A 1.5 trace written as 1.4 (replay compares a recording that way) names the merging
    rule on a lone set again and holds none of the fields 1.5 added."""
    trace = _trace(book, "cftc:ms:F12")
    old = json.loads(as_version(canonical_json(trace), "1.4"))
    assert old["schema_version"] == "1.4"
    assert old["margin_set"]["rule_id"] == "cftc_cross_margin_sets"
    assert old["margin_set"]["citation"].startswith("CFTC order granting exemptive relief")
    assert "left_alone_by" not in old["margin_set"]
    text = json.dumps(old)
    for field in ("span_charges", "after_credits", "matched_risk", "cap_amount", "capped_value"):
        assert f'"{field}"' not in text


def test_an_offsets_worst_point_is_named_in_its_own_class_groups_range(tmp_path: Path) -> None:
    """The worst point of a product-group credit was labelled from its set's first class
    group: ABC (a stock, range 15%) sorts before SPY (high-cap broad, +6%/-8%), so the SPY
    offset's worst point, index 0, read "-15%". Long 100 SPY at 600 loses most at -8%:
    P&L -4,800.00, the loss the offset row shows."""
    make_book(
        tmp_path,
        "P1,ALICE,BD1,SEC,portfolio_margin,customer,portfolio_margin",
        "P1,ABC,100\nP1,SPY,100",
        "C1,P1,USD,200000,,",
    )
    args = ["explain", "ms:P1", "--rulebook", "sec", "--book", str(tmp_path / "book")]
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    steps = json.loads(result.stdout)["steps"]
    offsets = [o for s in steps if s["kind"] == "offset" for o in s["output"]["offsets"]]
    spy = next(o for o in offsets if o["groups"] == ["SPY"])
    assert (spy["worst_point"], spy["losses"]) == ("-8%", "4800.00")
