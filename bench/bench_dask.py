"""Benchmark runs on a Dask LocalCluster.

    uv run --no-sync python bench/bench_dask.py [--accounts 20000] [--seed 1] [--workers 2]
    uv run --no-sync python bench/bench_dask.py --positions 10000000 --partitions 20 \\
        [--memory-limit 4GiB] [--book DIR] [--ledger FILE]

Without ``--partitions``: the wall time of ``marginlex run BOOK --ledger FILE`` and of
``marginlex run BOOK --ledger FILE --dask local:N`` as new processes on the same Parquet book
(the cluster's start-up included), then checks that both ledgers hold the same decisions with
the same trace hashes. Keep ``--accounts`` at 20,000 on a shared machine.

With ``--partitions K``: a book too big for one process. ``marginlex synth --partitions K``
writes it (a new process, its time and peak memory printed; ``--book DIR`` reuses one
written before), then the three rulebooks are evaluated on a LocalCluster of ``--workers``
worker processes of one thread and ``--memory-limit`` each, every worker reading its own
partitions (:func:`~marginlex.engine.distributed.partition_files.evaluate_files_on_cluster`,
what ``marginlex run BOOK --dask`` does without ``--ledger``: nothing is recorded; with
``--ledger FILE``, recorded there as ``run BOOK --dask --ledger FILE`` records it, the
traces fetched from the workers in ordered slices). Prints the
total time, each worker's peak memory (its resident set's high-water mark, read from
``/proc`` by this process, and the largest sample taken every half second) and whether a
worker was restarted or killed (a worker process that is not the one that started).
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from marginlex.engine.book.load import write_book
from marginlex.engine.synth.generate import synth_book

POSITIONS_PER_ACCOUNT = 9.885
"""About what ``synth`` draws (9,885,283 positions for 1,000,000 accounts)."""


def _timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _traces(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT decision_id, trace_sha256 FROM decisions ORDER BY seq")
        return rows.fetchall()


def compare(accounts: int, seed: int, workers: int) -> None:
    """Write the book, time both recorded runs, compare the ledgers."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        meta, frames = synth_book(accounts, seed)
        book = write_book(meta, frames, folder / "book", "parquet")
        run = [sys.executable, "-m", "marginlex", "run", str(book), "--ledger"]
        one = _timed([*run, str(folder / "one.db")])
        many = _timed([*run, str(folder / "many.db"), "--dask", f"local:{workers}"])
        same = _traces(folder / "one.db") == _traces(folder / "many.db")
        print(f"book: {accounts:,} accounts, {len(frames['positions']):,} positions")
        print(f"one process:            {one:6.1f} s")
        print(f"dask local:{workers:<2}          {many:6.1f} s (cluster start-up included)")
        print(f"same decisions and trace hashes: {same}")


def _high_water(pid: int) -> int:
    """A process's peak resident set (VmHWM), bytes; 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return 0
    line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def _resident(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/statm").read_text(encoding="ascii").split()
    except OSError:
        return 0
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")


class Sampler(threading.Thread):
    """Samples the workers' resident memory every half second, from this process."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak = dict.fromkeys(pids, 0)
        self.hwm = dict.fromkeys(pids, 0)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            for name, pid in self.pids.items():  # a few workers
                self.peak[name] = max(self.peak[name], _resident(pid))
                self.hwm[name] = max(self.hwm[name], _high_water(pid))


def _write_book(opts: argparse.Namespace, folder: Path) -> None:
    accounts = opts.accounts or round(opts.positions / POSITIONS_PER_ACCOUNT)
    args = [sys.executable, "-m", "marginlex", "synth", "--accounts", str(accounts)]
    args += ["--seed", str(opts.seed), "--format", "parquet"]
    args += ["--partitions", str(opts.partitions), "--out", str(folder)]
    start = time.perf_counter()
    child = subprocess.run(args, check=True, capture_output=True, text=True)
    took = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(child.stderr.strip().splitlines()[-1])
    print(f"synth: {took:,.1f} s wall, peak memory {peak / 2**30:.2f} GiB")


