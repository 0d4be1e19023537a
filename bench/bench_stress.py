"""Benchmark: ``stress`` of a synthetic book under ten scenarios and three rulebooks.

Generates (or reuses, with ``--book``) a synthetic book, then times in this one process:

- ``load``: :func:`load_book` of the written book;
- ``shock``: re-pricing the book under the ten scenarios (:func:`shock_book`);
- ``stress``: :func:`marginlex.engine.stress.run.stress` (re-pricing, then per batch one
  stack of the book and its shocked copies, with its graph and contexts, evaluated under
  every rulebook, and the comparisons);
- with ``--split``, the same work step by step instead, CPU seconds per step: re-pricing,
  stacking (the book's price-independent parts once, then each batch's tiled stack, graph
  and contexts), each rulebook's evaluations, the comparisons; so
  that one rulebook's cost (``stress BOOK --rulebook R``) reads off one run of three.

The issue's target is ten scenarios over the 1M-position book (100k accounts) in under 60 s
under one rulebook; the machine is shared, so the default is 10k accounts (about 100k
positions).

Run: ``uv run --no-sync python bench/bench_stress.py [--accounts N] [--book DIR]
[--rulebook ID ...]``
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

from marginlex.dsl.loader import load_rulebook
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book, load_book, write_book
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.stress.batch import batches, decide_stacked
from marginlex.engine.stress.impact import impact
from marginlex.engine.stress.reprice import shock_book, shocked_frames
from marginlex.engine.stress.run import BATCH_POSITIONS, stress
from marginlex.engine.stress.shocks import Scenario, parse_shock, parse_vol
from marginlex.engine.stress.tiled import base_of, prepare_tiled
from marginlex.engine.synth.generate import synth_book

SCENARIOS = (
    ("spx_down_20", ["class_group=SPX:-20%"], "+10pts"),
    ("spx_up_10", ["class_group=SPX:+10%"], None),
    ("equities_down_30", ["product=stock:-30%", "product=etf:-30%"], "+15pts"),
    ("rates_up_150", ["product=ust_*:+150bp"], None),
    ("rates_down_100", ["product=ust_*:-100bp"], None),
    ("crypto_down_50", ["product=crypto*:-50%", "asset=BTC:-50%", "asset=ETH:-50%"], None),
    ("vol_up_20", [], "+20pts"),
    ("stagflation", ["product=stock:-15%", "product=ust_*:+200bp"], "+8pts"),
    ("tech_down_25", ["class_group=NDX:-25%"], "+12pts"),
    ("small_caps_down_20", ["class_group=RUT:-20%"], None),
)


def scenarios() -> list[Scenario]:
    """The ten benchmark scenarios."""
    out = []
    for name, shocks, vol in SCENARIOS:
        parsed = [parse_shock(s) for s in shocks] + ([parse_vol(vol)] if vol else [])
        out.append(Scenario(name=name, shocks=tuple(parsed)))
    return out


def split(book: Book, rulebooks: list[ResolvedRulebook], chosen: list[Scenario]) -> None:
    """What ``stress`` does, step by step, CPU seconds per step and per rulebook."""
    cpu: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.process_time()
        cpu[name] = cpu.get(name, 0.0) + now - since
        return now

    t = time.process_time()
    frames = [book.contract_frames(), *(shocked_frames(book, s) for s in chosen)]
    t = lap("re-price", t)
    plans = [compile_plan(r, book.as_of) for r in rulebooks]
    decided: list[list[pd.DataFrame]] = [[] for _ in rulebooks]
    base = base_of(book)
    for part in batches([len(f["positions"]) for f in frames], BATCH_POSITIONS):
        stacked = prepare_tiled(base, [frames[k] for k in part], book.as_of)
        t = lap("stack, graph, contexts", t)
        for r, plan, got in zip(rulebooks, plans, decided, strict=True):
            got.extend(decide_stacked(plan, stacked))
            t = lap(f"evaluate {r.id}", t)
        del stacked
    for r, ones in zip(rulebooks, decided, strict=True):
        for s, d in zip(chosen, ones[1:], strict=True):
            impact(s.name, r.id, ones[0], d)
        t = lap(f"compare {r.id}", t)
    shared = cpu["re-price"] + cpu["stack, graph, contexts"]
    for name, took in cpu.items():
        print(f"  {name:<24} {took:8.2f} s CPU")
    for r in rulebooks:
        one = shared + cpu[f"evaluate {r.id}"] + cpu[f"compare {r.id}"]
        print(f"  one rulebook ({r.id}): {one:.1f} s CPU")


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--book", type=Path, default=None, help="reuse a written book folder")
    parser.add_argument("--rulebook", "-r", action="append", default=None)
    parser.add_argument("--split", action="store_true", help="CPU per step and per rulebook")
    args = parser.parse_args()
    ids = tuple(args.rulebook or ("sec", "cftc", "harmonized"))
    rulebooks = [load_rulebook(i) for i in ids]
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.book
        if folder is None:
            folder = Path(tmp) / "book"
            meta, frames = synth_book(args.accounts, args.seed)
            write_book(meta, frames, folder, "parquet")
        start = time.perf_counter()
        book = load_book(folder)
        print(f"load         {time.perf_counter() - start:8.2f} s")
    chosen = scenarios()
    print(
        f"book: {len(book.accounts):,} accounts, {len(book.positions):,} positions, "
        f"{len(book.collateral):,} lots; {len(chosen)} scenarios; rulebooks: {', '.join(ids)}"
    )
    if args.split:
        start = time.perf_counter()
        split(book, rulebooks, chosen)
        took = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
        print(f"split: {took:.1f} s wall; peak RSS {peak:.2f} GiB")
        return
    start = time.perf_counter()
    for s in chosen:
        shock_book(book, s)
    print(f"shock        {time.perf_counter() - start:8.2f} s (ten shocked copies)")
    start, cpu = time.perf_counter(), time.process_time()
    result = stress(book, rulebooks, chosen)
    took, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"stress       {took:8.2f} s wall, {cpu:.2f} s CPU (wall > CPU: a shared machine)")
    for i in result.impacts:
        print(
            f"  {i.scenario:<20} {i.rulebook_id:<11} calls {i.totals.calls:>6,} "
            f"(+{i.calls_created:,} created, {i.calls_grown:,} grown), "
            f"eligibility lost {len(i.eligibility_lost):,}, call delta {i.call_delta:,.2f}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    per = took / len(chosen) / len(rulebooks)
    print(
        f"stress: {took:.1f} s wall, {cpu:.1f} s CPU, {per:.2f} s wall per scenario and "
        f"rulebook; peak RSS {peak:.2f} GiB"
    )


if __name__ == "__main__":
    main()
