"""Benchmark ``marginlex run`` on a synthetic book (default 100k accounts, seed 1).

Prints: load time, per-rulebook evaluation time with full trace frames, wall time for the
three rulebooks, positions per second, peak memory (ru_maxrss); and, for the SEC
requirement alone (eligibility, margin sets, scenario grid / strategy-based, offsets;
decisions only, ``trace=False``, as the floor writes no trace either), the ratio of
marginlex's time to the same computation hand-written in plain numpy in
``bench/sec_floor.py`` (sorted integer group keys, ``np.add.reduceat``, no pandas groupby:
the floor the engine's overhead is measured against; ``tests/bench/test_sec_floor.py``
holds its per-set requirements to marginlex's to the cent).

    uv run --no-sync python bench/bench_run.py [--accounts 100000] [--seed 1] [--book DIR]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from sec_floor import floor_sec

from marginlex.cli.process_memory import keep_freed_memory
from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import Book, load_book, write_book
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.phases.margin import method_of_sets, run_methods
from marginlex.engine.phases.offsets import run_offsets
from marginlex.engine.phases.sets import run_eligibility, run_margin_sets, run_scope
from marginlex.engine.phases.state import RunState
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.plan.context import build_contexts
from marginlex.engine.run import SharedBook
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
    state = RunState(plan, book, graph, build_contexts(book, book.as_of, graph), trace=False)
    run_scope(state)
    run_eligibility(state)
    run_margin_sets(state)
    maintenance = run_offsets(state, run_methods(state, method_of_sets(state)))
    return time.perf_counter() - start, float(maintenance.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--book", type=Path, default=None, help="an existing book folder")
    args = parser.parse_args()
    keep_freed_memory()  # as `marginlex run` does before it evaluates
    start = time.perf_counter()
    book = _book(args)
    shared = SharedBook(book)  # as `marginlex run` evaluates: one graph and contexts
    graph = shared.graph
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
        ev = shared.evaluate(load_rulebook(name))  # the first builds the contexts
        took = time.perf_counter() - t0
        total += took
        rows = sum(len(f) for f in ev.frames.values())
        print(f"{name:>11}: {took:6.2f} s, {len(ev.decisions):,} decisions, {rows:,} trace rows")
    print(
        f"all three rulebooks: {total:.2f} s wall (target: at most 8 s), "
        f"{3 * n_pos / total:,.0f} positions/s"
    )
    cpu = time.process_time()
    ours, ours_total = _marginlex_sec_requirement(book, graph)
    ours_cpu, cpu = time.process_time() - cpu, time.process_time()
    floor, floor_sets = floor_sec(book)
    floor_cpu, floor_total = time.process_time() - cpu, float(floor_sets.sum())
    print(
        f"SEC requirement: marginlex {ours:.2f} s wall / {ours_cpu:.2f} s CPU, numpy floor "
        f"{floor:.2f} s wall / {floor_cpu:.2f} s CPU, ratio {ours / floor:.2f}x wall, "
        f"{ours_cpu / floor_cpu:.2f}x CPU (target <= 2x); totals {ours_total:,.2f} vs "
        f"{floor_total:,.2f} (must agree)"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"peak memory: {peak:.2f} GiB (target < 6 GiB)")


if __name__ == "__main__":
    main()
