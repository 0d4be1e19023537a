"""Cash accounts (book kind ``cash``) under Regulation T, 12 CFR 220.8: a purchase is paid
in full, a short sale and an uncovered short option are not permitted, and the pattern day
trader's minimum (FINRA 4210(f)(8)(B), the margin account's) does not apply. No rulebook
puts a cash account on the portfolio-margin grid, and the harmonized one leaves a margin
account without a portfolio margin or cross-margining agreement on Reg T. Figures worked
out by hand in the docstrings (XYZ at 100.00; XYZ_P100_2609 a put, strike 100, at 5.60 x
100 = 560; ALICE an individual approved for uncovered options; BD1 a broker-dealer)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _evaluate_books import ACCOUNTS_HEADER, decision, make_book, run

from marginlex.audit.ledger.record import rulebook_ref
from marginlex.audit.ledger.recorded_inputs import rulebook_bundle
from marginlex.audit.trace.from_evaluation import trace_columns
from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import Book

WITH_PDT = ACCOUNTS_HEADER.rstrip("\n") + ",pattern_day_trader\n"


def _cash(tmp: Path, position: str, cash: float, kind: str = "cash", agreements: str = "") -> Book:
    """S1: ALICE's account of ``kind`` at BD1 holding ``position`` and ``cash`` in USD."""
    return make_book(
        tmp,
        f"S1,ALICE,BD1,SEC,{kind},customer,{agreements},",
        f"S1,{position}",
        f"L1,S1,USD,{cash},,",
        accounts_header=WITH_PDT,
    )


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
@pytest.mark.parametrize(
    ("position", "cash", "maintenance", "value", "call"),
    [
        # 220.8(a)(1): long 1,000 XYZ (100,000) on a 50,000 debit: 100% x 100,000; value
        # -50,000 + 100,000 = 50,000; the call is the whole debit (was 25%: 25,000, no call).
        ("XYZ,1000", -50000, 100000.0, 50000.0, 50000.0),
        # 220.8(a)(2): short 100 XYZ (10,000) with its 10,000 proceeds: the market value to
        # deliver is held in cash, the proceeds count: 100% x 10,000 less the 10,000 the
        # value deducts = 0; value 10,000 - 10,000 = 0; no call (was 10,000: the proceeds
        # counted twice).
        ("XYZ,-100", 10000, 0.0, 0.0, 0.0),
        # 8,000 of the proceeds left: value -2,000, call 2,000 = 10,000 - 8,000 (was 12,000).
        ("XYZ,-100", 8000, 0.0, -2000.0, 2000.0),
        # 220.8(a)(3), 220.2: short 1 put, strike 100, premium 560, with 1,000 cash: the
        # exercise price held in cash, max(100% x 10,000 - 0, 100% x 10,000) = 10,000, less
        # the 560 premium the value deducts = 9,440; value 1,000 - 560 = 440; call 9,000 =
        # 10,000 - 1,000 (was 10,560 and 10,120).
        ("XYZ_P100_2609,-1", 1000, 9440.0, 440.0, 9000.0),
        # The same put with its strike plus the premium in cash, 10,560: value 10,000, excess
        # 560, no call (was 10,560 against 10,000: a call of 560, the premium).
        ("XYZ_P100_2609,-1", 10560, 9440.0, 10000.0, 0.0),
        # Short 1 call, strike 100, premium 560, not covered, 5,000 cash: the deliverable's
        # 10,000 held in cash, less 560 = 9,440; value 4,440; call 5,000 = 10,000 - 5,000
        # (was 10,560 and 6,120).
        ("XYZ_C100_2609,-1", 5000, 9440.0, 4440.0, 5000.0),
    ],
)
def test_a_cash_account_is_charged_in_full(
    tmp_path: Path,
    rulebook: str,
    position: str,
    cash: float,
    maintenance: float,
    value: float,
    call: float,
) -> None:
    """The cash account's rule, not Reg T's margin rates, decides the set; its call is the
    cash 220.8 asks to be held and the account lacks (each liability counted once)."""
    d = decision(run(_cash(tmp_path, position, cash), rulebook), "ms:S1")
    assert d["method_rule_id"] == "sec_cash_account"
    assert not d["eligible"]
    assert d["maintenance"] == maintenance
    assert d["value"] == value
    assert d["call"] == call


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
def test_a_cash_account_takes_no_pattern_day_trader_minimum(tmp_path: Path, rulebook: str) -> None:
    """Long 100 XYZ paid in full with 5,000 of cash, flagged a pattern day trader: the
    requirement stays 100% x 10,000 = 10,000 (not 25,000), value 15,000, no call."""
    book = make_book(
        tmp_path,
        "S1,ALICE,BD1,SEC,cash,customer,,true",
        "S1,XYZ,100",
        "L1,S1,USD,5000,,",
        accounts_header=WITH_PDT,
    )
    ev = run(book, rulebook)
    d = decision(ev, "ms:S1")
    assert ev.frames["minimums"].empty
    assert (d["maintenance"], d["value"], d["call"]) == (10000.0, 15000.0, 0.0)


