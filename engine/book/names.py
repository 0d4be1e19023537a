"""Names and values in a book: a name as the book contract spells it, and what to say of an
enum value or an asset the contract does not know (with the one it seems to stand for).
"""

from __future__ import annotations

import difflib
import re

from marginlex.dsl.model.domain import ASSET_CLASSES


def plain_name(text: str) -> str:
    """A name as the book contract spells its names and values: lower case, words joined
    by ``_`` (``"Account ID"`` and ``"account-id"`` are ``"account_id"``).

    >>> plain_name(" Portfolio Margin "), plain_name("implied-vol")
    ('portfolio_margin', 'implied_vol')
    """
    return "_".join(re.split(r"[\s_\-]+", text.strip().lower()))


def unknown_value(value: str, allowed: tuple[str, ...]) -> str:
    """An unknown enum value, with the allowed one it seems to stand for: the same in other
    capitals or with spaces for ``_`` ("sec", "PUT", "Portfolio Margin"), or close to it."""
    plain = plain_name(value)
    same = [a for a in allowed if a.lower() == plain]
    close = same or difflib.get_close_matches(value, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown value {value!r} (expected one of: {', '.join(allowed)}){hint}"


def named_asset_near(ticker: str) -> str | None:
    """The named asset a ticker looks like a slip of: its letters swapped (``UDS``, ``BCT``)
    or one letter off a longer name (``STOKC``, ``USCD``); None for a ticker of its own
    (``SOL``, ``ETC``: one letter from ETF and ETH, and a coin).

    >>> [named_asset_near(t) for t in ("UDS", "STOKC", "ETC", "SOL")]
    ['USD', 'STOCK', None, None]
    """
    names = list(ASSET_CLASSES)
    swapped = [n for n in names if sorted(n) == sorted(ticker)]
    close = swapped or difflib.get_close_matches(ticker, names, n=1, cutoff=0.75)
    return close[0] if close else None


def unknown_asset(value: str) -> str:
    close = difflib.get_close_matches(value.upper(), list(ASSET_CLASSES), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (
        f"unknown asset {value!r} (expected one of {', '.join(ASSET_CLASSES)}, "
        f"or a digital asset ticker in capitals such as SOL){hint}"
    )
