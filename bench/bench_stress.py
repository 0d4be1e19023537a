"""Benchmark: ``stress`` of a synthetic book under ten scenarios and three rulebooks.

Generates (or reuses, with ``--book``) a synthetic book, then times in this one process:

- ``load``: :func:`load_book` of the written book;
- ``shock``: re-pricing the book under the ten scenarios (:func:`shock_book`);
- ``stress``: :func:`marginlex.engine.stress.run.stress` (re-pricing, then per rulebook one
  stacked evaluation of the book and its ten shocked copies, and the comparisons).

The issue's target is ten scenarios over the 1M-position book (100k accounts) in under 60 s;
the machine is shared, so the default is 10k accounts (about 100k positions).

Run: ``uv run --no-sync python bench/bench_stress.py [--accounts N] [--book DIR]
[--rulebook ID ...]``
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import load_book, write_book
from marginlex.engine.stress.reprice import shock_book
from marginlex.engine.stress.run import stress
from marginlex.engine.stress.shocks import Scenario, parse_shock, parse_vol
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


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--book", type=Path, default=None, help="reuse a written book folder")
    parser.add_argument("--rulebook", "-r", action="append", default=None)
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
