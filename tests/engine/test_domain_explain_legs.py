"""What ``explain`` says of a SPAN leg with charges, by hand.

A class group's loss is its scanning risk (the worst scenario's loss) plus its calendar-spread
and delivery-month charges; the leg line under ``cftc_spread_credits`` shows the scanning risk
again. It must be the scan's figure, not the loss less the charges, each rounded to the cent,
which can be a cent off it.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

from _evaluate_books import make_book, norm_cdf
from typer.testing import CliRunner

from marginlex.cli import app

# ESZ: the December future (Dec 18, 171 days from Jun 30: the far tier); ESZ_P6050: a put on
# it, strike 6,050, implied volatility 16%, both in class group SPX with the demo's September
# ES_2609 (80 days, 6,000 x 50, scan range 7%).
EXTRA = (
    "ESZ,index_future,,SPX,high_cap_broad,50,6050.00,2026-12-18,,,,,\n"
    "ESZ_P6050,index_option,ESZ,SPX,high_cap_broad,50,250.00,2026-12-18,put,6050,0.16,,"
)


def _b76_put(f: float, k: float, t: float, vol: float) -> float:
    d1 = (math.log(f / k) + vol * vol * t / 2) / (vol * math.sqrt(t))
    return k * norm_cdf(-(d1 - vol * math.sqrt(t))) - f * norm_cdf(-d1)


def _explained(tmp_path: Path) -> str:
    """``explain`` of C1 under cftc: long 1 ES September and a long put on the December
    future, with cash."""
    make_book(
        tmp_path,
        "C1,FOX,FCM1,CFTC,futures,customer,",
        "C1,ES_2609,1\nC1,ESZ_P6050,1",
        "L1,C1,USD,1000000,,",
        extra_instruments=EXTRA,
    )
    book = tmp_path / "book"
    result = CliRunner().invoke(
        app, ["explain", "cftc:ms:C1", "--rulebook", "cftc", "--book", str(book)]
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_the_leg_line_shows_the_scans_risk_not_the_loss_less_the_rounded_charges(
    tmp_path: Path,
) -> None:
    """Long 1 ES_2609, long 1 ESZ_P6050. Worst scenario: price -1 range, vol down: ES loses
    7% x 300,000 = 21,000; the put (t = 171 / 365) goes from 264.1922 (16%, 6,050) to
    473.0713 (12%, 5,626.50), x 50 = +10,443.96: worst P&L -10,556.04 (10,556.0447).
    Calendar by delta: the put's delta N(d1) - 1 = -0.478166 at the Dec expiry, so
    0.478166 spreads in the far tier, x 200 = 95.63 (95.6332). Loss 10,651.68 (10,651.6779);
    10,651.68 - 95.63 = 10,556.05, a cent off the scan: the leg line said "scanning risk
    10,556.05"."""
    t = 171 / 365
    put_now = _b76_put(6050, 6050, t, 0.16)
    put_down = _b76_put(6050 * 0.93, 6050, t, 0.12)
    risk = 21_000 - 50 * (put_down - put_now)
    assert round(risk, 4) == 10_556.0447
    charge = 200 * (1 - norm_cdf(0.08 * math.sqrt(t)))
    assert round(charge, 4) == 95.6332
    text = _explained(tmp_path)
    assert "requirement 10,651.68 = max(loss 10,651.68" in text
    assert "worst P&L 10,556.04 + calendar-spread and delivery-month charges 95.63" in text
    assert (
        "SPX: scanning risk 10,556.04, matched 0.00 x 50% = credit 0.00; requirement "
        "max(loss 10,651.68 (scanning risk 10,556.04 + charges 95.63 + rounding 0.01)" in text
    )
    assert "10,556.05" not in text


def test_the_shown_parts_of_a_loss_with_charges_add_up_to_the_shown_loss(
    tmp_path: Path,
) -> None:
    """The book above: the loss 10,651.68 is rounded from 10,556.0447 + 95.6332 =
    10,651.6779; its parts as shown, each rounded to the cent on its own, add to 10,556.04 +
    95.63 = 10,651.67, a cent short. The class group's line and the leg's line show the cent
    as a part of its own: 10,556.04 + 95.63 + rounding 0.01 = 10,651.68. The worst P&L stays
    the scan's (the worst scenario's line says -10,556.04) and the charges the charge lines'
    (95.63)."""
    assert Decimal("10556.04") + Decimal("95.63") + Decimal("0.01") == Decimal("10651.68")
    text = _explained(tmp_path)
    assert (
        "requirement 10,651.68 = max(loss 10,651.68, minimum 0.00); loss = worst P&L "
        "10,556.04 + calendar-spread and delivery-month charges 95.63 + rounding 0.01" in text
    )
    assert (
        "max(loss 10,651.68 (scanning risk 10,556.04 + charges 95.63 + rounding 0.01) - "
        "credit 0.00 = 10,651.68" in text
    )
    assert "P&L -10,556.04, worst of 16 points" in text
