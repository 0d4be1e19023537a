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

**A call spread with a put spread** (a short iron condor or butterfly, a short box): two
credit spreads (the long call above its short, the long put below its short) on the same
underlying, with the same multiplier, in the same account, whose short legs expire on the
same day, are charged together, per pair of contracts, the combination's maximum loss from
its marks: the four legs' net marks (long premiums less short premiums) plus the worst net
intrinsic value at expiry, taken at the four strikes and at 0 (the value is piecewise linear
in the underlying's price, flat above the highest strike), never below 0, times the rate, and
never more than the two spreads charged apart. Only one side of an iron condor can be in the
money at expiry, so it is charged its wider side less both credits; a short box is worth the
strike difference at every price, so it is charged that difference less both credits. Call
spreads and put spreads are each taken largest charge first and matched along their
cumulative counts in each (account, underlying, multiplier, short expiry); the spread whose
own charge is the greater carries the pair's charge, the other nothing (``combined``). A
debit spread takes no part: its worst value at expiry is not below 0, so no combination
lowers it (a long box stays two debit spreads, paid in full).
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
    paired contracts (long rows: 0) and how many of them are ``combined`` with a spread of
    the other type (a call spread with a put spread: an iron condor or butterfly, a box)."""

    paired: FloatArray
    requirement: FloatArray
    combined: FloatArray | None = None


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
    paired, requirement, combined = np.zeros(n), np.zeros(n), np.zeros(n)
    if not (short.any() and long.any()):
        return Spreads(paired, requirement, combined)
    (rows,) = np.nonzero(option)  # sorted once, the option rows only (stable: same order)
    ordered = rows[_order(group[rows], strike[rows], t[rows], is_call[rows])]
    s_rows = ordered[short[ordered]]
    l_rows = ordered[long[ordered]]
    sr, lr, count = match_along_counts(group, s_rows, short_units, l_rows, np.abs(qty))
    count = np.where(t[lr] >= t[sr], count, 0.0)
    sr, lr, count = _pair_leftovers(
        group, t, (s_rows, short_units), (l_rows, np.abs(qty)), (sr, lr, count)
    )
    per_contract = _pair_charge(frame, sr, lr, rate)
    in_pair, pair_charge = _call_with_put(frame, sr, lr, count, per_contract, rate=rate)
    np.add.at(paired, sr, count)
    np.add.at(paired, lr, count)
    np.add.at(requirement, sr, (count - in_pair) * per_contract + pair_charge)
    np.add.at(combined, sr, in_pair)
    return Spreads(paired, requirement, combined)


def _pair_leftovers(
    group: IntArray,
    t: FloatArray,
    shorts: tuple[IntArray, FloatArray],
    longs: tuple[IntArray, FloatArray],
    pieces: tuple[IntArray, IntArray, FloatArray],
) -> tuple[IntArray, IntArray, FloatArray]:
    """Second pass: the contracts the first left unpaired, matched by the shorts' expiry.

    The first pass matches along strike order and drops a stretch whose long expires before
    its short; the long it dropped may pair with another short (a September long matched to
    a December short, while a September short waits: decision 51). The shorts left are taken
    by expiry, latest first, each against the longs left expiring at or after it, in the
    same protective order: a long that may pair with a later short may pair with every
    earlier one, so the latest shorts, with the fewest longs to choose from, choose first.
    The first pass's pieces are kept (its figures do not move where it left nothing
    pairable). Round k takes every group's k-th latest expiry among its shorts left
    (:func:`expiry_rank`), each round vectorized over the book.

    >>> g = np.zeros(3, dtype=np.int64)
    >>> t = np.array([0.5, 0.25, 0.25])  # a December short, a September short, a long
    >>> units = np.array([1.0, 1.0, 1.0])
    >>> first = (np.array([0, 1]), np.array([2, 2]), np.array([0.0, 0.0]))
    >>> sr, lr, n = _pair_leftovers(g, t, (np.array([0, 1]), units),
    ...                             (np.array([2]), units), first)
    >>> [(int(a), int(b), float(c)) for a, b, c in zip(sr, lr, n) if c]
    [(1, 2, 1.0)]
    """
    s_rows, s_units = shorts
    l_rows, l_units = longs
    sr, lr, count = pieces
    s_left, l_left = s_units.astype(np.float64), l_units.astype(np.float64)
    np.subtract.at(s_left, sr, count)
    np.subtract.at(l_left, lr, count)
    l_open = l_rows[l_left[l_rows] > 1e-9]
    s_open = s_rows[(s_left[s_rows] > 1e-9) & np.isin(group[s_rows], group[l_open])]
    rank = expiry_rank(group[s_open], t[s_open])
    out = []
    for k in range(int(rank.max()) + 1 if len(rank) else 0):
        at = s_open[rank == k]  # each group's k-th latest expiry among its shorts left
        groups, first = np.unique(group[at], return_index=True)
        i = np.minimum(np.searchsorted(groups, group[l_open]), len(groups) - 1)
        mine = groups[i] == group[l_open]  # the longs of a group with a short this round
        free = l_open[mine & (t[l_open] >= t[at[first]][i]) & (l_left[l_open] > 1e-9)]
        if not len(free):
            continue
        a, b, n = match_along_counts(group, at, s_left, free, l_left)
        np.subtract.at(l_left, b, n)
        out.append((a, b, n))
    if not out:
        return pieces
    a, b, n = (np.concatenate([p[j] for p in out]) for j in range(3))
    # in the order of a round per expiry of the whole book, latest first (the pieces a
    # combination of a call and a put spread takes first among equal charges)
    order = np.lexsort((group[a], -t[a]))
    return (
        np.concatenate([pieces[0], a[order]]),
        np.concatenate([pieces[1], b[order]]),
        np.concatenate([pieces[2], n[order]]),
    )


def expiry_rank(group: IntArray, t: FloatArray) -> IntArray:
    """Each row's expiry ranked among its group's distinct expiries, latest first (0).

    Groups never pair with each other, so the second pass takes every group's latest
    expiry in one round, then every group's next: as many rounds as one group has
    expiries, not as the whole book has (a book of many underlyings and weekly, monthly
    and long-dated options has hundreds).

    >>> expiry_rank(np.array([0, 0, 0, 1, 1]), np.array([0.25, 0.5, 0.25, 0.1, 0.9]))
    array([1, 0, 1, 1, 0])
    """
    order = np.lexsort((-t, group))
    g, x = group[order], t[order]
    starts = np.r_[True, g[1:] != g[:-1]]
    distinct = np.cumsum(starts | np.r_[True, x[1:] != x[:-1]]) - 1
    first = np.maximum.accumulate(np.where(starts, distinct, 0))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = distinct - first
    return rank


def _call_with_put(
    frame: pd.DataFrame,
    short: IntArray,
    long: IntArray,
    count: FloatArray,
    per_contract: FloatArray,
    *,
    rate: float,
) -> tuple[FloatArray, FloatArray]:
    """Per spread piece (a short row, a long row, ``count`` contracts charged
    ``per_contract``): the contracts combined with a spread of the other type, and the charge
    the piece carries for them (the module's docstring: a call spread with a put spread).

    >>> frame = pd.DataFrame({"account_id": ["A"] * 4, "underlying": ["XYZ"] * 4,
    ...     "is_option": [True] * 4, "is_call": [True, True, False, False],
    ...     "multiplier": [100.0] * 4, "price": [5.60, 1.80, 5.60, 1.74],
    ...     "strike": [100.0, 110.0, 100.0, 90.0], "t": [0.25] * 4})
    >>> _call_with_put(frame, np.array([0, 2]), np.array([1, 3]), np.array([1.0, 1.0]),
    ...                np.array([620.0, 614.0]), rate=1.0)
    (array([1., 1.]), array([234.,   0.]))
    """
    pieces = len(short)
    in_pair, charge = np.zeros(pieces), np.zeros(pieces)
    is_call = frame["is_call"].to_numpy(dtype=bool)
    strike = np.nan_to_num(frame["strike"].to_numpy(np.float64))
    t = np.nan_to_num(frame["t"].to_numpy(np.float64))
    call = is_call[short]
    # a credit spread: the long call above the short call, the long put below the short put
    credit = np.where(call, strike[long] > strike[short], strike[long] < strike[short])
    usable = (count > 0) & credit
    if not ((usable & call).any() and (usable & ~call).any()):
        return in_pair, charge
    option = frame["is_option"].to_numpy(dtype=bool)
    by_account = option_groups(frame, option, by_type=False)[short]
    keys = np.column_stack([by_account.astype(np.float64), t[short]])
    _, group = np.unique(np.where(usable[:, None], keys, -1.0), axis=0, return_inverse=True)
    group = np.asarray(group, np.int64).ravel()
    group = np.where(usable, group, -1)
    order = np.lexsort((np.arange(pieces), -per_contract, group))
    order = order[usable[order]]
    units = np.where(usable, count, 0.0)
    c_pieces, p_pieces = order[call[order]], order[~call[order]]
    ci, pi, n = match_along_counts(group, c_pieces, units, p_pieces, units)
    mult = frame["multiplier"].to_numpy(np.float64)[short[ci]]
    price = frame["price"].to_numpy(np.float64)
    marks = (price[long[ci]] - price[short[ci]] + price[long[pi]] - price[short[pi]]) * mult
    k_cs, k_cl, k_ps, k_pl = (
        strike[short[ci]],
        strike[long[ci]],
        strike[short[pi]],
        strike[long[pi]],
    )
    at = np.stack([np.zeros_like(k_cs), k_cs, k_cl, k_ps, k_pl])  # the value's corners
    value = (
        np.maximum(at - k_cl, 0.0)
        - np.maximum(at - k_cs, 0.0)
        + np.maximum(k_pl - at, 0.0)
        - np.maximum(k_ps - at, 0.0)
    )
    worst = np.minimum(value.min(axis=0), 0.0)  # a value sure to stay above 0 lends nothing
    max_loss = np.maximum(marks - mult * worst, 0.0)
    apart = per_contract[ci] + per_contract[pi]
    together = np.minimum(rate * max_loss, apart)
    lower = (n > 0) & (together < apart - 1e-9 * np.maximum(apart, 1.0))
    n = np.where(lower, n, 0.0)
    on_call = per_contract[ci] >= per_contract[pi]
    np.add.at(in_pair, ci, n)
    np.add.at(in_pair, pi, n)
    np.add.at(charge, ci, np.where(on_call, n * together, 0.0))
    np.add.at(charge, pi, np.where(on_call, 0.0, n * together))
    return in_pair, charge


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
