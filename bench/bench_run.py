"""Benchmark ``marginlex run`` on a synthetic book (default 100k accounts, seed 1).

Prints: load time, per-rulebook evaluation time with full trace frames, wall time for the
three rulebooks, positions per second, peak memory (ru_maxrss); and, for the SEC
requirement alone (eligibility, margin sets, scenario grid / strategy-based, offsets), the
ratio of marginlex's time to the same computation hand-written in plain numpy below (sorted
integer group keys, ``np.add.reduceat``, no pandas groupby: the floor the engine's overhead
is measured against).

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
FUTURES = ("index_future", "ust_future", "crypto_future")
INDEX_CLASSES = ("high_cap_broad", "broad", "narrow")  # offsets of 90, 75 and 50%


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


def _runs(key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort rows by an integer group key: the order, each run's start, each sorted row's run.

    The groups of every step below are runs of equal keys in one sorted order, so that
    ``np.add.reduceat`` (and ``np.maximum.reduceat``) reduce them in one pass.
    """
    order = np.argsort(key, kind="stable")
    k = key[order]
    new = np.empty(len(k), dtype=bool)
    new[:1] = True
    np.not_equal(k[1:], k[:-1], out=new[1:])
    return order, np.flatnonzero(new), np.cumsum(new) - 1


def _is(column: pd.Series, *values: str) -> np.ndarray:
    """A text column's rows holding one of ``values``, compared where the text lives (Arrow),
    once per row of the table it belongs to (instruments, not positions)."""
    return np.asarray(column.isin(values).to_numpy(dtype=bool))


def _floor_eligible(book: Book, a: np.ndarray, equity: np.ndarray) -> np.ndarray:
    acc, pos = book.accounts, book.positions
    party = pd.Index(book.parties["party_id"]).get_indexer(acc["owner_id"])
    uncovered = _is(book.parties["options_approval"], "uncovered")[party]
    sbs = np.bincount(a[_is(pos["product"], "sbs")], minlength=len(acc)) > 0
    return np.asarray(
        _is(acc["kind"], "portfolio_margin")
        & uncovered
        & acc["has_portfolio_margin_agreement"].to_numpy(dtype=bool)
        & (equity >= 100_000)
        & (~sbs | (equity >= 5_000_000))
    )


def _floor_portfolio(p: dict[str, np.ndarray]) -> float:
    """Portfolio margin of the eligible accounts' rows ``p``: the 10-point grid per (account,
    class group), its minimum, and the offsets of each (account, index class) product group."""
    if not len(p["a"]):
        return 0.0
    n_cg = int(p["cg"].max()) + 2 if len(p["cg"]) else 1
    order, starts, run = _runs(p["a"].astype(np.int64) * n_cg + p["cg"] + 1)
    s = {name: col[order] for name, col in p.items()}
    cls = s["index_class"]  # INDEX_CLASSES' position, 3: none of them
    up = np.maximum.reduceat(np.array([0.06, 0.10, 0.15, 0.15])[cls], starts)[run]
    down = np.maximum.reduceat(np.array([0.08, 0.10, 0.15, 0.15])[cls], starts)[run]
    frac = np.array([-1, -0.8, -0.6, -0.4, -0.2, 0.2, 0.4, 0.6, 0.8, 1.0])[:, None]
    moves = np.where(frac < 0, frac * down, frac * up)
    opt = s["is_opt"]
    pnl = moves * np.where(opt, 0.0, s["q"] * s["mult"] * s["price"])
    o = np.flatnonzero(opt)
    t = s["t"][o]
    now = _bs(s["spot"][o], s["strike"][o], t, s["vol"][o], s["call"][o])
    shocked = _bs(s["spot"][o] * (1 + moves[:, o]), s["strike"][o], t, s["vol"][o], s["call"][o])
    pnl[:, o] = (shocked - now) * (s["q"][o] * s["mult"][o])
    grid = np.add.reduceat(pnl, starts, axis=1)  # 10 points x class groups
    minimum = np.add.reduceat(
        np.where(s["contract"], 0.375 * s["mult"] * np.abs(s["q"]), 0.0), starts
    )
    # Product groups: the class groups of one account in one listed index class (90/75/50%).
    code = cls[starts]  # the class group's index class
    listed = code < len(INDEX_CLASSES)
    n_g = len(starts)
    pg_key = s["a"][starts].astype(np.int64) * (n_g + 3) + np.where(
        listed, code, 3 + np.arange(n_g)
    )
    order, pg_starts, _ = _runs(pg_key)
    rate = np.array([0.9, 0.75, 0.5, 0.0])[code][order][pg_starts]
    losses = np.add.reduceat(np.maximum(-grid[:, order], 0), pg_starts, axis=1)
    gains = np.add.reduceat(np.maximum(grid[:, order], 0), pg_starts, axis=1)
    netted = np.maximum((losses - rate * gains).max(axis=0), 0)
    return float(np.maximum(netted, np.add.reduceat(minimum[order], pg_starts)).sum())


