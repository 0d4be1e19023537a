"""Benchmark recording a real run: 100k accounts under sec, cftc and harmonized, on SQLite.

Targets (issue 5): recording 100k accounts under three rulebooks adds under 15 s to the
run; ``explain`` of one decision from a ledger of 300k decisions answers in under 200 ms.

    uv run --no-sync python bench/bench_record.py [--accounts 100000] [--seed 1] [--repeat 2]

What it measures, as a user meets it: the wall time of ``marginlex run BOOK`` and of
``marginlex run BOOK --ledger FILE`` as new processes on the same Parquet book (alternated,
``--repeat`` times each); the difference is what recording adds. Then the same run is
recorded a second time into the same ledger (two runs, about 400k decisions) and one
decision is explained from it, in-process and as a new process. ``--stages`` also prints an
in-process breakdown: how long each rulebook's evaluation and trace queueing took, and how
long the ledger transaction waited for the traces after the last evaluation.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from marginlex.audit.explain.text import render_text
from marginlex.audit.ledger.fork_pool import usable_cpus
from marginlex.audit.ledger.record import PARALLEL_SETS, RunRecorder
from marginlex.audit.ledger.store import Ledger
from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import load_book, write_book
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.run import run_rulebook
from marginlex.engine.synth.generate import synth_book

RULEBOOKS = ("sec", "cftc", "harmonized")


def _cli(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "marginlex", *args], check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def _added(book: Path, tmp: Path, repeat: int) -> Path:
    """Time ``run`` without and with ``--ledger``; return the last ledger written."""
    plain, recorded = [], []
    ledger = tmp / "ledger-0.db"
    for k in range(repeat):
        plain.append(_cli("run", str(book)))
        ledger = tmp / f"ledger-{k}.db"
        recorded.append(_cli("run", str(book), "--ledger", str(ledger)))
        print(
            f"  attempt {k + 1}: `marginlex run` {plain[-1]:.1f} s, "
            f"with --ledger {recorded[-1]:.1f} s: recording added {recorded[-1] - plain[-1]:.1f} s"
        )
    best = min(recorded) - min(plain)
    print(
        f"recording added {best:.1f} s (best with - best without; target < 15 s); "
        f"ledger {ledger.stat().st_size / 1e6:,.0f} MB"
    )
    return ledger


def _stages(book_dir: Path) -> None:
    """Evaluate and record in-process, timing what the recording adds after evaluation."""
    book = load_book(book_dir)
    graph = AccountGraph(book)
    with RunRecorder(book) as recorder:
        start = time.perf_counter()
        for name in RULEBOOKS:
            rulebook = load_rulebook(name)
            t0 = time.perf_counter()
            ev = run_rulebook(rulebook, book, None, graph)
            t1 = time.perf_counter()
            recorder.add(ev, rulebook)
            print(
                f"  {name}: evaluate {t1 - t0:.1f} s, check and queue "
                f"{time.perf_counter() - t1:.1f} s ({len(ev.decisions):,} decisions)"
            )
        evaluated = time.perf_counter()
        path = Path(tempfile.mkdtemp(prefix="bench-stages-")) / "ledger.db"
        recorded = recorder.record(str(path))
        done = time.perf_counter()
    print(
        f"  evaluation with queueing {evaluated - start:.1f} s; then traces and the ledger "
        f"transaction {done - evaluated:.1f} s for {recorded.decisions:,} decisions"
    )


def _explain(path: Path) -> None:
    ledger = Ledger.open(str(path), create=False)
    head = ledger.head()[0]
    with ledger.engine.connect() as conn:  # a decision halfway down the chain
        query = text("SELECT decision_id FROM decisions WHERE seq = :seq")
        target = str(conn.execute(query, {"seq": head // 2}).scalar_one())
    ledger.close()
    for attempt in (1, 2):
        start = time.perf_counter()
        ledger = Ledger.open(str(path), create=False)
        rendered = render_text(ledger.get_decision(target).trace)
        ledger.close()
        took = (time.perf_counter() - start) * 1000
        print(
            f"explain {target} from a ledger of {head:,} decisions, in-process attempt "
            f"{attempt} (open + fetch + validate + render, {len(rendered.splitlines())} lines): "
            f"{took:.0f} ms (target < 200 ms)"
        )
    took = _cli("explain", target, "--ledger", str(path)) * 1000
    print(f"`marginlex explain` as a new process: {took:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--stages", action="store_true", help="also time stages in-process")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-record-"))
    meta, frames = synth_book(args.accounts, args.seed)
    book = write_book(meta, frames, tmp / "book", "parquet")
    print(
        f"book: {args.accounts:,} accounts; rulebooks {', '.join(RULEBOOKS)}; traces in "
        f"chunks of {PARALLEL_SETS:,} margin sets on up to {usable_cpus()} worker processes"
    )
    ledger = _added(book, tmp, args.repeat)
    if args.stages:
        print("stages, in-process:")
        _stages(book)
    _cli("run", str(book), "--ledger", str(ledger))  # a second run: about 400k decisions
    _explain(ledger)


if __name__ == "__main__":
    main()