def partitioned(opts: argparse.Namespace) -> None:
    """Write (or reuse) a partitioned book and evaluate it on a memory-limited cluster."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(opts.book) if opts.book else Path(tmp) / "book"
        if not opts.book:
            _write_book(opts, folder)
        _evaluate(opts, folder)


def _evaluate(opts: argparse.Namespace, folder: Path) -> None:
    from distributed import Client, LocalCluster  # noqa: PLC0415

    from marginlex.dsl.loader import load_rulebook  # noqa: PLC0415
    from marginlex.engine.distributed.partition_files import (  # noqa: PLC0415
        evaluate_files_on_cluster,
    )
    from marginlex.engine.distributed.worker_code import check_workers  # noqa: PLC0415

    rulebooks = [load_rulebook(name) for name in ("sec", "cftc", "harmonized")]
    start = time.perf_counter()
    with (
        LocalCluster(
            n_workers=opts.workers,
            threads_per_worker=1,
            memory_limit=opts.memory_limit,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        check_workers(client)  # as `run --dask` does: the workers run this code
        up = time.perf_counter()
        pids: dict[str, int] = client.run(os.getpid)
        sampler = Sampler(pids)
        sampler.start()
        if opts.ledger:
            evaluations = _record(client, rulebooks, folder, opts.ledger)
        else:
            gathered = evaluate_files_on_cluster(client, rulebooks, folder, lean=True)
            evaluations = [g.evaluation for g in gathered]
        took = time.perf_counter() - up
        sampler.done.set()
        sampler.join()
        after: dict[str, int] = client.run(os.getpid)
        limit = next(iter(client.scheduler_info()["workers"].values()))["memory_limit"]
    _print(opts, evaluations, pids, after, sampler, (up - start, took, limit))


def _record(client: Any, rulebooks: list[Any], folder: Path, ledger: str) -> list[Any]:
    """Record the run as ``run BOOK --dask --ledger`` does, each phase's time printed."""
    from contextlib import ExitStack  # noqa: PLC0415

    from marginlex.audit.ledger.partitioned_run import PartitionedRun  # noqa: PLC0415

    start = time.perf_counter()
    run = PartitionedRun(ExitStack(), client, folder, rulebooks)
    held = time.perf_counter()
    recorded = run.record(ledger)
    done = time.perf_counter()
    print(
        f"recorded copy of the book and evaluation (traces kept by the workers): "
        f"{held - start:,.1f} s; recording {recorded.decisions:,} decisions: {done - held:,.1f} s"
    )
    return run.evaluations


def _print(
    opts: argparse.Namespace,
    evaluations: list[Any],
    pids: dict[str, int],
    after: dict[str, int],
    sampler: Sampler,
    times: tuple[float, float, int],
) -> None:
    start_up, took, limit = times
    first = evaluations[0]
    print(f"book: {first.book_name}, {first.n_accounts:,} accounts")
    for ev in evaluations:
        s = ev.summary()
        print(f"  {s.rulebook_id}: {s.margin_sets:,} margin sets, {s.total_requirement:,.2f} USD")
    print(f"cluster: {opts.workers} workers, 1 thread each, memory limit {limit / 2**30:.1f} GiB")
    print(f"cluster start-up: {start_up:,.1f} s; evaluation (read, validate, 3 rulebooks, merge)")
    print(f"  {took:,.1f} s wall; total {start_up + took:,.1f} s")
    for name, pid in pids.items():
        print(
            f"worker {name} (pid {pid}): peak {sampler.hwm[name] / 2**30:.2f} GiB "
            f"(largest sample {sampler.peak[name] / 2**30:.2f} GiB)"
        )
    client_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"client peak: {client_peak / 2**30:.2f} GiB")
    print(f"workers restarted or killed: {'no' if after == pids else f'yes ({after})'}")


def main() -> None:
    """Parse the options and run the benchmark they ask for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=0, help="default: 20,000")
    parser.add_argument("--positions", type=int, default=0, help="instead of --accounts")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=0)
    parser.add_argument("--memory-limit", default="4GiB")
    parser.add_argument("--book", default="", help="a partitioned book written before")
    parser.add_argument("--ledger", default="", help="record the run in this ledger")
    opts = parser.parse_args()
    if opts.partitions or opts.book:
        partitioned(opts)
    else:
        compare(opts.accounts or 20_000, opts.seed, opts.workers)


if __name__ == "__main__":
    main()
