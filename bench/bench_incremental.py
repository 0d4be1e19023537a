"""Benchmark an intraday incremental run (issue 16 part 2): ``run --since`` against a full run.

    uv run --no-sync python bench/bench_incremental.py [--accounts 20000] [--changed 0.01]

A synthetic book (sec, cftc and harmonized) is recorded in a fresh SQLite ledger; then the
positions of ``--changed`` of its accounts get one more unit each (a new book), which is
recorded twice more: once in full, once with ``--since`` the first run. Timed in process,
after loading (the book is loaded before the clock starts): evaluation, the input hashes,
building the traces of the sets decided and recording them. Printed: each run's time, the
decisions it re-decided and carried, and the ledger's size after each.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from marginlex.audit.ledger.carry import load_since
from marginlex.audit.ledger.record import RunRecorder
from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import Book, load_book, write_book
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.run import run_rulebook
from marginlex.engine.synth.generate import synth_book

RULEBOOKS = ("sec", "cftc", "harmonized")


def _record(book: Book, ledger: Path, since: str | None) -> tuple[str, float, int, int]:
    """Record one run; its id, seconds taken (evaluation to commit), decided and carried."""
    rulebooks = [load_rulebook(name) for name in RULEBOOKS]
    start = time.perf_counter()
    earlier = load_since(str(ledger), since) if since else None
    graph = AccountGraph(book)
    with RunRecorder(book, since=earlier) as recorder:
        for rulebook in rulebooks:
            recorder.add(run_rulebook(rulebook, book, graph=graph), rulebook)
        run = recorder.record(str(ledger))
        carried = len(recorder.carried)
    return run.run_id, time.perf_counter() - start, run.decisions - carried, carried


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        meta, frames = synth_book(args.accounts, args.seed)
        morning = load_book(write_book(meta, frames, tmp / "morning", "parquet"))
        rng = np.random.default_rng(args.seed)
        accounts = frames["accounts"]["account_id"].to_numpy()
        picked = rng.choice(accounts, size=max(1, int(len(accounts) * args.changed)), replace=False)
        positions = frames["positions"].copy()
        moved = positions["account_id"].isin(picked)
        positions.loc[moved, "quantity"] += 1
        noon_frames = frames | {"positions": positions}
        noon = load_book(write_book(meta, noon_frames, tmp / "noon", "parquet"))
        print(
            f"book: {args.accounts:,} accounts, {len(positions):,} positions; "
            f"{len(picked):,} accounts changed ({int(moved.sum()):,} positions)"
        )
        ledger = tmp / "ledger.db"
        first, seconds, decided, _ = _record(morning, ledger, None)
        print(f"first run, full:           {seconds:6.1f} s, {decided:,} decided")
        _, seconds, decided, _ = _record(noon, ledger, None)
        size = ledger.stat().st_size
        print(f"changed book, full:        {seconds:6.1f} s, {decided:,} decided")
        _, seconds, decided, carried = _record(noon, ledger, first)
        grown = ledger.stat().st_size - size
        print(
            f"changed book, --since:     {seconds:6.1f} s, {decided:,} decided, "
            f"{carried:,} carried; the ledger grew {grown / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    main()
