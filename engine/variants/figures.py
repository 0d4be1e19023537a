"""Per-account figures of one rulebook's decisions, in integer cents.

Shared by :mod:`marginlex.engine.variants.compare` and
:mod:`marginlex.engine.variants.attribution`. A
margin set's requirement, value and call are allocated in full to its *anchor* account,
the smallest account id of the set (the one its id ``ms:<anchor>`` names); the other
members show 0. Totals over accounts therefore equal totals over sets.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt
import pandas as pd

from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book
from marginlex.engine.evaluate import evaluate
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.graph.margin_sets import SET_PREFIX
from marginlex.engine.plan.compile import compile_plan

MEASURES = ("requirement", "value", "call")
_SOURCE = {"requirement": "maintenance", "value": "value", "call": "call"}
ACCOUNT_COLUMNS = (
    "account_id",
    "rulebook_id",
    "decided",
    "margin_set_id",
    "anchor",
    "status",
    "requirement",
    "value",
    "call",
)


def moved_accounts(paired: pd.DataFrame) -> pd.Series:
    """Per paired account (``<measure>_delta`` columns): did its requirement, value or call
    move. The one definition of a "changed" account, for counts, plots and attribution."""
    return (paired[[f"{m}_delta" for m in MEASURES]] != 0).any(axis=1)


MAX_CENTS_AMOUNT = 9e16
"""The largest amount (USD) held in int64 cents with room to spare (2**63 cents is 9.2e16)."""


class FigureRangeError(ValueError):
    """An amount too large (or not finite) to compare in integer cents."""


def cents(amounts: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Amounts in USD (already rounded to the cent) as int64 cents.

    Raises:
        FigureRangeError: an amount is not finite or past :data:`MAX_CENTS_AMOUNT` (the
            cast would wrap it to a figure of the other sign).

    >>> cents([21053.37, 0.1]).tolist()
    [2105337, 10]
    >>> try:
    ...     cents([1e17])
    ... except FigureRangeError as exc:
    ...     print(exc)
    a figure of 1e+17 USD is past what marginlex compares (9e+16 USD at most)
    """
    values = np.asarray(amounts, dtype=np.float64)
    outside = ~(np.abs(values) < MAX_CENTS_AMOUNT)  # NaN and inf too
    if outside.any():
        worst = values.reshape(-1)[np.flatnonzero(outside.reshape(-1))[0]]
        raise FigureRangeError(
            f"a figure of {worst:g} USD is past what marginlex compares "
            f"({MAX_CENTS_AMOUNT:g} USD at most)"
        )
    return np.rint(values * 100.0).astype(np.int64)


def decide(
    rulebook: ResolvedRulebook, book: Book, as_of: dt.date, graph: AccountGraph | None = None
) -> pd.DataFrame:
    """The decisions frame of one rulebook on one book (compile + evaluate)."""
    return evaluate(compile_plan(rulebook, as_of), book, as_of, graph).decisions


def account_figures(
    decisions: pd.DataFrame, account_ids: pd.Series, rulebook_id: str
) -> pd.DataFrame:
    """One row per account of the book: its set's figures if it is the set's anchor.

    Args:
        decisions: a decisions frame (``Evaluation.decisions``).
        account_ids: every account id of the book, in book order.
        rulebook_id: the label written in the ``rulebook_id`` column.

    Returns:
        :data:`ACCOUNT_COLUMNS`, figures in int64 cents (0 for non-anchor members and for
        accounts out of scope, whose ``decided`` is False).
    """
    members = decisions[["margin_set_id", "status", *_SOURCE.values()]].assign(
        account_id=decisions["account_ids"].str.split(";")
    )
    members = members.explode("account_id").set_index("account_id")
    found = members.reindex(pd.Index(account_ids.to_numpy(str)))
    decided = found["margin_set_id"].notna().to_numpy(bool)
    set_id = found["margin_set_id"].fillna("").to_numpy(str)
    anchor = decided & (np.char.add("ms:", account_ids.to_numpy(str)) == set_id)
    out = pd.DataFrame(
        {
            "account_id": account_ids.to_numpy(str),
            "rulebook_id": rulebook_id,
            "decided": decided,
            "margin_set_id": set_id,
            "anchor": anchor,
            "status": found["status"].fillna("").to_numpy(str),
        }
    )
    for measure, column in _SOURCE.items():
        out[measure] = np.where(anchor, cents(found[column].fillna(0.0)), 0)
    return out[list(ACCOUNT_COLUMNS)]


def anchor_figures(decisions: pd.DataFrame, account_ids: pd.Index) -> npt.NDArray[np.int64]:
    """:data:`MEASURES` of some accounts (rows in ``account_ids`` order), in cents.

    The same figures as :func:`account_figures`, without listing each set's members: an
    account has figures only as the anchor of the set its id names (``ms:<account id>``),
    and every other account shows 0.
    """
    anchors = pd.Index(decisions["margin_set_id"].to_numpy(str)).str.removeprefix(SET_PREFIX)
    figures = pd.DataFrame(
        {measure: cents(decisions[column]) for measure, column in _SOURCE.items()},
        index=anchors,
    )
    return figures.reindex(account_ids, fill_value=0).to_numpy(np.int64)
