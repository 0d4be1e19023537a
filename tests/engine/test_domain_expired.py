"""Expired options are not margined as live options (docs/domain-decisions.md, row 38).

An option whose expiry (`maturity`) is before the book's as-of date expired worthless or was
exercised or assigned; the book still holding it is stale (the loader warns). Both SEC
methods charge it nothing and name it `expired_option`; its mark stays in the value. An
option expiring on the as-of date is live that day. The demo book's as-of date is
2026-06-30; XYZ at 100, options x 100. Figures worked out by hand in the docstrings,
before the engine was run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _evaluate_books import decision, make_book, run
from typer.testing import CliRunner

from marginlex.cli import app

# expired 2026-06-19 (11 days before the as-of date), a stale mark of 0.05
XYZ_C105_EXPIRED = "XYZ_C105_2606,equity_option,XYZ,XYZ,,100,0.05,2026-06-19,call,105,0.30,,"
# expiring on the as-of date itself, at its intrinsic value
XYZ_C95_TODAY = "XYZ_C95_2606E,equity_option,XYZ,XYZ,,100,5.00,2026-06-30,call,95,0.30,,"
INSTRUMENTS = f"{XYZ_C105_EXPIRED}\n{XYZ_C95_TODAY}"
MARGIN = "M1,HOTEL,BD1,SEC,margin,customer,"
PM = "P1,ALICE,BD1,SEC,portfolio_margin,customer,portfolio_margin"


def _rows(tmp_path: Path, account: str, positions: str, cash: str, rulebook: str = "sec"):
    book = make_book(tmp_path, account, positions, cash, INSTRUMENTS)
    ev = run(book, rulebook)
    rows = ev.frames["positions"].set_index("instrument_id")
    return ev, rows


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
def test_an_expired_short_call_is_not_charged_in_a_margin_account(
    tmp_path: Path, rulebook: str
) -> None:
    """Short 1 XYZ 105 call expired 2026-06-19, marked 0.05.

    As a live uncovered call (the old figure): premium 5 + 20% x 10,000 - out of the money
    500 = 1,505 (floor 5 + 10% x 10,000 = 1,005): 1,505. Expired: 0, row `expired_option`.
    Value 100,000 - 5 (its mark, a liability) = 99,995.
    """
    ev, rows = _rows(tmp_path, MARGIN, "M1,XYZ_C105_2606,-1", "L1,M1,USD,100000,,", rulebook)
    d = decision(ev, "ms:M1")
    assert float(d["maintenance"]) == 0.0
    assert float(d["value"]) == pytest.approx(99_995.0)
    row = rows.loc["XYZ_C105_2606"]
    assert row["strategy_row"] == "expired_option"
    assert float(row["requirement"]) == 0.0
    # no row of the table priced it: the statement's own citation
    assert row["citation"].startswith("Regulation T, 12 CFR 220.12; FINRA Rule 4210(c) and (f)(2)")


def test_an_option_expiring_on_the_as_of_date_is_live(tmp_path: Path) -> None:
    """Short 1 XYZ 95 call expiring 2026-06-30, the as-of date, at 5.00: premium 500 + 20% x
    10,000 - 0 (in the money) = 2,500 (floor 500 + 1,000 = 1,500): 2,500, uncovered."""
    ev, rows = _rows(tmp_path, MARGIN, "M1,XYZ_C95_2606E,-1", "L1,M1,USD,100000,,")
    assert float(decision(ev, "ms:M1")["maintenance"]) == pytest.approx(2_500.0)
    assert rows.loc["XYZ_C95_2606E", "strategy_row"] == "short_call_uncovered"


def test_an_expired_long_call_is_charged_nothing_beside_a_live_short(tmp_path: Path) -> None:
    """Short 1 XYZ 100 call (5.60) against a long 1 XYZ 105 call that expired (0.05).

    The short call stands alone: 560 + 20% x 10,000 - 0 = 2,560; the expired long 0. The old
    figure was 2,565: the long charged as a live long option, 100% of its 5 mark (it paired
    with nothing there either: a spread's long must expire at or after its short).
    """
    ev, rows = _rows(
        tmp_path, MARGIN, "M1,XYZ_C100_2609,-1\nM1,XYZ_C105_2606,1", "L1,M1,USD,100000,,"
    )
    assert float(decision(ev, "ms:M1")["maintenance"]) == pytest.approx(2_560.0)
    assert rows.loc["XYZ_C100_2609", "strategy_row"] == "short_call_uncovered"
    assert rows.loc["XYZ_C105_2606", "strategy_row"] == "expired_option"


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
def test_an_expired_option_is_not_scanned_on_the_grid(tmp_path: Path, rulebook: str) -> None:
    """Portfolio margin: short 10 XYZ 105 calls expired 2026-06-19 (0.05), 200,000 cash.

    Priced as at expiry (the old figure), the calls are worth their intrinsic value at each
    point: at +15% XYZ is 115, 10 x 100 x (115 - 105) = 10,000 lost, the worst point; the
    minimum 0.375 x 100 x 10 = 37.50. Expired: no P&L at any point and no contract minimum:
    requirement 0, the position's row `expired_option`.
    """
    ev, rows = _rows(tmp_path, PM, "P1,XYZ_C105_2606,-10", "L1,P1,USD,200000,,", rulebook)
    d = decision(ev, "ms:P1")
    assert d["method_rule_id"] == "sec_portfolio_margin"
    assert float(d["maintenance"]) == 0.0
    assert rows.loc["XYZ_C105_2606", "strategy_row"] == "expired_option"
    assert float(rows.loc["XYZ_C105_2606", "pnl_at_worst"]) == 0.0


def test_an_expired_option_beside_live_positions_on_the_grid(tmp_path: Path) -> None:
    """Portfolio margin: long 1,000 XYZ and short 10 expired XYZ 105 calls, 200,000 cash.

    The stock alone: worst point -15%, 1,000 x 100 x 15% = 15,000 (the expired calls would
    have gained nothing there: at 85 their intrinsic value is 0 either way). 15,000.
    """
    ev, _ = _rows(tmp_path, PM, "P1,XYZ,1000\nP1,XYZ_C105_2606,-10", "L1,P1,USD,200000,,")
    assert float(decision(ev, "ms:P1")["maintenance"]) == pytest.approx(15_000.0)


def test_explain_says_the_expired_option_is_not_margined(tmp_path: Path) -> None:
    """The explain line of the expired call names its row and says why it carries nothing."""
    make_book(tmp_path, MARGIN, "M1,XYZ_C105_2606,-1", "L1,M1,USD,100000,,", INSTRUMENTS)
    result = CliRunner().invoke(
        app, ["explain", "ms:M1", "-r", "sec", "--book", str(tmp_path / "book")]
    )
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if "XYZ_C105_2606" in x)
    assert (
        'strategy row "expired_option" (expired before the as-of date: not margined as an '
        "option), requirement 0.00" in line
    )


# A put on the September ES future (6,000 x 50, scan range 7%), struck at 6,100, expired
# 2026-06-19 and marked at its intrinsic value 100; the December future, scanned at the
# rulebook's 7% index_future row (171 days: the far calendar tier).
ES_P6100_EXPIRED = (
    "ES_P6100_2606,index_option,ES_2609,SPX,high_cap_broad,50,100.00,2026-06-19,put,6100,0.16,,"
)
ESZ = "ESZ,index_future,,SPX,high_cap_broad,50,6050.00,2026-12-18,,,,,"
FUTURES = "C1,FOX,FCM1,CFTC,futures,customer,"


def _span(tmp_path: Path, positions: str, rulebook: str = "cftc"):
    book = make_book(
        tmp_path, FUTURES, positions, "L1,C1,USD,1000000,,", f"{ES_P6100_EXPIRED}\n{ESZ}"
    )
    ev = run(book, rulebook)
    return decision(ev, "ms:C1"), ev.frames["positions"].set_index("instrument_id")


@pytest.mark.parametrize("rulebook", ["cftc", "harmonized"])
def test_a_span_scan_charges_an_expired_option_nothing(tmp_path: Path, rulebook: str) -> None:
    """Short 10 ES 6,100 puts expired 11 days before the as-of date, alone.

    Priced as at expiry (the old figure): the put is worth its intrinsic value at every
    point whatever the volatility; now 6,100 - 6,000 = 100. At -1 range (-7%) ES is 5,580,
    the put 520: (520 - 100) x 10 x 50 = 210,000 lost; at the extreme -21% (4,740) 1,260 x
    500 x 33% = 207,900. Requirement 210,000 (the short option minimum 0.375 x 50 x 10 =
    187.50 below it). Expired: no P&L, no minimum: 0. Its mark stays in the value:
    1,000,000 - 10 x 50 x 100 = 950,000."""
    d, rows = _span(tmp_path, "C1,ES_P6100_2606,-10", rulebook)
    assert float(d["maintenance"]) == 0.0
    assert float(d["value"]) == pytest.approx(950_000.0)
    assert rows.loc["ES_P6100_2606", "strategy_row"] == "expired_option"
    assert float(rows.loc["ES_P6100_2606", "pnl_at_worst"]) == 0.0
    assert float(rows.loc["ES_P6100_2606", "quantity"]) == -10.0


def test_an_expired_option_takes_no_part_in_a_span_calendar_spread(tmp_path: Path) -> None:
    """Short 10 expired ES 6,100 puts and short 10 ES December (6,050 x 50).

    Old: the expired put, in the money, counted delta -1 (10 contracts long by delta at
    September) against the 10 short December: 10 far-tier spreads x 200 = 2,000; the scan
    found the puts' phantom gain at the up moves: +21% (extreme): December -10 x 50 x 6,050
    x 21% = -635,250, the puts +100 x 500 = +50,000: -585,250 x 33% = -193,132.50, the
    worst point; requirement 193,132.50 + 2,000 = 195,132.50.
    Now: the December future alone, +7%: 10 x 50 x 6,050 x 7% = 211,750 (the extreme
    635,250 x 33% = 209,632.50 is less); no spread: 211,750."""
    d, _ = _span(tmp_path, "C1,ES_P6100_2606,-10\nC1,ESZ,-10")
    assert float(d["maintenance"]) == pytest.approx(211_750.0)


def test_an_expired_option_beside_a_live_future_under_span(tmp_path: Path) -> None:
    """Long 1 ES September and the 10 expired short puts: the future alone, 7% x 6,000 x 50
    = 21,000 (old: at -7% the future lost 21,000 and the puts 210,000: 231,000)."""
    d, _ = _span(tmp_path, "C1,ES_2609,1\nC1,ES_P6100_2606,-10")
    assert float(d["maintenance"]) == pytest.approx(21_000.0)