def test_harmonized_puts_no_cash_account_on_the_grid(tmp_path: Path) -> None:
    """A cash account of a qualified owner (ALICE, 200,000 of equity) with the portfolio
    margin agreement: not eligible (``no_cash_account``), 100% x 100,000 = 100,000, as
    under sec (was the grid's 15% x 100,000 = 15,000)."""
    book = _cash(tmp_path, "XYZ,1000", 100000, agreements="portfolio_margin")
    d = decision(run(book, "harmonized"), "ms:S1")
    assert not d["eligible"]
    assert d["failed_requirements"] == "no_cash_account"
    assert (d["method_rule_id"], d["maintenance"]) == ("sec_cash_account", 100000.0)
    assert decision(run(book, "sec"), "ms:S1")["maintenance"] == 100000.0


@pytest.mark.parametrize(
    ("agreements", "eligible", "method", "maintenance"),
    [
        ("", False, "sec_strategy_based", 25000.0),
        ("cross_margin", False, "sec_strategy_based", 25000.0),
        ("cross_margin;subordination", False, "sec_strategy_based", 25000.0),
        ("portfolio_margin", True, "sec_portfolio_margin", 15000.0),
    ],
)
def test_harmonized_asks_a_margin_account_for_an_agreement(
    tmp_path: Path, agreements: str, eligible: bool, method: str, maintenance: float
) -> None:
    """ALICE's margin account at the broker-dealer BD1, long 1,000 XYZ with 100,000 of cash:
    without an agreement, Reg T 25% = 25,000; under the portfolio margin agreement, the
    grid's worst of ±15%: 15,000. The cross-margining agreement (with or without the
    subordination agreement) merges nothing here (no bd_fcm, no futures account of ALICE):
    Reg T 25,000 (it was taken as consent to the grid: 15,000)."""
    book = _cash(tmp_path, "XYZ,1000", 100000, kind="margin", agreements=agreements)
    d = decision(run(book, "harmonized"), "ms:S1")
    assert (bool(d["eligible"]), d["method_rule_id"], d["maintenance"]) == (
        eligible,
        method,
        maintenance,
    )


def test_the_trace_cites_regulation_t_for_the_cash_account(tmp_path: Path) -> None:
    """The requirement's source is the cash-account rule and its 220.8 citation."""
    book = _cash(tmp_path, "XYZ,1000", -50000)
    sec = load_rulebook("sec")
    ev = run(book, "sec")
    ref = rulebook_ref(sec, ev, rulebook_bundle(sec))
    trace = json.loads(trace_columns(ev, book, ref, "t").json[0])
    sources = [s for s in trace["figures"]["sources"] if s["figure"] == "maintenance"]
    assert [s["rule_id"] for s in sources] == ["sec_cash_account"]
    assert "12 CFR 220.8(a)(1)-(3)" in sources[0]["citation"]


def test_the_trace_shows_the_put_held_in_cash(tmp_path: Path) -> None:
    """The short put's row names the cash-account figure: ``short_put_held_in_cash``,
    10,000 - 560 = 9,440, cited to 220.8(a)(3) and 220.2; the step's inputs say
    ``held_in_cash``."""
    ev = run(_cash(tmp_path, "XYZ_P100_2609,-1", 10560), "sec")
    row = ev.frames["positions"].set_index("instrument_id").loc["XYZ_P100_2609"]
    assert row["strategy_row"] == "short_put_held_in_cash"
    assert row["requirement"] == pytest.approx(9440.0)
    assert "220.2" in row["citation"] and "less the premium" in row["citation"]


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
def test_a_margin_account_keeps_the_premium_on_top(tmp_path: Path, rulebook: str) -> None:
    """`held in cash` is the cash account's only: the same put in ALICE's margin account is
    Reg T's 560 + 20% x 10,000 - 0 = 2,560 (floor 560 + 10% x 10,000 = 1,560), as before."""
    d = decision(run(_cash(tmp_path, "XYZ_P100_2609,-1", 10560, kind="margin"), rulebook), "ms:S1")
    assert (d["method_rule_id"], d["maintenance"]) == ("sec_strategy_based", 2560.0)


