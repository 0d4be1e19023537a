"""How a number is written for people, and how to write it for marginlex: the hint a bad
number cell, a stress move, a test file's figure or a command-line amount is given.

Standard library only: a light command (``marginlex ledger --call-above``) imports it.
"""

from __future__ import annotations

import re

_MINUS_LOOKALIKES = "\u2212\u2012\u2013\u2014\ufe63\uff0d"  # minus sign, dashes, wide
_CURRENCY_SIGNS = "$\u20ac\u00a3\u00a5"  # $ € £ ¥
_GROUPED = re.compile(r"[+-]?\d{1,3}(?P<sep>[,\u00a0\u202f' ])\d{3}((?P=sep)\d{3})*(\.\d+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")


def number_hint(text: str) -> str:
    """How to write a number a spreadsheet spelled for people (empty when no spelling is
    recognized), after a colon: a decimal comma, thousands separators, a currency or percent
    sign, a typographic minus.

    >>> number_hint("1,5")
    ': write the decimal separator as a point: 1.5'
    >>> number_hint("1 234 567.5")
    ': leave out the thousands separators: 1234567.5'
    >>> number_hint("1,500")
    ': write 1500 or 1.500 as meant (no thousands separator, a point for decimals)'
    >>> number_hint("\u22125"), number_hint("abc")
    (": write the minus sign as '-' (this is U+2212)", '')
    """
    lookalike = next((c for c in text if c in _MINUS_LOOKALIKES), None)
    if lookalike is not None:
        return f": write the minus sign as '-' (this is U+{ord(lookalike):04X})"
    if any(c in _CURRENCY_SIGNS for c in text):
        return ": leave out the currency sign"
    if text.endswith("%"):
        return ": leave out the % sign (a rate or a range is a fraction: 25% is 0.25)"
    grouped, decimal = _GROUPED.fullmatch(text), _DECIMAL_COMMA.fullmatch(text)
    if grouped and decimal:  # "1,500": a thousand and a half, or one and a half
        whole = text.replace(",", "")
        point = text.replace(",", ".")
        return f": write {whole} or {point} as meant (no thousands separator, a point for decimals)"
    if grouped:
        return f": leave out the thousands separators: {text.replace(grouped['sep'], '')}"
    if decimal:
        return f": write the decimal separator as a point: {text.replace(',', '.')}"
    return ""
