"""Benchmark: the scenario-grid requirement through marginlex's kernels vs a hand-written floor.

A synthetic book of 1M positions in ~100k margin sets (about 30% options; 2,000
underlyings, each margin set trading up to 3 of them; 10 valuation points) is margined
twice: through ``scenario_grid`` (with every trace column) and through a plain
numpy/pandas implementation of the same computation written below (the floor). Both must
give the same total requirement to the cent. Prints the best wall time of a few runs of
each, their ratio (target <= 2x) and the peak memory traced while each runs.

Run: ``uv run --no-sync python bench/bench_kernels.py [--positions N] [--repeat R]``
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.special import ndtr

from marginlex.engine.kernels.money import round_cents
from marginlex.engine.kernels.scenarios import GridParams, scenario_grid

PARAMS = GridParams(rate=0.0, minimum_per_contract=0.375)


def synthetic_book(n_positions: int, n_sets: int, seed: int = 7) -> pd.DataFrame:
    """Random positions with the columns scenario_grid reads."""
    rng = np.random.default_rng(seed)
    n_under = 2_000
    spot = rng.uniform(5.0, 500.0, n_under)
    high_cap = rng.random(n_under) < 0.05  # +6/-8 for a few broad-index underlyings
    sets = np.sort(rng.integers(0, n_sets, n_positions))
    # Each margin set trades a few underlyings (stock and options on them), as accounts do.
    held = rng.integers(0, n_under, (n_sets, 3))
    under = held[sets, rng.integers(0, 3, n_positions)]
    is_option = rng.random(n_positions) < 0.30
    strike = spot[under] * rng.choice([0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2], n_positions)
    return pd.DataFrame(
        {
            "margin_set": sets,
            "class_group": pd.Series(np.char.add("U", under.astype(str)), dtype="str"),
            "quantity": rng.integers(-50, 51, n_positions).astype(np.float64),
            "multiplier": np.where(is_option, 100.0, 1.0),
            "price": np.where(is_option, spot[under] * 0.05, spot[under]),
            "is_option": is_option,
            "is_call": is_option & (rng.random(n_positions) < 0.5),
            "is_contract": is_option,
            "underlying_price": spot[under],
            "strike": np.where(is_option, strike, np.nan),
            "implied_vol": np.where(is_option, rng.uniform(0.1, 0.8, n_positions), np.nan),
            "t": np.where(is_option, rng.integers(1, 400, n_positions) / 365.0, np.nan),
            "range_up": np.where(high_cap[under], 0.06, 0.15),
            "range_down": np.where(high_cap[under], 0.08, 0.15),
            "n_points": np.full(n_positions, 10, dtype=np.int64),
        }
    )


def kernels(book: pd.DataFrame) -> float:
    """Requirement of the whole book through marginlex's kernel (all trace columns kept)."""
    groups = scenario_grid(book, PARAMS).groups
    per_set = np.bincount(groups["margin_set"].to_numpy(), weights=groups["requirement"].to_numpy())
    return float(round_cents(per_set).sum())


def _bs(
    spot: np.ndarray, strike: np.ndarray, t: np.ndarray, vol: np.ndarray, call: np.ndarray
) -> np.ndarray:
    # All bench rows have t > 0 and vol > 0: no intrinsic branch needed in the floor.
    # sign * (S N(sign d1) - K N(sign d2)) prices calls (+1) and puts (-1) with 2 ndtr calls.
    vst = vol * np.sqrt(t)
    d1 = (np.log(spot / strike) + 0.5 * vol * vol * t) / vst
    sign = np.where(call, 1.0, -1.0)
    return sign * (spot * ndtr(sign * d1) - strike * ndtr(sign * (d1 - vst)))


def floor(book: pd.DataFrame) -> float:
    """The same computation, hand-written: the floor our overhead is measured against."""
    cg, labels = pd.factorize(book["class_group"])
    sets = book["margin_set"].to_numpy()
    group, keys = pd.factorize(sets * len(labels) + cg)
    n_groups = len(keys)
    frac = np.array([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5]) / 5.0
    up, down = book["range_up"].to_numpy(), book["range_down"].to_numpy()
    shock = np.where(frac[None, :] < 0, frac[None, :] * down[:, None], frac[None, :] * up[:, None])
    q, m = book["quantity"].to_numpy(), book["multiplier"].to_numpy()
    opt = book["is_option"].to_numpy()
    pnl = shock * (q * m * book["price"].to_numpy() * ~opt)[:, None]
    o = np.flatnonzero(opt)
    s, k = book["underlying_price"].to_numpy()[o], book["strike"].to_numpy()[o]
    t, v, c = (
        book["t"].to_numpy()[o],
        book["implied_vol"].to_numpy()[o],
        book["is_call"].to_numpy()[o],
    )
    now = _bs(s, k, t, v, c)
    shocked = _bs(s[:, None] * (1 + shock[o]), k[:, None], t[:, None], v[:, None], c[:, None])
    pnl[o] = (shocked - now[:, None]) * (q * m)[o][:, None]
    group_pnl = np.stack(
        [np.bincount(group, weights=pnl[:, j], minlength=n_groups) for j in range(10)], 1
    )
    loss = np.maximum(-group_pnl.min(axis=1), 0.0)
    minimum = np.bincount(group, weights=0.375 * m * np.abs(q) * opt, minlength=n_groups)
    requirement = np.maximum(loss, minimum)
    per_set = np.bincount(np.asarray(keys) // len(labels), weights=requirement)
    return float(round_cents(per_set).sum())


def best_time(
    run: Callable[[pd.DataFrame], float], book: pd.DataFrame, repeat: int
) -> tuple[float, float]:
    times, total = [], 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        total = run(book)
        times.append(time.perf_counter() - start)
    return min(times), total


def peak_mib(run: Callable[[pd.DataFrame], float], book: pd.DataFrame) -> float:
    tracemalloc.start()
    run(book)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=1_000_000)
    parser.add_argument("--sets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    book = synthetic_book(args.positions, args.sets)
    n_groups = len(book.groupby(["margin_set", "class_group"]).size())
    print(
        f"book: {len(book):,} positions, {book['margin_set'].nunique():,} margin sets, "
        f"{n_groups:,} class groups, {int(book['is_option'].sum()):,} options, 10 points"
    )
    t_kernel, total_kernel = best_time(kernels, book, args.repeat)
    t_floor, total_floor = best_time(floor, book, args.repeat)
    print(f"kernels: {t_kernel:7.3f} s  total requirement {total_kernel:,.2f}")
    print(f"floor:   {t_floor:7.3f} s  total requirement {total_floor:,.2f}")
    print(
        f"ratio kernels / floor: {t_kernel / t_floor:.2f}x (target <= 2x); "
        f"same total to the cent: {round(total_kernel, 2) == round(total_floor, 2)}"
    )
    print(f"positions per second (kernels): {len(book) / t_kernel:,.0f}")
    kernel_mib, floor_mib = peak_mib(kernels, book), peak_mib(floor, book)
    print(f"peak traced memory: kernels {kernel_mib:,.0f} MiB, floor {floor_mib:,.0f} MiB")
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the process (book included): {rss_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
