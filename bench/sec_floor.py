"""The SEC requirement hand-written in plain numpy: the floor ``bench_run.py`` measures
marginlex's SEC evaluation against (no rulebook, no trace, no pandas groupby).

Ids are joined to row numbers once; every group is a run of one sorted integer key, every sum
over a group one ``np.add.reduceat`` (or a ``bincount`` where the key is a dense row number).
It computes what ``rulebooks/sec.mlx`` decides for a book, per SEC account (each account is a
margin set alone):

- the Treasury give-up: cash Treasuries of an owner@carrier that also has a customer CFTC
  futures or cross-margin account with a cross-margin agreement, at a bd_fcm carrier member
  of FICC and CME, are left out of the SEC account;
- eligibility for portfolio margin (a customer account, its kind, uncovered-options owner,
  agreement, equity at least 100,000, at least 5,000,000 when the account holds an sbs);
- house accounts: SEC Rule 15c3-1 haircuts on |notional| (futures their range, 150% of it
  for a carrier not a DCO member; Treasuries 0-6% in twelve
  buckets of residual maturity, stock and ETFs 15%, a short equity option 15% of its
  underlying less the out-of-the-money amount, at least 7.5% of it and $2.50 a share,
  anything else 100%);
- eligible accounts: the 10-point grid (ranges by the index class of the instrument each
  position moves with, the first range row any position of the class group meets;
  Black-Scholes options), class-group loss against $0.375 x multiplier per contract (long
  options and sbs capped at market value), product-group credits point by point (90/75/50%);
- the other customer accounts: strategy-based rates (a short stock at least $5.00 a share,
  under $5.00 a share 100% at least $2.50 a share), covered calls (and puts covered by
  short stock, outside cash accounts), option spreads at their
  maximum loss, short straddles and strangles (the greater leg plus the other's premium),
  Treasuries 1-6% by residual maturity, anything else 25%; a cash account (12 CFR 220.8,
  `sec_cash_account`, `held in cash`) every leg at 100%, a short leg less its market value
  (the value deducts it: a short stock 0, a short option its exercise price or deliverable
  less its premium), a covered call minus its premium (the stock delivers it), no straddle
  pairing;
- an option that expired before the as-of date: nothing, on the grid (no P&L, no minimum)
  and in the strategy-based method alike (it covers and pairs with nothing).

``tests/bench/test_sec_floor.py`` holds it to marginlex's per-set requirements to the cent.
"""

from __future__ import annotations

import calendar
import datetime as dt
import time

import numpy as np
import pandas as pd
from scipy.special import ndtr

from marginlex.engine.book.load import Book

FUTURES = ("index_future", "ust_future", "crypto_future")
TREASURIES = ("ust_bill", "ust_note", "ust_bond", "ust_strip")
CONTRACTS = ("equity_option", "index_option", *FUTURES, "sbs")
# 15c3-1 Treasury buckets: under 3, 6, 9, 12 months, 2, 3, 5, 10, 15, 20, 25 years, then the
# rest; FINRA 4210(e)(2)(A)'s under 1, 3, 5, 10, 20 years. In months from the as-of date, read
# on the calendar (1 year: the same day a year later, 366 days across a 29 February).
HOUSE_MONTHS = (3, 6, 9, 12, 24, 36, 60, 120, 180, 240, 300)
GOV_MONTHS = (12, 36, 60, 120, 240)
HOUSE_RATES = np.array([0, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.045, 0.05, 0.055, 0.06])
INDEX_CLASSES = ("high_cap_broad", "broad", "narrow")  # offsets of 90, 75 and 50%
NONE = len(INDEX_CLASSES)  # no index class


def _calendar_bounds(as_of: dt.date, months: tuple[int, ...]) -> np.ndarray:
    """Each bound ``months`` after ``as_of`` on the calendar (the month's last day where it
    has no such day), in years of 365 days as ``t`` is."""
    days = []
    for m in months:  # a handful of bounds, not rows
        year, month = divmod(as_of.month - 1 + m, 12)
        last = calendar.monthrange(as_of.year + year, month + 1)[1]
        end = dt.date(as_of.year + year, month + 1, min(as_of.day, last))
        days.append((end - as_of).days)
    return np.array(days, dtype=float) / 365.0


def _bs(s: np.ndarray, k: np.ndarray, t: np.ndarray, v: np.ndarray, call: np.ndarray) -> np.ndarray:
    live = (t > 0) & (v > 0)
    ts, vs = np.where(live, t, 1.0), np.where(live, v, 1.0)
    d1 = (np.log(s / k) + 0.5 * vs * vs * ts) / (vs * np.sqrt(ts))
    d2 = d1 - vs * np.sqrt(ts)
    sign = np.where(call, 1.0, -1.0)
    value = sign * (s * ndtr(sign * d1) - k * ndtr(sign * d2))
    intrinsic = np.where(call, np.maximum(s - k, 0), np.maximum(k - s, 0))
    return np.where(live, value, intrinsic)