def _floor_covered(p: dict[str, np.ndarray], under: np.ndarray, n_inst: int) -> np.ndarray:
    """Share of each short call covered by long stock of its account (ascending strike)."""
    shares = p["q"] * p["mult"]
    key = p["a"].astype(np.int64) * (n_inst + 1) + under + 1
    long_eq, short_call = p["long_eq"], p["short_call"]
    order, starts, _ = _runs(key[long_eq])
    held = key[long_eq][order][starts]
    avail = np.add.reduceat(shares[long_eq][order], starts) if len(starts) else np.zeros(0)
    rows = np.flatnonzero(short_call)
    rows = rows[np.lexsort((p["t"][rows], p["strike"][rows], key[rows]))]
    k, need = key[rows], -shares[rows]
    have = np.zeros(len(k))
    if len(held):
        at = np.minimum(np.searchsorted(held, k), len(held) - 1)
        have = np.where(held[at] == k, avail[at], 0.0)
    _, run_starts, run = _runs(k)  # k is sorted: the order is the identity
    before = np.cumsum(need) - need
    before -= before[run_starts][run]
    covered = np.clip(have - before, 0.0, need)
    out = np.zeros(len(shares))
    out[rows] = np.where(need > 0, covered / np.where(need > 0, need, 1.0), 0.0)
    return out


def _floor_strategy(p: dict[str, np.ndarray], under: np.ndarray, n_inst: int) -> float:
    """Strategy-based requirement of the other accounts' rows ``p``, short calls covered."""
    q, mult, price, call = p["q"], p["mult"], p["price"], p["call"]
    notional = np.abs(q * mult * price)
    size = np.abs(q) * mult
    s0, k0 = np.nan_to_num(p["spot"]), np.nan_to_num(p["strike"])
    otm = np.where(call, np.maximum(k0 - s0, 0), np.maximum(s0 - k0, 0)) * size
    broad = p["index_option"] & (p["index_class"] < 2)  # high_cap_broad, broad
    base = price * size + np.where(broad, 0.15, 0.20) * s0 * size - otm
    flo = price * size + 0.10 * np.where(call, s0, k0) * size
    # Government securities: FINRA 4210(e)(2)(A) rates by residual maturity, not 25%.
    treasury = p["treasury"]
    gov_rate = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06])[
        np.searchsorted(np.array([1.0, 3.0, 5.0, 10.0, 20.0]), p["t"], side="right")
    ]
    covered = _floor_covered(p, under, n_inst)
    eq, opt = p["equity_leg"], p["is_opt"]
    req = np.select(
        [eq & (q > 0), eq & (q < 0), opt & (q > 0), p["short_call"], opt & (q < 0), treasury],
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
    return float(np.maximum(req, 0).sum())


def _floor_sec(book: Book) -> tuple[float, float]:
    """The SEC requirement as a performance engineer writes it in plain numpy (no rulebook,
    no trace, no pandas groupby): ids joined to row numbers once, every group a run of one
    sorted integer key, every sum over a group one ``np.add.reduceat`` (or a ``bincount`` where
    the key is already a dense row number).

    Same computation as the SEC rulebook: eligibility; for eligible accounts the 10-point
    grid (Black-Scholes options), class-group loss vs the $0.375 minimum, index-class
    offsets point by point; for the others the strategy-based rates with covered calls.
    """
    start = time.perf_counter()
    acc, pos, inst, lots = book.accounts, book.positions, book.instruments, book.collateral
    accounts = pd.Index(acc["account_id"])
    a = accounts.get_indexer(pos["account_id"])
    i = pd.Index(inst["instrument_id"]).get_indexer(pos["instrument_id"])
    # A lot pledged to another account counts in that account's equity.
    margined = accounts.get_indexer(lots["pledged_to"].fillna(lots["account_id"]))
    equity = np.bincount(margined, lots["market_value"].to_numpy(), len(acc))
    equity += np.bincount(a, pos["market_value"].to_numpy(), len(acc))
    eligible = _floor_eligible(book, a, equity)
    sec = np.flatnonzero(_is(acc["regime"], "SEC")[a])
    a, i = a[sec], i[sec]
    q = pos["quantity"].to_numpy()[sec]
    mat = inst["maturity"].to_numpy(dtype="datetime64[D]")
    t = (mat - np.datetime64(book.as_of, "D")).astype(float) / 365.0
    product = inst["product"]
    is_opt = _is(product, "equity_option", "index_option")[i]
    call = _is(inst["option_type"], "call")[i]
    equity_leg = _is(product, "stock", "etf")[i]
    classes = inst["index_class"]
    p = {
        "a": a,
        "q": q,
        "index_class": np.select([_is(classes, c) for c in INDEX_CLASSES], [0, 1, 2], 3)[i],
        "mult": inst["multiplier"].to_numpy()[i],
        "price": inst["price"].to_numpy()[i],
        "spot": inst["underlying_price"].to_numpy()[i],
        "strike": inst["strike"].to_numpy()[i],
        "vol": inst["implied_vol"].to_numpy()[i],
        "t": t[i],
        "call": call,
        "cg": pd.factorize(inst["class_group"])[0][i],
        "is_opt": is_opt,
        "index_option": _is(product, "index_option")[i],
        "equity_leg": equity_leg,
        "treasury": _is(product, "ust_bill", "ust_note", "ust_bond", "ust_strip")[i],
        "contract": _is(product, *FUTURES, "equity_option", "index_option")[i],
        "long_eq": equity_leg & (q > 0),
        "short_call": is_opt & call & (q < 0),
    }
    el = eligible[a]
    pm = _floor_portfolio({k: v[el] for k, v in p.items()})
    under = pd.Index(inst["instrument_id"]).get_indexer(inst["underlying"])[i]
    under = np.where(equity_leg, i, under)
    other = ~el
    strategy = _floor_strategy({k: v[other] for k, v in p.items()}, under[other], len(inst))
    return time.perf_counter() - start, pm + strategy


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
