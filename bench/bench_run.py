"""Benchmark ``marginlex run`` on a synthetic book (default 100k accounts, seed 1).

Prints: load time, per-rulebook evaluation time with full trace frames, wall time for the
three rulebooks, positions per second, peak memory (ru_maxrss); and, for the SEC
requirement alone (eligibility, margin sets, scenario grid / strategy-based, offsets), the
ratio of marginlex's time to a plain numpy/pandas implementation of the same computation
written below (the floor the engine's overhead is measured against).

    uv run --no-sync python bench/bench_run.py [--accounts 100000] [--seed 1] [--book DIR]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr

from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import Book, load_book, write_book
from marginlex.engine.evaluate import evaluate
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.phases.margin import method_of_sets, run_methods
from marginlex.engine.phases.offsets import run_offsets
from marginlex.engine.phases.sets import run_eligibility, run_margin_sets, run_scope
from marginlex.engine.phases.state import RunState
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.plan.context import build_contexts
from marginlex.engine.synth.generate import synth_book

RULEBOOKS = ("sec", "cftc", "harmonized")


def _book(args: argparse.Namespace) -> Book:
    if args.book:
        return load_book(args.book)
    meta, frames = synth_book(args.accounts, args.seed)
    folder = write_book(meta, frames, Path(tempfile.mkdtemp()) / "book", fmt="parquet")
    return load_book(folder)


def _marginlex_sec_requirement(book: Book, graph: AccountGraph) -> tuple[float, float]:
    plan = compile_plan(load_rulebook("sec"), book.as_of)
    start = time.perf_counter()
    state = RunState(plan, book, graph, build_contexts(book, book.as_of, graph))
    run_scope(state)
    run_eligibility(state)
    run_margin_sets(state)
    maintenance = run_offsets(state, run_methods(state, method_of_sets(state)))
    return time.perf_counter() - start, float(maintenance.sum())


def _bs(s: np.ndarray, k: np.ndarray, t: np.ndarray, v: np.ndarray, call: np.ndarray) -> np.ndarray:
    live = (t > 0) & (v > 0)
    ts, vs = np.where(live, t, 1.0), np.where(live, v, 1.0)
    d1 = (np.log(s / k) + 0.5 * vs * vs * ts) / (vs * np.sqrt(ts))
    d2 = d1 - vs * np.sqrt(ts)
    sign = np.where(call, 1.0, -1.0)
    value = sign * (s * ndtr(sign * d1) - k * ndtr(sign * d2))
    intrinsic = np.where(call, np.maximum(s - k, 0), np.maximum(k - s, 0))
    return np.where(live, value, intrinsic)


def _floor_eligible(book: Book, equity: np.ndarray) -> np.ndarray:
    acc = book.accounts
    party = pd.Index(book.parties["party_id"]).get_indexer(acc["owner_id"])
    approval = book.parties["options_approval"].astype("str").to_numpy()[party]
    sbs_accounts = book.positions.loc[book.positions["product"] == "sbs", "account_id"]
    sbs = pd.Index(sbs_accounts.unique()).get_indexer(acc["account_id"]) >= 0
    return np.asarray(
        (acc["kind"].astype("str").to_numpy() == "portfolio_margin")
        & (approval == "uncovered")
        & acc["has_portfolio_margin_agreement"].to_numpy(dtype=bool)
        & (equity >= 100_000)
        & (~sbs | (equity >= 5_000_000))
    )


def _floor_covered(
    acct: np.ndarray,
    under: np.ndarray,
    q: np.ndarray,
    mult: np.ndarray,
    strike: np.ndarray,
    t: np.ndarray,
    long_eq: np.ndarray,
    short_call: np.ndarray,
) -> np.ndarray:
    """Share of each short call covered by long stock of its account (ascending strike)."""
    key = np.where(short_call, under, -1)
    key = np.where(long_eq, np.arange(len(q)) * 0 + under, key)
    shares = q * mult
    group = pd.factorize(pd.MultiIndex.from_arrays([acct, key]))[0]
    avail = np.bincount(group, weights=np.where(long_eq, shares, 0.0))
    rows = np.flatnonzero(short_call)
    order = np.lexsort((t[rows], strike[rows], group[rows]))
    rows = rows[order]
    need = -shares[rows]
    g = group[rows]
    before = np.cumsum(need) - need
    starts = np.r_[True, g[1:] != g[:-1]] if len(g) else np.zeros(0, bool)
    before -= before[starts][np.cumsum(starts) - 1]
    covered = np.clip(avail[g] - before, 0.0, need)
    out = np.zeros(len(q))
    out[rows] = np.where(need > 0, covered / np.where(need > 0, need, 1.0), 0.0)
    return out


def _floor_sec(book: Book) -> tuple[float, float]:
    """The SEC requirement written directly with numpy/pandas (no rulebook, no trace).

    Same computation as the SEC rulebook: eligibility; for eligible accounts the 10-point
    grid (Black-Scholes options), class-group loss vs the $0.375 minimum, index-class
    offsets point by point; for the others the strategy-based rates with covered calls.
    """
    start = time.perf_counter()
    acc, pos, inst = book.accounts, book.positions, book.instruments
    a = pd.Index(acc["account_id"]).get_indexer(pos["account_id"])
    i = pd.Index(inst["instrument_id"]).get_indexer(pos["instrument_id"])
    # A lot pledged to another account counts in that account's equity.
    margined = book.collateral["pledged_to"].fillna(book.collateral["account_id"])
    lots = pd.Index(acc["account_id"]).get_indexer(margined)
    q = pos["quantity"].to_numpy()
    mv = pos["market_value"].to_numpy()
    equity = np.bincount(lots, book.collateral["market_value"].to_numpy(), len(acc))
    equity += np.bincount(a, mv, len(acc))
    eligible = _floor_eligible(book, equity)
    sec = acc["regime"].astype("str").to_numpy() == "SEC"
    keep = sec[a]
    a, i, q = a[keep], i[keep], q[keep]
    el = eligible[a]
    product = inst["product"].astype("str").to_numpy()[i]
    index_class = inst["index_class"].astype("str").to_numpy()[i]
    mult = inst["multiplier"].to_numpy()[i]
    price = inst["price"].to_numpy()[i]
    spot = inst["underlying_price"].to_numpy()[i]
    strike = inst["strike"].to_numpy()[i]
    vol = inst["implied_vol"].to_numpy()[i]
    mat = inst["maturity"].to_numpy(dtype="datetime64[D]")
    t = ((mat - np.datetime64(book.as_of, "D")).astype(float) / 365.0)[i]
    call = (inst["option_type"].astype("str").to_numpy() == "call")[i]
    cg = pd.factorize(inst["class_group"])[0][i]
    is_opt = np.isin(product, ["equity_option", "index_option"])
    # Portfolio margin: 10 points, ranges by index class (widest in a class group).
    up = np.where(
        index_class == "high_cap_broad", 0.06, np.where(index_class == "broad", 0.10, 0.15)
    )
    down = np.where(index_class == "high_cap_broad", 0.08, up)
    codes, _ = pd.factorize(a.astype(np.int64) * (cg.max() + 1) + cg)
    g = codes.max() + 1 if len(codes) else 0
    for r in (up, down):
        widest = np.zeros(g)
        np.maximum.at(widest, codes, np.where(el, r, 0))
        r[:] = widest[codes]
    frac = np.array([-1, -0.8, -0.6, -0.4, -0.2, 0.2, 0.4, 0.6, 0.8, 1.0])[:, None]
    moves = np.where(frac < 0, frac * down, frac * up)
    pnl = moves * np.where(is_opt, 0.0, q * mult * price)
    o = np.flatnonzero(is_opt & el)
    now = _bs(spot[o], strike[o], t[o], vol[o], call[o])
    shocked = _bs(spot[o] * (1 + moves[:, o]), strike[o], t[o], vol[o], call[o])
    pnl[:, o] = (shocked - now) * q[o] * mult[o]
    grid = np.vstack([np.bincount(codes, np.where(el, pnl[j], 0), g) for j in range(10)]).T
    contract = np.isin(
        product, ["equity_option", "index_option", "index_future", "ust_future", "crypto_future"]
    )
    minimum = np.bincount(codes, np.where(el & contract, 0.375 * mult * np.abs(q), 0), g)
    # Product-group offsets by index class (90/75/50%), point by point.
    rates = {"high_cap_broad": 0.9, "broad": 0.75, "narrow": 0.5}
    first = np.zeros(g, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    cls = index_class[first]
    listed = np.isin(cls, list(rates))
    pg_key = np.where(listed, pd.factorize(cls)[0], -1 - np.arange(g))
    pg, pg_first = pd.factorize(a[first].astype(np.int64) * 10**7 + pg_key)[0], None
    del pg_first
    n_pg = pg.max() + 1 if len(pg) else 0
    rate = np.zeros(n_pg)
    rate[pg] = np.where(listed, pd.Series(cls).map(rates).fillna(0).to_numpy(), 0)
    losses = np.vstack([np.bincount(pg, np.maximum(-grid[:, j], 0), n_pg) for j in range(10)])
    gains = np.vstack([np.bincount(pg, np.maximum(grid[:, j], 0), n_pg) for j in range(10)])
    netted = np.maximum((losses - rate * gains).max(axis=0), 0)
    pm = np.maximum(netted, np.bincount(pg, minimum, n_pg)).sum()
    # Strategy based for the ineligible, short calls covered by long stock.
    notional = np.abs(q * mult * price)
    equity_leg = np.isin(product, ["stock", "etf"])
    under = pd.Index(inst["instrument_id"]).get_indexer(inst["underlying"])[i]
    under = np.where(equity_leg, i, under)
    size = np.abs(q) * mult
    s0, k0 = np.nan_to_num(spot), np.nan_to_num(strike)
    otm = np.where(call, np.maximum(k0 - s0, 0), np.maximum(s0 - k0, 0)) * size
    broad = (product == "index_option") & np.isin(index_class, ["high_cap_broad", "broad"])
    base = price * size + np.where(broad, 0.15, 0.20) * s0 * size - otm
    flo = price * size + 0.10 * np.where(call, s0, k0) * size
    short_call = is_opt & call & (q < 0)
    # Government securities: FINRA 4210(e)(2)(A) rates by residual maturity, not 25%.
    treasury = np.isin(product, ["ust_bill", "ust_note", "ust_bond", "ust_strip"])
    gov_rate = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06])[
        np.searchsorted(np.array([1.0, 3.0, 5.0, 10.0, 20.0]), t, side="right")
    ]
    covered = _floor_covered(a, under, q, mult, strike, t, equity_leg & (q > 0), short_call)
    req = np.select(
        [
            equity_leg & (q > 0),
            equity_leg & (q < 0),
            is_opt & (q > 0),
            short_call,
            is_opt & (q < 0),
            treasury,
        ],
        [
            0.25 * notional,
            0.30 * notional,
            notional,
            (1 - covered) * np.maximum(base, flo),
            np.maximum(base, flo),
            gov_rate * notional,
        ],
        0.25 * notional,
    )
    strategy = np.where(~el, np.maximum(req, 0), 0).sum()
    return time.perf_counter() - start, float(pm + strategy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--book", type=Path, default=None, help="an existing book folder")
    args = parser.parse_args()
    start = time.perf_counter()
    book = _book(args)
    graph = AccountGraph(book)
    graph.account_columns()
    loaded = time.perf_counter() - start
    n_pos = len(book.positions)
    print(
        f"book: {len(book.accounts):,} accounts, {n_pos:,} positions, "
        f"{len(book.collateral):,} lots (synth + load + graph {loaded:.1f} s)"
    )
    total = 0.0
    for name in RULEBOOKS:  # three rulebooks
        t0 = time.perf_counter()
        ev = evaluate(compile_plan(load_rulebook(name), book.as_of), book, graph=graph)
        took = time.perf_counter() - t0
        total += took
        rows = sum(len(f) for f in ev.frames.values())
        print(f"{name:>11}: {took:6.2f} s, {len(ev.decisions):,} decisions, {rows:,} trace rows")
    print(
        f"all three rulebooks: {total:.2f} s wall (target < 20 s), "
        f"{3 * n_pos / total:,.0f} positions/s"
    )
    ours, ours_total = _marginlex_sec_requirement(book, graph)
    floor, floor_total = _floor_sec(book)
    print(
        f"SEC requirement: marginlex {ours:.2f} s, numpy floor {floor:.2f} s, "
        f"ratio {ours / floor:.2f}x (target <= 2x); totals {ours_total:,.2f} vs "
        f"{floor_total:,.2f} (must agree)"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"peak memory: {peak:.2f} GiB (target < 6 GiB)")


if __name__ == "__main__":
    main()