def test_harmonized_takes_a_cross_margining_agreement_that_merges(tmp_path: Path) -> None:
    """ALICE's margin account and futures account at the dual registrant BDF1, both under
    the cross-margining and subordination agreements, 100,000 of cash each: the securities
    account passes `pm_or_cross_margin_agreement` (``CFTC`` in its owner's regimes there)
    and the two merge on the grid: worst of ±15% on 100,000 = 15,000, value 300,000."""
    agreements = "cross_margin;subordination"
    book = make_book(
        tmp_path,
        f"S1,ALICE,BDF1,SEC,margin,customer,{agreements},\n"
        f"F1,ALICE,BDF1,CFTC,futures,customer,{agreements},",
        "S1,XYZ,1000",
        "L1,S1,USD,100000,,\nL2,F1,USD,100000,,",
        accounts_header=WITH_PDT,
    )
    ev = run(book, "harmonized")
    merged = ev.decisions[ev.decisions["account_ids"].str.contains("S1")].iloc[0]
    assert merged["account_ids"] == "F1;S1"
    assert (merged["method_rule_id"], merged["maintenance"], merged["value"]) == (
        "sec_portfolio_margin",
        15000.0,
        300000.0,
    )


# A call struck at 50 on XYZ (at 100), worth its intrinsic value: 50 x 100 = 5,000 a contract.
DEEP_CALL = "XYZ_C50_2609,equity_option,XYZ,XYZ,,100,50.00,2026-09-18,call,50,0.30,,"


def _covered(tmp: Path, positions: str, cash: float, kind: str = "cash") -> Book:
    """S1: ALICE's account of ``kind`` at BD1 holding ``positions`` (lines) and ``cash``."""
    return make_book(
        tmp,
        f"S1,ALICE,BD1,SEC,{kind},customer,,",
        "\n".join(f"S1,{p}" for p in positions.split(";")),
        f"L1,S1,USD,{cash},,",
        extra_instruments=DEEP_CALL,
        accounts_header=WITH_PDT,
    )


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
@pytest.mark.parametrize(
    ("positions", "cash", "maintenance", "value", "call"),
    [
        # Decision 33 (the stock 150 / strike 100 case, scaled): long 100 XYZ (10,000), short
        # 1 call struck at 50 (premium 5,000), no cash. The stock delivers the call
        # (220.8(a)(3)): 100% x 10,000 - 5,000 = 5,000; value 10,000 - 5,000 = 5,000; no
        # call (was 10,000 against 5,000: a call of 5,000).
        ("XYZ,100;XYZ_C50_2609,-1", 0, 5000.0, 5000.0, 0.0),
        # On a 2,000 debit: value 3,000, call 2,000, the debit only (was 7,000).
        ("XYZ,100;XYZ_C50_2609,-1", -2000, 5000.0, 3000.0, 2000.0),
        # 150 shares against 2 calls: one covered (minus its 5,000), one not: its deliverable's
        # 100% x 10,000 held in cash less its 5,000 premium = 5,000. 15,000 - 5,000 + 5,000 =
        # 15,000; value 15,000 - 10,000 = 5,000; call 10,000, the uncovered call's deliverable
        # (was 15,000 + 0 + 5,000 = 20,000, call 15,000).
        ("XYZ,150;XYZ_C50_2609,-2", 0, 15000.0, 5000.0, 10000.0),
    ],
)
def test_a_covered_call_needs_no_cash(
    tmp_path: Path,
    rulebook: str,
    positions: str,
    cash: float,
    maintenance: float,
    value: float,
    call: float,
) -> None:
    """A call the stock held delivers is charged minus its premium, the liability the value
    deducts, so the call is what the account owes and nothing for the call itself."""
    d = decision(run(_covered(tmp_path, positions, cash), rulebook), "ms:S1")
    assert d["method_rule_id"] == "sec_cash_account"
    assert (d["maintenance"], d["value"], d["call"]) == (maintenance, value, call)


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
def test_a_margin_accounts_covered_call_is_unchanged(tmp_path: Path, rulebook: str) -> None:
    """Decision 33 is the cash account's only: the same pair in a margin account is Reg T's
    25% x 10,000 = 2,500 for the stock and 0 for the covered call, as before."""
    book = _covered(tmp_path, "XYZ,100;XYZ_C50_2609,-1", 0, kind="margin")
    d = decision(run(book, rulebook), "ms:S1")
    assert (d["method_rule_id"], d["maintenance"], d["value"]) == (
        "sec_strategy_based",
        2500.0,
        5000.0,
    )