def _runs(key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort rows by an integer group key: the order, each run's start, each sorted row's run."""
    order = np.argsort(key, kind="stable")
    k = key[order]
    new = np.empty(len(k), dtype=bool)
    new[:1] = True
    np.not_equal(k[1:], k[:-1], out=new[1:])
    return order, np.flatnonzero(new), np.cumsum(new) - 1


def _is(column: pd.Series, *values: str) -> np.ndarray:
    """A text column's rows holding one of ``values`` (per row of its own table)."""
    return np.asarray(column.isin(values).to_numpy(dtype=bool))


def _members(book: Book, org: str) -> np.ndarray:
    rel = book.relations
    if rel is None or not len(rel):
        return np.zeros(0, dtype=object)
    hit = (rel["relation"].astype("str") == "member_of") & (rel["dst"].astype("str") == org)
    return np.asarray(rel.loc[hit, "src"].astype("str").to_numpy(dtype=object))


def _given_up(book: Book, a: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Per position: a cash Treasury the CFTC cross-margin account of its owner@carrier takes."""
    acc, parties = book.accounts, book.parties
    carrier = acc["carrier_id"].astype("str")
    kind = pd.Index(parties["party_id"]).get_indexer(carrier)
    bd_fcm = np.r_[_is(parties["kind"], "bd_fcm"), False][kind]
    anchor = (
        _is(acc["regime"], "CFTC")
        & _is(acc["origin"], "customer")
        & _is(acc["kind"], "futures", "cross_margin")
        & acc["has_cross_margin_agreement"].to_numpy(dtype=bool)
        & bd_fcm
        & carrier.isin(_members(book, "FICC")).to_numpy(dtype=bool)
        & carrier.isin(_members(book, "CME")).to_numpy(dtype=bool)
    )
    if not anchor.any():
        return np.zeros(len(a), dtype=bool)
    owner_carrier = pd.factorize(acc["owner_id"].astype("str") + "@" + carrier)[0]
    anchored = np.zeros(owner_carrier.max() + 1, dtype=bool)
    anchored[owner_carrier[anchor]] = True
    treasury = _is(book.instruments["product"], *TREASURIES)[i]
    return treasury & anchored[owner_carrier[a]] & ~anchor[a]


def _eligible(book: Book, a: np.ndarray, equity: np.ndarray) -> np.ndarray:
    acc, pos = book.accounts, book.positions
    party = pd.Index(book.parties["party_id"]).get_indexer(acc["owner_id"])
    uncovered = np.r_[_is(book.parties["options_approval"], "uncovered"), False][party]
    sbs = np.bincount(a[_is(pos["product"], "sbs")], minlength=len(acc)) > 0
    return np.asarray(
        _is(acc["origin"], "customer")
        & _is(acc["kind"], "portfolio_margin")
        & uncovered
        & acc["has_portfolio_margin_agreement"].to_numpy(dtype=bool)
        & (equity >= 100_000)
        & (~sbs | (equity >= 5_000_000))
    )


def _class_code(column: pd.Series) -> np.ndarray:
    """INDEX_CLASSES' position of each row, NONE for a blank or other class."""
    return np.select([_is(column, c) for c in INDEX_CLASSES], [0, 1, 2], NONE)


def _grid(s: dict[str, np.ndarray], starts: np.ndarray, run: np.ndarray) -> np.ndarray:
    """(10, class groups) P&L of sorted rows ``s``; ranges by the group's first range row."""
    cls = np.minimum.reduceat(s["range_class"], starts)[run]
    up = np.array([0.06, 0.10, 0.15, 0.15])[cls]
    down = np.array([0.08, 0.10, 0.15, 0.15])[cls]
    frac = np.array([-1, -0.8, -0.6, -0.4, -0.2, 0.2, 0.4, 0.6, 0.8, 1.0])[:, None]
    moves = np.where(frac < 0, frac * down, frac * up)
    opt = s["is_opt"]
    pnl = moves * np.where(opt, 0.0, s["q"] * s["mult"] * s["price"])
    o = np.flatnonzero(opt)
    t, k, v, c = s["t"][o], s["strike"][o], s["vol"][o], s["call"][o]
    now = _bs(s["spot"][o], k, t, v, c)
    shocked = _bs(s["spot"][o] * (1 + moves[:, o]), k, t, v, c)
    pnl[:, o] = (shocked - now) * (s["q"][o] * s["mult"][o])
    return np.add.reduceat(pnl, starts, axis=1)


def _portfolio(p: dict[str, np.ndarray], n_acc: int) -> np.ndarray:
    """Portfolio margin per account of the eligible accounts' rows ``p``."""
    out = np.zeros(n_acc)
    if not len(p["a"]):
        return out
    n_cg = int(p["cg"].max()) + 2
    order, starts, run = _runs(p["a"].astype(np.int64) * n_cg + p["cg"] + 1)
    s = {name: col[order] for name, col in p.items()}
    grid = _grid(s, starts, run)
    q, mult = s["q"], s["mult"]
    minimum = np.where(s["contract"], 0.375 * mult * np.abs(q), 0.0)
    capped = (q > 0) & (s["is_opt"] | s["sbs"])
    minimum = np.where(capped, np.minimum(minimum, q * mult * s["price"]), minimum)
    minimum = np.add.reduceat(minimum, starts)
    # Product groups: the class groups of one account in one listed index class.
    code = np.minimum.reduceat(s["index_class"], starts)
    n_g = len(starts)
    acc = s["a"][starts].astype(np.int64)
    pg_key = acc * (n_g + NONE) + np.where(code < NONE, code, NONE + np.arange(n_g))
    order, pg_starts, _ = _runs(pg_key)
    rate = np.array([0.9, 0.75, 0.5, 0.0])[code][order][pg_starts]
    losses = np.add.reduceat(np.maximum(-grid[:, order], 0), pg_starts, axis=1)
    gains = np.add.reduceat(np.maximum(grid[:, order], 0), pg_starts, axis=1)
    netted = np.maximum((losses - rate * gains).max(axis=0), 0)
    req = np.maximum(netted, np.add.reduceat(minimum[order], pg_starts))
    return np.bincount(acc[order][pg_starts], req, n_acc)


def _covered(
    p: dict[str, np.ndarray], long_eq: np.ndarray, short_call: np.ndarray, sign: float = 1.0
) -> np.ndarray:
    """Share of each short option ``short_call`` covered by the stock ``long_eq`` of its
    account (by ``sign`` x strike: calls ascending, puts descending), by whole contracts."""
    shares = np.abs(p["q"] * p["mult"])
    key = p["a"].astype(np.int64) * (p["n_inst"] + 1) + p["cover"] + 1
    order, starts, _ = _runs(key[long_eq])
    held = key[long_eq][order][starts]
    avail = np.add.reduceat(shares[long_eq][order], starts) if len(starts) else np.zeros(0)
    rows = np.flatnonzero(short_call)
    rows = rows[np.lexsort((p["t"][rows], sign * p["strike"][rows], key[rows]))]
    k, need = key[rows], shares[rows]
    have = np.zeros(len(k))
    if len(held):
        at = np.minimum(np.searchsorted(held, k), len(held) - 1)
        have = np.where(held[at] == k, avail[at], 0.0)
    _, run_starts, run = _runs(k)  # k is sorted: the order is the identity
    before = np.cumsum(need) - need
    before -= before[run_starts][run]
    covered = np.clip(have - before, 0.0, need)
    mult = p["mult"][rows]  # a contract is covered by its whole deliverable only
    whole = np.floor(covered / np.where(mult > 0, mult, 1.0) + 1e-9) * mult
    covered = np.where(covered >= need, need, np.minimum(whole, covered))
    out = np.zeros(len(shares))
    out[rows] = np.where(need > 0, covered / np.where(need > 0, need, 1.0), 0.0)
    return out


def _along(rows: np.ndarray, group: np.ndarray, units: np.ndarray) -> tuple[np.ndarray, ...]:
    """Start and end of each row's contracts along its group's count (rows sorted by group)."""
    end = np.cumsum(units[rows])
    start = end - units[rows]
    first = np.r_[True, group[rows][1:] != group[rows][:-1]] if len(rows) else np.zeros(0, bool)
    base = start[first][np.cumsum(first) - 1] if len(rows) else start
    return start - base, end - base


def _matched_along(
    a_rows: np.ndarray,
    b_rows: np.ndarray,
    group: np.ndarray,
    a_units: np.ndarray,
    b_units: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Rows of one side matched with rows of the other in the same group along their
    cumulative counts (each side sorted by group, in the order it is taken; ``a_units`` and
    ``b_units`` the contracts each row offers): per stretch, its row on each side, its
    contracts, and whether both sides hold it in one group."""
    a_start, a_end = _along(a_rows, group, a_units)
    b_start, b_end = _along(b_rows, group, b_units)
    span = float(max(a_end.max(initial=0.0), b_end.max(initial=0.0))) + 1.0
    a_at, b_at = group[a_rows] * span, group[b_rows] * span
    cuts = np.unique(np.concatenate([a_at + a_start, a_at + a_end, b_at + b_start, b_at + b_end]))
    mid = (cuts[:-1] + cuts[1:]) / 2.0
    ai = np.searchsorted(a_at + a_end, mid, side="right")
    bi = np.searchsorted(b_at + b_end, mid, side="right")
    inside = (ai < len(a_rows)) & (bi < len(b_rows))
    ai, bi = np.minimum(ai, len(a_rows) - 1), np.minimum(bi, len(b_rows) - 1)
    ar, br = a_rows[ai], b_rows[bi]
    inside &= (mid > a_at[ai] + a_start[ai]) & (mid > b_at[bi] + b_start[bi])
    inside &= group[ar] == group[br]
    return ar, br, cuts[1:] - cuts[:-1], inside


def _spreads(
    p: dict[str, np.ndarray], short_units: np.ndarray, alone: np.ndarray, long_charge: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Paired contracts per row and each short row's spread requirement (maximum loss)."""
    n = len(p["q"])
    paired, requirement = np.zeros(n), np.zeros(n)
    opt, q, call = p["is_opt"], p["q"], p["call"]
    short, long = opt & (q < 0) & (short_units > 0), opt & (q > 0)
    if not (short.any() and long.any()):
        return paired, requirement
    group = (p["a"].astype(np.int64) * (p["n_inst"] + 1) + p["under"] + 1) * 2 + call
    group = np.where(opt, group * (int(p["mult_code"].max()) + 1) + p["mult_code"], -1)
    strike, t = np.nan_to_num(p["strike"]), np.nan_to_num(p["t"])
    by = np.lexsort((-t, np.where(call, strike, -strike), group))
    # Dense group numbers: each group's contracts lie on a line of its own at group x span,
    # which must stay small enough for float64 to keep fractions of a contract exact.
    new = np.r_[True, group[by][1:] != group[by][:-1]]
    group = np.empty(n, dtype=np.int64)
    group[by] = np.cumsum(new) - 1
    s_rows, l_rows = by[short[by]], by[long[by]]
    sr, lr, width, inside = _matched_along(s_rows, l_rows, group, short_units, np.abs(q))
    count = np.where(inside & (t[lr] >= t[sr]), width, 0.0)
    sr, lr, count = _pair_leftovers(s_rows, l_rows, group, t, short_units, np.abs(q), sr, lr, count)
    mult, price = p["mult"][sr], p["price"]
    diff = np.where(call[sr], strike[lr] - strike[sr], strike[sr] - strike[lr])
    max_loss = np.maximum((price[lr] - price[sr]) * mult + mult * np.maximum(diff, 0.0), 0.0)
    per_contract = np.minimum(max_loss, alone[sr] + long_charge[lr])
    in_pair, pair_charge = _call_with_put(p, sr, lr, count, per_contract)
    paired += np.bincount(sr, count, n) + np.bincount(lr, count, n)
    requirement += np.bincount(sr, (count - in_pair) * per_contract + pair_charge, n)
    return paired, requirement


def _pair_leftovers(
    s_rows: np.ndarray,
    l_rows: np.ndarray,
    group: np.ndarray,
    t: np.ndarray,
    s_units: np.ndarray,
    l_units: np.ndarray,
    *first: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The contracts the first pass left unpaired, matched again by the shorts' expiry,
    latest first, each against the longs left expiring at or after it (decision 51)."""
    sr, lr, count = first
    s_left = s_units - np.bincount(sr, count, len(s_units))
    l_left = l_units - np.bincount(lr, count, len(l_units))
    l_open = l_rows[l_left[l_rows] > 1e-9]
    s_open = s_rows[(s_left[s_rows] > 1e-9) & np.isin(group[s_rows], group[l_open])]
    # each group's expiries among its shorts left, latest first: round k takes every
    # group's k-th (groups never pair with each other)
    by = np.lexsort((-t[s_open], group[s_open]))
    g, x = group[s_open][by], t[s_open][by]
    starts = np.r_[True, g[1:] != g[:-1]]
    distinct = np.cumsum(starts | np.r_[True, x[1:] != x[:-1]]) - 1
    rank = np.empty(len(by), dtype=np.int64)
    rank[by] = distinct - np.maximum.accumulate(np.where(starts, distinct, 0))
    parts = []
    for k in range(int(rank.max()) + 1 if len(rank) else 0):
        at = s_open[rank == k]
        groups, first = np.unique(group[at], return_index=True)
        i = np.minimum(np.searchsorted(groups, group[l_open]), len(groups) - 1)
        bound = np.where(groups[i] == group[l_open], t[at[first]][i], np.inf)
        free = l_open[(t[l_open] >= bound) & (l_left[l_open] > 1e-9)]
        if not len(free):
            continue
        a, b, width, inside = _matched_along(at, free, group, s_left, l_left)
        n = np.where(inside, width, 0.0)
        l_left = l_left - np.bincount(b, n, len(l_left))
        parts.append((a, b, n))
    if not parts:
        return sr, lr, count
    a, b, n = (np.concatenate([x[j] for x in parts]) for j in range(3))
    order = np.lexsort((group[a], -t[a]))  # as rounds per expiry of the whole book
    return (
        np.concatenate([sr, a[order]]),
        np.concatenate([lr, b[order]]),
        np.concatenate([count, n[order]]),
    )


def _call_with_put(
    p: dict[str, np.ndarray],
    sr: np.ndarray,
    lr: np.ndarray,
    count: np.ndarray,
    per_contract: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """A call credit spread with a put credit spread whose shorts expire the same day (same
    account, underlying, multiplier): per pair the four legs' net marks plus the worst net
    intrinsic value at expiry (at 0 and the four strikes, never above 0), never below 0 and
    never more than the two spreads apart; the spread with the greater own charge carries it.
    Per piece: contracts combined and the charge carried."""
    m = len(sr)
    in_pair, charge = np.zeros(m), np.zeros(m)
    call, strike, t = p["call"][sr], np.nan_to_num(p["strike"]), np.nan_to_num(p["t"])
    credit = np.where(call, strike[lr] > strike[sr], strike[lr] < strike[sr])
    use = (count > 0) & credit
    if not ((use & call).any() and (use & ~call).any()):
        return in_pair, charge
    a, under, mc = p["a"][sr], p["under"][sr], p["mult_code"][sr]
    by = np.lexsort((np.arange(m), -per_contract, t[sr], mc, under, a))
    by = by[use[by]]
    key = np.stack([a[by], under[by], mc[by], t[sr][by]])
    new = np.r_[True, (key[:, 1:] != key[:, :-1]).any(axis=0)]
    group = np.full(m, -1, dtype=np.int64)
    group[by] = np.cumsum(new) - 1
    units = np.where(use, count, 0.0)
    cr, pr, width, inside = _matched_along(by[call[by]], by[~call[by]], group, units, units)
    k = np.stack([strike[sr[cr]], strike[lr[cr]], strike[sr[pr]], strike[lr[pr]]])
    at = np.vstack([np.zeros((1, len(cr))), k])
    value = (
        np.maximum(at - k[1], 0)
        - np.maximum(at - k[0], 0)
        + np.maximum(k[3] - at, 0)
        - np.maximum(k[2] - at, 0)
    ).min(axis=0)
    price, mult = p["price"], p["mult"][sr[cr]]
    marks = (price[lr[cr]] - price[sr[cr]] + price[lr[pr]] - price[sr[pr]]) * mult
    apart = per_contract[cr] + per_contract[pr]
    together = np.minimum(np.maximum(marks - mult * np.minimum(value, 0.0), 0.0), apart)
    lower = inside & (together < apart - 1e-9 * np.maximum(apart, 1.0))
    count_ = np.where(lower, width, 0.0)
    on_call = per_contract[cr] >= per_contract[pr]
    in_pair += np.bincount(cr, count_, m) + np.bincount(pr, count_, m)
    charge += np.bincount(cr, np.where(on_call, count_ * together, 0.0), m)
    charge += np.bincount(pr, np.where(on_call, 0.0, count_ * together), m)
    return in_pair, charge


def _straddles(
    p: dict[str, np.ndarray], left: np.ndarray, per_short: np.ndarray, premium: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Short calls paired with short puts (same account, underlying, multiplier), each side
    by per-contract requirement, largest first: per pair the greater requirement plus the
    other side's premium. Paired contracts per row and each row's part of the charge."""
    n = len(p["q"])
    paired, requirement = np.zeros(n), np.zeros(n)
    opt, q, call = p["is_opt"], p["q"], p["call"]
    sc, sp = opt & call & (q < 0) & (left > 0), opt & ~call & (q < 0) & (left > 0)
    if not (sc.any() and sp.any()):
        return paired, requirement
    group = p["a"].astype(np.int64) * (p["n_inst"] + 1) + p["under"] + 1
    group = np.where(sc | sp, group * (int(p["mult_code"].max()) + 1) + p["mult_code"], -1)
    by = np.lexsort((np.arange(n), -per_short, group))
    new = np.r_[True, group[by][1:] != group[by][:-1]]
    group = np.empty(n, dtype=np.int64)
    group[by] = np.cumsum(new) - 1
    cr, pr, width, inside = _matched_along(by[sc[by]], by[sp[by]], group, left, left)
    count = np.where(inside, width, 0.0)
    greater = per_short[cr] >= per_short[pr]
    on_call = np.where(greater, per_short[cr], premium[cr])
    on_put = np.where(greater, premium[pr], per_short[pr])
    paired += np.bincount(cr, count, n) + np.bincount(pr, count, n)
    requirement += np.bincount(cr, count * on_call, n) + np.bincount(pr, count * on_put, n)
    return paired, requirement


def _short_option(p: dict[str, np.ndarray]) -> np.ndarray:
    """Uncovered requirement of every row as a short option (premium + rate x underlying -
    out of the money, at least premium + 10% x underlying (calls) or strike (puts))."""
    call, size = p["call"], np.abs(p["q"]) * p["mult"]
    s0, k0 = np.nan_to_num(p["spot"]), np.nan_to_num(p["strike"])
    otm = np.where(call, np.maximum(k0 - s0, 0), np.maximum(s0 - k0, 0)) * size
    broad = p["index_option"] & (p["strategy_class"] < 2)  # high_cap_broad, broad
    premium = p["price"] * size
    cash = p["cash"]  # a cash account: 100% at least 100%, held in cash: less the premium
    sign = np.where(cash, -1.0, 1.0)
    base = sign * premium + np.where(cash, 1.0, np.where(broad, 0.15, 0.20)) * s0 * size - otm
    flo = sign * premium + np.where(cash, 1.0, 0.10) * np.where(call, s0, k0) * size
    return np.maximum(base, flo)


def _strategy(p: dict[str, np.ndarray], n_acc: int) -> np.ndarray:
    """Strategy-based requirement per account of the other accounts' rows ``p``."""
    q, opt, call = p["q"], p["is_opt"], p["call"]
    notional = np.abs(q * p["mult"] * p["price"])
    contracts = np.abs(q)
    safe = np.where(contracts > 0, contracts, 1.0)
    uncovered = _short_option(p)
    short_call, short_put = p["short_call"], opt & ~call & (q < 0)
    covered = _covered(p, p["long_eq"], short_call)
    # a margin account's short stock covers its short puts (highest strike first)
    short_eq = p["equity_leg"] & (q < 0) & ~p["cash"]
    covered += _covered(p, short_eq, short_put & ~p["cash"], -1.0)
    share = 1.0 - covered
    long_charge = np.abs(p["price"] * p["mult"])
    paired, spread = _spreads(p, contracts * share, uncovered / safe, long_charge)
    alone = (1.0 - covered) * uncovered - paired * uncovered / safe
    # sec_cash_account has no short_straddle row: a cash account's short options stay alone
    left = np.where((short_call | short_put) & ~p["cash"], contracts * share - paired, 0.0)
    s_paired, straddle = _straddles(p, left, uncovered / safe, long_charge)
    alone = alone - s_paired * uncovered / safe
    gov_rate = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06])[p["gov_bucket"]]
    eq, cash = p["equity_leg"], p["cash"]
    # a cash account's short stock: its market value held in cash, less the same value the
    # set's value deducts: 0
    long_rate = np.where(cash, 1.0, 0.25)
    # FINRA 4210(c): under $5.00 a share, $2.50 a share or 100%; else $5.00 a share or 30%
    low = p["price"] < 5.0
    per_share = np.where(low, 2.5, 5.0) * np.abs(q * p["mult"])
    short_req = np.where(cash, 0.0, np.maximum(np.where(low, 1.0, 0.30) * notional, per_share))
    other_rate = np.where(cash, 1.0, np.where(p["treasury"], gov_rate, 0.25))
    req = np.select(
        [eq & (q > 0), eq & (q < 0), opt & (q > 0), (short_call | short_put) & (covered >= 1.0)],
        [long_rate * notional, short_req, (contracts - paired) * notional / safe, 0.0],
        np.where(short_call | short_put, alone + spread + straddle, other_rate * notional),
    )
    # a cash account's covered call: minus its covered contracts' premium, at most the value
    # of the shares that deliver them (the stock delivers it: no cash held for it)
    size = contracts * p["mult"]
    deliverable = np.nan_to_num(p["spot"]) * size
    credit = np.where(cash & call, -covered * np.minimum(p["price"] * size, deliverable), 0.0)
    # a lot of stock only covers (its haircut is in the value)
    return np.bincount(p["a"], np.where(p["lot"], 0.0, np.maximum(req, 0) + credit), n_acc)


def _with_stock_lots(book: Book, p: dict[str, np.ndarray], skip: np.ndarray) -> dict:
    """``p`` with a cover row per collateral lot of stock naming its ``instrument_id`` that
    margins a strategy-based SEC margin account (not a cash account; ``skip`` the accounts
    decided otherwise): it covers short calls like long stock and is charged nothing (12 CFR
    220.4(b)(4)(ii))."""
    lots, acc, inst = book.collateral, book.accounts, book.instruments
    if "instrument_id" not in lots.columns or not lots["instrument_id"].notna().any():
        return p
    accounts = pd.Index(acc["account_id"])
    a = accounts.get_indexer(lots["pledged_to"].fillna(lots["account_id"]))
    i = pd.Index(inst["instrument_id"]).get_indexer(lots["instrument_id"])
    price = np.where(i >= 0, inst["price"].to_numpy()[i], np.nan)
    mult = np.where(i >= 0, inst["multiplier"].to_numpy()[i], 1.0)
    ok = (
        (a >= 0)
        & (i >= 0)
        & _is(lots["asset"], "STOCK", "ETF")
        & (lots["market_value"].to_numpy() > 0)
        & (price > 0)
    )
    ok &= np.r_[_is(inst["product"], "stock", "etf"), False][i]
    ok &= np.r_[_is(acc["regime"], "SEC") & ~_is(acc["kind"], "cash") & ~skip, False][a]
    if not ok.any():
        return p
    n = int(ok.sum())
    rows = {k: np.zeros(n, dtype=v.dtype) for k, v in p.items() if k != "n_inst"}
    rows["a"] = a[ok].astype(p["a"].dtype)
    rows["q"] = lots["market_value"].to_numpy()[ok] / (price[ok] * mult[ok])
    rows["mult"], rows["price"] = mult[ok], price[ok]
    for k in ("spot", "strike", "vol", "t", "future_range"):
        rows[k] = np.full(n, np.nan)
    rows["long_eq"] = np.ones(n, dtype=bool)
    rows["lot"] = np.ones(n, dtype=bool)
    rows["cover"] = i[ok].astype(p["cover"].dtype)
    rows["under"] = np.full(n, -1, dtype=p["under"].dtype)
    rows["index_class"] = rows["range_class"] = rows["strategy_class"] = np.full(n, NONE)
    out = {k: np.concatenate([v, rows[k]]) for k, v in p.items() if k != "n_inst"}
    out["n_inst"] = p["n_inst"]
    return out


def _house(p: dict[str, np.ndarray], n_acc: int, dco_member: np.ndarray) -> np.ndarray:
    """15c3-1 haircuts per house account of its rows ``p``: rate x |notional|; a future's
    rate its range (index 7%, Treasury 2%, crypto 30%) where the carrier is a member of a
    DCO (``dco_member`` per account), 150% of it otherwise (Appendix B (a)(3)(xiv))."""
    other = np.where(p["equity_leg"], 0.15, 1.0)
    rate = np.where(p["treasury"], HOUSE_RATES[p["house_bucket"]], other)
    future = p["future_range"] * np.where(dco_member[p["a"]], 1.0, 1.5)
    rate = np.where(np.isnan(future), rate, future)
    req = rate * np.abs(p["q"] * p["mult"] * p["price"])
    # a short equity option: 15% of the underlying's value less the out-of-the-money amount,
    # at least 7.5% of it and $2.50 a share delivered (15c3-1's strategy-based deduction)
    shares = np.abs(p["q"]) * p["mult"]
    s0, k0 = np.nan_to_num(p["spot"]), np.nan_to_num(p["strike"])
    otm = np.where(p["call"], np.maximum(k0 - s0, 0), np.maximum(s0 - k0, 0)) * shares
    under = s0 * shares
    option = np.maximum.reduce([0.15 * under - otm, 0.075 * under, 2.5 * shares])
    short_equity_option = p["is_opt"] & ~p["index_option"] & (p["q"] < 0)
    return np.bincount(p["a"], np.where(short_equity_option, option, req), n_acc)


def _dco_member(book: Book) -> np.ndarray:
    """Per account, is its carrier ``member_of`` a party of kind dco."""
    rel, parties = book.relations, book.parties
    dcos = parties.loc[_is(parties["kind"], "dco"), "party_id"]
    member = rel.loc[_is(rel["relation"], "member_of") & rel["dst"].isin(dcos), "src"]
    return np.asarray(book.accounts["carrier_id"].isin(member), dtype=bool)


def floor_sec(book: Book) -> tuple[float, pd.Series]:
    """Seconds taken and the SEC maintenance requirement per margin set (``ms:<account>``)."""
    start = time.perf_counter()
    acc, pos, inst, lots = book.accounts, book.positions, book.instruments, book.collateral
    accounts = pd.Index(acc["account_id"])
    a = accounts.get_indexer(pos["account_id"])
    instruments = pd.Index(inst["instrument_id"])
    i = instruments.get_indexer(pos["instrument_id"])
    # A lot pledged to another account counts in that account's equity.
    margined = accounts.get_indexer(lots["pledged_to"].fillna(lots["account_id"]))
    equity = np.bincount(margined, lots["market_value"].to_numpy(), len(acc))
    equity += np.bincount(a, pos["market_value"].to_numpy(), len(acc))
    eligible = _eligible(book, a, equity)
    sec_acc = _is(acc["regime"], "SEC")
    sec = np.flatnonzero(sec_acc[a] & ~_given_up(book, a, i))
    a, i = a[sec], i[sec]
    p = _rows(book, a, i, pos["quantity"].to_numpy()[sec], pos["market_value"].to_numpy()[sec])
    el = eligible[a]
    house = _is(acc["origin"], "house")[a]
    p["cash"] = _is(acc["kind"], "cash")[a]
    # an option expired before the as-of date is no live option: neither the grid nor the
    # strategy-based method charges it (a house account's rates charge its mark as before)
    expired = p["is_opt"] & (p["t"] < 0) & ~house
    p["q"] = np.where(expired, 0.0, p["q"])
    p["short_call"] &= ~expired
    req = _portfolio({k: v[el] for k, v in p.items() if k != "n_inst"}, len(acc))
    p["lot"] = np.zeros(len(a), dtype=bool)
    other = {k: v if k == "n_inst" else v[~el & ~house] for k, v in p.items()}
    other = _with_stock_lots(book, other, eligible | _is(acc["origin"], "house"))
    req += _strategy(other, len(acc))
    req += _house({k: v[house] for k, v in p.items() if k != "n_inst"}, len(acc), _dco_member(book))
    ids = "ms:" + acc["account_id"].astype("str").to_numpy(dtype=object)[sec_acc]
    return time.perf_counter() - start, pd.Series(req[sec_acc], index=ids)


def _rows(
    book: Book, a: np.ndarray, i: np.ndarray, q: np.ndarray, mv: np.ndarray
) -> dict[str, np.ndarray]:
    """Per SEC position row, the instrument columns both methods read (gathered once)."""
    inst = book.instruments
    mat = inst["maturity"].to_numpy(dtype="datetime64[D]")
    t = (mat - np.datetime64(book.as_of, "D")).astype(float) / 365.0
    product = inst["product"]
    is_opt = inst["is_option"].to_numpy(dtype=bool)
    call = _is(inst["option_type"], "call") & is_opt
    equity_leg = _is(product, "stock", "etf")[i]
    under = pd.Index(inst["instrument_id"]).get_indexer(inst["underlying"])
    index_class = _class_code(inst["index_class"])
    moving = np.where(is_opt & (under >= 0), under, np.arange(len(inst)))
    return {
        "a": a,
        "q": q,
        "mv": mv,
        "n_inst": np.asarray(len(inst)),
        "index_class": index_class[i],
        "range_class": index_class[moving][i],
        # Reg T: an option's own class, its underlying's where its own cell is blank
        "strategy_class": np.where(index_class == NONE, index_class[moving], index_class)[i],
        "mult": inst["multiplier"].to_numpy()[i],
        "price": inst["price"].to_numpy()[i],
        "spot": inst["underlying_price"].to_numpy()[i],
        "strike": inst["strike"].to_numpy()[i],
        "vol": inst["implied_vol"].to_numpy()[i],
        "t": t[i],
        # under each bound (a row on it takes the next bucket); no maturity: the last
        "gov_bucket": np.searchsorted(_calendar_bounds(book.as_of, GOV_MONTHS), t, "right")[i],
        "house_bucket": np.searchsorted(_calendar_bounds(book.as_of, HOUSE_MONTHS), t, "right")[i],
        "call": call[i],
        "cg": pd.factorize(inst["class_group"])[0][i],
        "is_opt": is_opt[i],
        "index_option": _is(product, "index_option")[i],
        "sbs": _is(product, "sbs")[i],
        "equity_leg": equity_leg,
        "treasury": _is(product, *TREASURIES)[i],
        "contract": _is(product, *CONTRACTS)[i],
        "long_eq": equity_leg & (q > 0),
        "short_call": (is_opt & call)[i] & (q < 0),
        "under": under[i],
        "cover": np.where(equity_leg, i, under[i]),
        "mult_code": pd.factorize(inst["multiplier"])[0][i],
        "future_range": np.select(
            [
                _is(product, "index_future"),
                _is(product, "ust_future"),
                _is(product, "crypto_future", "crypto_perpetual"),
            ],
            [0.07, 0.02, 0.30],
            np.nan,
        )[i],
    }
