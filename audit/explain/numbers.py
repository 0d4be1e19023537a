"""Amounts and rates as explain writes them (every renderer: text, HTML, the console)."""

from __future__ import annotations

from decimal import Decimal


def usd(amount: Decimal) -> str:
    """An amount with thousands separators and cents: ``-23,400.00``.

    >>> usd(Decimal("-23400"))
    '-23,400.00'
    """
    return f"{amount:,.2f}"


def pct(rate: float, *, signed: bool = False) -> str:
    """A fraction as a percent with up to three decimals: ``0.045`` -> ``4.5%``.

    >>> pct(0.045), pct(-0.15), pct(0.0), pct(0.06, signed=True)
    ('4.5%', '-15%', '0%', '+6%')
    """
    text = f"{rate * 100:.3f}".rstrip("0").rstrip(".")
    text = "0" if text == "-0" else text
    return f"+{text}%" if signed and rate > 0 else f"{text}%"
