"""Benchmark a recorded run on a Dask LocalCluster against the same run in one process.

    uv run --no-sync python bench/bench_dask.py [--accounts 20000] [--seed 1] [--workers 2]

What it measures, as a user meets it: the wall time of ``marginlex run BOOK --ledger FILE``
and of ``marginlex run BOOK --ledger FILE --dask local:N`` as new processes on the same
Parquet book (the cluster's start-up included), then checks that both ledgers hold the same
decisions with the same trace hashes. Keep ``--accounts`` at 20,000 on a shared machine.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from marginlex.engine.book.load import write_book
from marginlex.engine.synth.generate import synth_book


def _timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _traces(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT decision_id, trace_sha256 FROM decisions ORDER BY seq")
        return rows.fetchall()


def main() -> None:
    """Write the book, time both runs, compare the ledgers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        meta, frames = synth_book(opts.accounts, opts.seed)
        book = write_book(meta, frames, folder / "book", "parquet")
        run = [sys.executable, "-m", "marginlex", "run", str(book), "--ledger"]
        one = _timed([*run, str(folder / "one.db")])
        many = _timed([*run, str(folder / "many.db"), "--dask", f"local:{opts.workers}"])
        same = _traces(folder / "one.db") == _traces(folder / "many.db")
        print(f"book: {opts.accounts:,} accounts, {len(frames['positions']):,} positions")
        print(f"one process:            {one:6.1f} s")
        print(f"dask local:{opts.workers:<2}          {many:6.1f} s (cluster start-up included)")
        print(f"same decisions and trace hashes: {same}")


if __name__ == "__main__":
    main()
