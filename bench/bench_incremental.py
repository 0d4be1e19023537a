"""Benchmark an intraday incremental run (issue 16 part 2): ``run --since`` against a full run.

    uv run --no-sync python bench/bench_incremental.py [--accounts 20000] [--changed 0.01]
        [--skip-full]

A synthetic book (sec, cftc and harmonized) is recorded in a fresh SQLite ledger; then the
positions of ``--changed`` of its accounts get one more unit each (a new book), which is
recorded twice more: once in full (unless ``--skip-full``), once with ``--since`` the first
run. Timed in process,
after loading the book (the clock starts once it is loaded), phase by phase: reading the
earlier run (its decisions and recorded book), the book's recorded content (its blob, which
every recorded run writes), the book's digest (every recorded run stores it; a full run
makes both in a worker while the first rulebook is evaluated, and the phase "digest and
blob" is the time the recording then waited for them), the cut (the
earlier book's stored digest compared with today's and the book cut to the changed
components), evaluation, the input hashes, and recording (traces of the sets
decided, the entries carried, the transaction). Printed: each run's wall and CPU seconds (this
process and its trace workers) and phases, the decisions it re-decided and carried, the
ledger's growth, and the load average before and after (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from marginlex.audit.ledger.carry import load_since
from marginlex.audit.ledger.record import RunRecorder
from marginlex.cli.process_memory import keep_freed_memory
from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import Book, load_book, write_book
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.run import run_rulebook
from marginlex.engine.synth.generate import synth_book

RULEBOOKS = ("sec", "cftc", "harmonized")


def _record(book: Book, ledger: Path, since: str | None) -> tuple[str, dict[str, float], int, int]:
    """Record one run; its id, seconds per phase, decided and carried."""
    rulebooks = [load_rulebook(name) for name in RULEBOOKS]
    clock: dict[str, float] = {"evaluate": 0.0}
    cpu = _cpu()
    start = time.perf_counter()
    earlier = load_since(str(ledger), since) if since else None
    clock["read earlier"] = time.perf_counter() - start
    with RunRecorder(book, since=earlier) as recorder:
        _ = recorder.blob
        graphs: dict[int, AccountGraph] = {}
        for rulebook in rulebooks:
            tick = time.perf_counter()
            part = recorder.book_for(rulebook)
            if id(part) not in graphs:
                graphs[id(part)] = AccountGraph(part)
            ev = run_rulebook(rulebook, part, graph=graphs[id(part)])
            clock["evaluate"] += time.perf_counter() - tick
            recorder.add(ev, rulebook)
        tick = time.perf_counter()
        run = recorder.record(str(ledger))
        clock["record"] = time.perf_counter() - tick
        carried = recorder.carried_count
        clock |= {k: v for k, v in recorder.seconds.items()}
    clock["total"] = time.perf_counter() - start
    clock["cpu"] = _cpu() - cpu
    return run.run_id, clock, run.decisions - carried, carried


def _cpu() -> float:
    """CPU seconds of this process and of its children that ended (the trace workers)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _load() -> str:
    return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())


def _phases(clock: dict[str, float]) -> str:
    names = (
        *("read earlier", "digest", "blob", "digest and blob"),
        *("cut", "evaluate", "hash", "record"),
    )
    shown = [f"{name} {clock[name]:.2f}" for name in names if name in clock]
    return f"{clock['total']:6.1f} s wall, {clock['cpu']:5.1f} s CPU ({', '.join(shown)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--skip-full", action="store_true", help="do not record the changed book in full too"
    )
    args = parser.parse_args()
    keep_freed_memory()  # as `marginlex run` does before it evaluates
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
        tick = time.perf_counter()
        noon = load_book(write_book(meta, noon_frames, tmp / "noon", "parquet"))
        loading = time.perf_counter() - tick
        print(
            f"book: {args.accounts:,} accounts, {len(positions):,} positions; "
            f"{len(picked):,} accounts changed ({int(moved.sum()):,} positions); "
            f"loading it (not timed below): {loading:.1f} s"
        )
        print(_load())
        ledger = tmp / "ledger.db"
        first, clock, decided, _ = _record(morning, ledger, None)
        print(f"first run, full:        {_phases(clock)}, {decided:,} decided")
        if not args.skip_full:
            _, clock, decided, _ = _record(noon, ledger, None)
            print(f"changed book, full:     {_phases(clock)}, {decided:,} decided")
        size = ledger.stat().st_size
        _, clock, decided, carried = _record(noon, ledger, first)
        grown = ledger.stat().st_size - size
        print(
            f"changed book, --since:  {_phases(clock)}, {decided:,} decided, "
            f"{carried:,} carried; the ledger grew {grown / 1e6:.1f} MB"
        )
        print(_load())


if __name__ == "__main__":
    main()
