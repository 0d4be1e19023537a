"""Benchmark: synthetic book generation, load + validate, and the account-graph columns.

Generates a synthetic book (default 100k accounts, about 1M positions and 200k lots),
writes it, then times, in this one process:

- ``synth``: generating the frames, and writing them (CSV or Parquet);
- ``load+validate``: :func:`load_book` (read, parse, validate, sort, hash, derive);
- ``graph columns``: :meth:`AccountGraph.account_columns` and ``lot_columns``;
- ``networkx graph``: building the networkx multigraph (used only for traces);
- ``margin sets``: one owner's accounts at one carrier, via connected components.

Targets on the 2-core box: synth < 30 s; load+validate+graph columns < 10 s; peak
resident memory < 4 GiB (``ru_maxrss`` of the whole process, printed at the end).

Run: ``uv run --no-sync python bench/bench_books.py [--accounts N] [--format csv|parquet]``
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

from marginlex.engine.book.load import load_book, write_book
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.graph.margin_sets import form_margin_sets
from marginlex.engine.synth.generate import synth_book


def _timed(label: str, fn, *args):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn(*args)
    took = time.perf_counter() - start
    print(f"{label:<28} {took:8.2f} s")
    return out, took


def _same_owner_at_carrier(cols: pd.DataFrame) -> pd.DataFrame:
    key = cols["owner_carrier_key"].reset_index()
    pairs = key.merge(key, on="owner_carrier_key")
    pairs = pairs[pairs["account_id_x"] < pairs["account_id_y"]]
    return pd.DataFrame(
        {
            "account_a": pairs["account_id_x"],
            "account_b": pairs["account_id_y"],
            "reason": "same owner at one carrier",
        }
    )


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "book"
        (meta, frames), t_gen = _timed("synth: generate", synth_book, args.accounts, args.seed)
        _, t_write = _timed(
            f"synth: write {args.format}", write_book, meta, frames, folder, args.format
        )
        del frames
        book, t_load = _timed("load+validate", load_book, folder)
        graph = AccountGraph(book)
        _, t_lots = _timed("graph: lot columns", graph.lot_columns)
        _, t_acc = _timed("graph: account columns", graph.account_columns)
        _, t_nx = _timed("graph: networkx build", lambda: graph.nx)
        cols = graph.account_columns()
        allowed = _same_owner_at_carrier(cols)
        sets, _ = _timed("margin sets (owner@carrier)", form_margin_sets, cols.index, allowed)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
    print(
        f"book: {len(book.accounts):,} accounts, {len(book.positions):,} positions, "
        f"{len(book.collateral):,} lots, {len(book.instruments):,} instruments; "
        f"{sets.membership['margin_set_id'].nunique():,} margin sets"
    )
    print(f"synth total                  {t_gen + t_write:8.2f} s   (target < 30 s)")
    print(f"load+validate+graph columns  {t_load + t_acc + t_lots:8.2f} s   (target < 10 s)")
    print(f"networkx graph (traces only) {t_nx:8.2f} s")
    print(f"peak memory (max RSS)        {peak:8.2f} GiB (target < 4 GiB)")


if __name__ == "__main__":
    main()