def test_the_trace_shows_the_covered_call_held_in_cash(tmp_path: Path) -> None:
    """The covered call's row: ``short_call_covered_held_in_cash``, requirement -5,000 (its
    premium), cited to 220.8(a)(3) and 220.2."""
    ev = run(_covered(tmp_path, "XYZ,100;XYZ_C50_2609,-1", 0), "sec")
    row = ev.frames["positions"].set_index("instrument_id").loc["XYZ_C50_2609"]
    assert row["strategy_row"] == "short_call_covered_held_in_cash"
    assert row["requirement"] == pytest.approx(-5000.0)
    assert "220.8(a)(3)" in row["citation"] and "minus its premium" in row["citation"]


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
@pytest.mark.parametrize(
    ("lots", "value", "call"),
    [
        # Decision 35: 10,000 of stock beside a 5,000 debit, no positions: the stock lends
        # nothing in a cash account (220.8(b)(1)); value -5,000, call 5,000, the whole debit
        # (sec was 8,500 - 5,000 = 3,500, no call).
        ("L1,S1,STOCK,10000,,\nL2,S1,USD,-5000,,", -5000.0, 5000.0),
        # An ETF lot likewise (sec was 3,500, no call).
        ("L1,S1,ETF,10000,,\nL2,S1,USD,-5000,,", -5000.0, 5000.0),
        # A money market fund is a cash equivalent (220.2): it keeps its 2% (harmonized: the
        # more conservative of SEC 2% and CME 3%): 9,800 - 5,000 = 4,800 (sec), 9,700 -
        # 5,000 = 4,700 (harmonized), no call, as before.
        ("L1,S1,MMF,10000,,\nL2,S1,USD,-5000,,", None, 0.0),
    ],
)
def test_a_cash_accounts_securities_lend_nothing(
    tmp_path: Path, rulebook: str, lots: str, value: float | None, call: float
) -> None:
    """A lot other than cash or a cash equivalent counts nothing in a cash account's value."""
    book = make_book(tmp_path, "S1,ALICE,BD1,SEC,cash,customer,", "", lots)
    d = decision(run(book, rulebook), "ms:S1")
    expected = value if value is not None else {"sec": 4800.0, "harmonized": 4700.0}[rulebook]
    assert (d["maintenance"], d["value"], d["call"]) == (0.0, expected, call)


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
@pytest.mark.parametrize(
    ("lot", "value", "call"),
    [
        # A short put (strike 100, premium 560) secured by a Treasury bill of 10,000 two
        # months out, a cash equivalent (220.2), and the 560 premium in cash: 9,440 against
        # 10,000 + 560 - 560 = 10,000 under sec (0% under 3 months), 9,950 under harmonized
        # (the more conservative CME 0.5% on bills): no call, as before.
        ("L1,S1,UST_BILL,10000,2026-08-30,", None, 0.0),
        # The same with a lot of 10,000 of stock: it secures nothing: value 0, call 9,440
        # (sec was 8,500 and a call of 940).
        ("L1,S1,STOCK,10000,,", 0.0, 9440.0),
    ],
)
def test_a_put_is_secured_by_cash_equivalents_only(
    tmp_path: Path, rulebook: str, lot: str, value: float | None, call: float
) -> None:
    """220.2: a covered option's amount at risk is held in cash or cash equivalents."""
    book = make_book(
        tmp_path,
        "S1,ALICE,BD1,SEC,cash,customer,",
        "S1,XYZ_P100_2609,-1",
        f"{lot}\nL2,S1,USD,560,,",
    )
    d = decision(run(book, rulebook), "ms:S1")
    expected = value if value is not None else {"sec": 10000.0, "harmonized": 9950.0}[rulebook]
    assert (d["maintenance"], d["value"], d["call"]) == (9440.0, expected, call)


def test_a_margin_accounts_stock_lot_keeps_its_haircut(tmp_path: Path) -> None:
    """Decision 35 is the cash account's only: under sec a margin account's 10,000 of stock
    beside a 5,000 debit counts 85%: value 3,500, no call, as before; the lot's reason names
    the cash-account rule only in a cash account."""
    lots = "L1,S1,STOCK,10000,,\nL2,S1,USD,-5000,,"
    margin = run(make_book(tmp_path / "m", "S1,ALICE,BD1,SEC,margin,customer,", "", lots), "sec")
    d = decision(margin, "ms:S1")
    assert (d["value"], d["call"]) == (3500.0, 0.0)
    cash = run(make_book(tmp_path / "c", "S1,ALICE,BD1,SEC,cash,customer,", "", lots), "sec")
    lot = cash.frames["lots"].set_index("lot_id").loc["L1"]
    assert (lot["rule_id"], lot["value"]) == ("sec_cash_account_securities", 0.0)
    assert "lends nothing" in lot["reason"]
