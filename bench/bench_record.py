"""Benchmark recording a real run: 100k accounts under sec, cftc and harmonized, on SQLite.

Targets (issue 5): recording 100k accounts under three rulebooks (about 300k decisions) adds
under 15 s to the run; ``explain`` of one decision from the resulting ledger answers in under
200 ms in-process.

    uv run --no-sync python bench/bench_record.py [--accounts 100000] [--seed 1]

Prints the evaluation time (not part of the target), then the recording split into its
stages: traces (column-wise canonical JSON), hashing and compressing, the book blob, and the
ledger transaction (chain hashes, insert, commit); then explain and verify times.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from marginlex.audit.explain_text import render_text
from marginlex.audit.ledger import Ledger
from marginlex.audit.record import PARALLEL_SETS, out_of_every_scope, prepare_run
from marginlex.audit.recorded_inputs import book_blob
from marginlex.audit.records import RunRecord
from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book import load_book, write_book
from marginlex.engine.graph import AccountGraph
from marginlex.engine.run import run_rulebook
from marginlex.engine.synth import synth_book

RULEBOOKS = ("sec", "cftc", "harmonized")


def _timed(label: str, start: float) -> float:
    took = time.perf_counter() - start
    print(f"  {label}: {took:.1f} s")
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-record-"))
    meta, frames = synth_book(args.accounts, args.seed)
    book = load_book(write_book(meta, frames, tmp / "book", "parquet"))
    print(f"book: {len(book.accounts):,} accounts, {len(book.positions):,} positions")
    start = time.perf_counter()
    graph = AccountGraph(book)
    rulebooks = [load_rulebook(name) for name in RULEBOOKS]
    evaluations = [run_rulebook(r, book, None, graph) for r in rulebooks]
    print(f"evaluate {', '.join(RULEBOOKS)}: {time.perf_counter() - start:.1f} s (not timed below)")

    print("record:")
    total = 0.0
    start = time.perf_counter()
    refs, bundles, decisions = prepare_run(evaluations, rulebooks, book)
    total += _timed(
        f"{len(decisions):,} traces as canonical JSON, sha256 + zstd "
        f"(chunks of {PARALLEL_SETS:,} sets on {os.cpu_count()} worker processes)",
        start,
    )
    start = time.perf_counter()
    blob = book_blob(book)
    total += _timed(f"book blob ({len(blob) / 1e6:.0f} MB)", start)
    path = tmp / "ledger.db"
    start = time.perf_counter()
    ledger = Ledger.open(str(path))
    run = RunRecord(
        as_of=evaluations[0].as_of,
        book_sha256=book.sha256,
        engine_version="bench",
        out_of_scope=out_of_every_scope(evaluations, book),
        rulebooks=tuple(refs),
    )
    ledger.record_run(run, decisions, bundles, blob)
    ledger.close()
    total += _timed("ledger transaction (chain, insert, commit)", start)
    size = sum(len(d.trace_z) for d in decisions) / len(decisions)
    print(
        f"recording added {total:.1f} s for {len(decisions):,} decisions (target < 15 s); "
        f"file {path.stat().st_size / 1e6:,.0f} MB, {size:,.0f} B per compressed trace"
    )
    target = decisions[len(decisions) // 2].decision_id
    del decisions
    _explain(path, target)


def _explain(path: Path, target: str) -> None:
    for attempt in (1, 2):
        start = time.perf_counter()
        ledger = Ledger.open(str(path), create=False)
        text = render_text(ledger.get_decision(target).trace)
        ledger.close()
        took = (time.perf_counter() - start) * 1000
        print(
            f"explain {target} in-process, attempt {attempt} (open + fetch + validate + "
            f"render, {len(text.splitlines())} lines): {took:.0f} ms (target < 200 ms)"
        )
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "marginlex", "explain", target, "--ledger", str(path)],
        check=True,
        capture_output=True,
    )
    print(f"`marginlex explain` as a new process: {(time.perf_counter() - start) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
