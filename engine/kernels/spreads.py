"""Option spreads in the strategy-based fallback (FINRA Rule 4210(f)(2)(G)).

A short option is paired, contract for contract, with a long option of the same type on the
same underlying, with the same multiplier, in the same account, whose expiry is at or after
the short's. The pair is charged its **maximum loss** from its marked value, per contract:

- call spread: ``long premium - short premium + multiplier x max(long strike - short strike, 0)``;
- put spread: ``long premium - short premium + multiplier x max(short strike - long strike, 0)``;

so a debit spread (long call at the lower strike, long put at the higher) is charged its net
debit and a credit spread the strike difference less the net credit (never below 0), times the
rulebook's ``option_spread`` rate (100%), and never more than the two legs charged alone. The
paired long contracts carry nothing more; the paired short contracts carry the spread.

Pairing, in each (account, underlying, type, multiplier): short contracts in the order
calls ascending / puts descending by strike (the deepest in the money first, as covered calls),
long contracts in the order that protects most (calls ascending, puts descending by strike;
later expiry first), matched along their cumulative counts. A matched stretch whose long
expires before its short is not a spread: those contracts stay unpaired.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from marginlex.engine.kernels.grouping import FloatArray, IntArray, group_by_set_and_label
from marginlex.engine.kernels.text import as_text


@dataclass(frozen=True)
class Spreads:
    """Per input row: ``paired`` contracts, and on short rows the ``requirement`` of its
    paired contracts (long rows: 0)."""

    paired: FloatArray
    requirement: FloatArray


def option_groups(frame: pd.DataFrame, option: np.ndarray, *, by_type: bool = True) -> IntArray:
    """Group code of each row by (account, underlying, type, multiplier), or without the type
    (``by_type=False``: a straddle pairs a call with a put); -1 off the ``option`` rows.

    Only the option rows are labelled (a book's stocks and futures need no text key).
    """
    out = np.full(len(frame), -1, dtype=np.int64)
    (rows,) = np.nonzero(option)
    if not len(rows):
        return out

    def column(name: str) -> pd.Series:
        return frame[name].iloc[rows].reset_index(drop=True)

    accounts, _ = pd.factorize(column("account_id"), sort=True)
    label = as_text(column("underlying")).fillna("") + "|"
    if by_type:
        call = column("is_call").to_numpy(dtype=bool)
        label = label + pd.Series(np.where(call, "C", "P"), dtype="str") + "|"
    label = label + as_text(column("multiplier").astype("float64"))
    key = "spread_key" if by_type else "straddle_key"
    out[rows] = group_by_set_and_label(accounts, label.rename(key)).codes
    return out


def _order(group: IntArray, strike: FloatArray, t: FloatArray, is_call: np.ndarray) -> IntArray:
    """Rows in (group, protective strike order, later expiry first) order."""
    key = np.where(is_call, strike, -strike)
    return np.lexsort((-t, key, group)).astype(np.int64)


def _cumulative(
    rows: IntArray, group: IntArray, units: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Start and end of each row's contracts along its group's count (rows in order).

    Summed within each group only (a group-by cumulative sum, not one running sum over the
    whole book less the group's base): a group's figures do not depend on the rows before it,
    so a set is charged the same in a book of any size (a stacked book, a partition).
    """
    ordered = units[rows]
    summed = pd.Series(ordered).groupby(group[rows], sort=False).cumsum()
    end: FloatArray = np.asarray(summed.to_numpy(np.float64), np.float64)
    return np.asarray(end - ordered, np.float64), end


def _count_at_or_below(
    key_group: IntArray, key: FloatArray, query_group: IntArray, query: FloatArray
) -> IntArray:
    """Per query, how many keys are at or before it in (group, value) order (``key`` rows
    sorted so): ``searchsorted(side="right")`` on the pair, without adding offsets to values
    (an offset of group x span would round the fractions of a large book's counts)."""
    groups = np.concatenate([key_group, query_group])
    values = np.concatenate([key, query])
    is_key = np.r_[np.ones(len(key), np.int64), np.zeros(len(query), np.int64)]
    order = np.lexsort((1 - is_key, values, groups))  # a key before a query of equal value
    before = np.cumsum(is_key[order])
    out = np.empty(len(values), np.int64)
    out[order] = before
    return out[len(key) :]


def match_along_counts(
    group: IntArray, a_rows: IntArray, a_units: FloatArray, b_rows: IntArray, b_units: FloatArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """Match two ordered lists of rows contract for contract within each group.

    ``a_rows`` and ``b_rows`` are each in (group, priority) order; their contracts
    (``a_units``, ``b_units`` by row) are laid end to end along each group's count and
    matched where the stretches overlap. Returns one entry per piece of overlap: the ``a``
    row, the ``b`` row and the contracts matched (0 where a piece has only one side).

    >>> g = np.array([0, 0, 0])
    >>> match_along_counts(g, np.array([0]), np.array([3.0, 0, 0]), np.array([1, 2]),
    ...                    np.array([0, 1.0, 1.0]))
    (array([0, 0, 0]), array([1, 2, 2]), array([1., 1., 0.]))
    """
    a_start, a_end = _cumulative(a_rows, group, a_units)
    b_start, b_end = _cumulative(b_rows, group, b_units)
    # Every group's cut points (starts and ends of its a and b stretches), in (group, point)
    # order; each stretch between two cut points of a group is one piece.
    ag, bg = group[a_rows], group[b_rows]
    pg = np.concatenate([ag, ag, bg, bg])
    pv = np.concatenate([a_start, a_end, b_start, b_end])
    order = np.lexsort((pv, pg))
    pg, pv = pg[order], pv[order]
    keep = np.r_[True, (pg[1:] != pg[:-1]) | (pv[1:] != pv[:-1])]
    pg, pv = pg[keep], pv[keep]
    piece = pg[1:] == pg[:-1]
    low, high, at = pv[:-1][piece], pv[1:][piece], pg[:-1][piece]
    mid = (low + high) / 2.0
    ai = _count_at_or_below(ag, a_end, at, mid)
    bi = _count_at_or_below(bg, b_end, at, mid)
    inside = (ai < len(a_rows)) & (bi < len(b_rows))
    ai, bi = np.minimum(ai, len(a_rows) - 1), np.minimum(bi, len(b_rows) - 1)
    ar, br = a_rows[ai], b_rows[bi]
    inside &= (ag[ai] == at) & (bg[bi] == at)
    inside &= (mid > a_start[ai]) & (mid > b_start[bi])
    inside &= group[ar] == group[br]
    return ar, br, np.where(inside, high - low, 0.0)


def option_spreads(frame: pd.DataFrame, short_units: FloatArray, rate: float) -> Spreads:
    """Pair short with long options and charge each pair its maximum loss.

    Args:
        frame: strategy columns (``account_id``, ``underlying``, ``is_option``, ``is_call``,
            ``quantity``, ``multiplier``, ``price``, ``strike``, ``t``) and ``uncovered``
            (the requirement of a short row's contracts charged alone, per contract) and
            ``long_charge`` (per contract of a long row, charged alone).
        short_units: contracts of each short row still to margin (covered calls removed).
        rate: the rulebook's ``option_spread`` rate (fraction of the maximum loss).

    Returns:
        Paired contracts per row and the paired requirement of each short row.
    """
    n = len(frame)
    qty = frame["quantity"].to_numpy(np.float64)
    option = frame["is_option"].to_numpy(dtype=bool)
    is_call = frame["is_call"].to_numpy(dtype=bool)
    strike = np.nan_to_num(frame["strike"].to_numpy(np.float64))
    t = np.nan_to_num(frame["t"].to_numpy(np.float64))
    group = option_groups(frame, option)
    short = option & (qty < 0) & (short_units > 0)
    long = option & (qty > 0)
    paired, requirement = np.zeros(n), np.zeros(n)
    if not (short.any() and long.any()):
        return Spreads(paired, requirement)
    (rows,) = np.nonzero(option)  # sorted once, the option rows only (stable: same order)
    ordered = rows[_order(group[rows], strike[rows], t[rows], is_call[rows])]
    s_rows = ordered[short[ordered]]
    l_rows = ordered[long[ordered]]
    sr, lr, count = match_along_counts(group, s_rows, short_units, l_rows, np.abs(qty))
    count = np.where(t[lr] >= t[sr], count, 0.0)
    per_contract = _pair_charge(frame, sr, lr, rate)
    np.add.at(paired, sr, count)
    np.add.at(paired, lr, count)
    np.add.at(requirement, sr, count * per_contract)
    return Spreads(paired, requirement)


def _pair_charge(frame: pd.DataFrame, short: IntArray, long: IntArray, rate: float) -> FloatArray:
    """Per contract of each (short row, long row) pair: the lesser of ``rate`` x the maximum
    loss and the two legs charged alone."""
    mult = frame["multiplier"].to_numpy(np.float64)[short]
    price = frame["price"].to_numpy(np.float64)
    strike = np.nan_to_num(frame["strike"].to_numpy(np.float64))
    is_call = frame["is_call"].to_numpy(dtype=bool)[short]
    diff = np.where(is_call, strike[long] - strike[short], strike[short] - strike[long])
    net = (price[long] - price[short]) * mult
    max_loss = np.maximum(net + mult * np.maximum(diff, 0.0), 0.0)
    alone = (
        frame["uncovered"].to_numpy(np.float64)[short]
        + frame["long_charge"].to_numpy(np.float64)[long]
    )
    return np.asarray(np.minimum(rate * max_loss, alone), dtype=np.float64)
