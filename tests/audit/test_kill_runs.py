"""``kill -9`` at random moments of ``marginlex run --ledger``, and four writers at once.

Ten kills on SQLite and ten on PostgreSQL, each at a moment drawn (seeded) from the length
of one whole run: after every kill ``verify`` passes and every run in the ledger is whole
(as many decisions as a complete run records), never a partial one (issue 15). Then four
``marginlex run`` processes record into the same ledger at once, and all four land.

The book is synthetic and small by default, so that the twenty kills stay in the suite;
``MARGINLEX_KILL_ACCOUNTS=5000`` (or 20000) and ``MARGINLEX_KILLS=10`` give the issue's
figures, which take minutes of CPU per backend.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from marginlex.audit.ledger.store import Ledger
from marginlex.audit.ledger.verify import verify
from marginlex.engine.book.load import write_book
from marginlex.engine.synth.generate import synth_book

ACCOUNTS = int(os.environ.get("MARGINLEX_KILL_ACCOUNTS", "300"))
KILLS = int(os.environ.get("MARGINLEX_KILLS", "10"))
WRITERS = 4

pytestmark = pytest.mark.slow  # in the suite (about 150 s of wall time per backend here)


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    meta, frames = synth_book(ACCOUNTS, 15)
    return write_book(meta, frames, tmp_path_factory.mktemp("kill") / "book", "parquet")


def _run(book: Path, ledger_url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "marginlex", "run", str(book), "-r", "sec", "--ledger", ledger_url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _whole_runs(ledger_url: str, decisions: int) -> int:
    """Verify the ledger; every run in it has all its decisions. Returns the runs."""
    ledger = Ledger.open(ledger_url)
    try:
        report = verify(ledger)
        assert report.ok, report.problem
        counts = [r.counts.decisions for r in ledger.runs()]
        assert all(n == decisions for n in counts), f"a partial run: {counts}"
        assert report.entries == decisions * len(counts)
        return len(counts)
    finally:
        ledger.close()


def test_kill_9_at_random_moments_leaves_only_whole_runs(book: Path, ledger_url: str) -> None:
    start = time.monotonic()
    first = _run(book, ledger_url)
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err.decode()
    whole = time.monotonic() - start
    ledger = Ledger.open(ledger_url)
    decisions = ledger.runs()[0].counts.decisions
    ledger.close()
    assert decisions > ACCOUNTS // 2
    backend = "postgresql" if ledger_url.startswith("postgresql") else "sqlite"
    rng = random.Random(f"kill-{ACCOUNTS}-{backend}")  # the same moments on every run
    runs, killed = 1, 0
    for _ in range(KILLS):
        proc = _run(book, ledger_url)
        moment = rng.uniform(0.0, whole * 1.1)
        try:
            proc.wait(timeout=moment)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        now = _whole_runs(ledger_url, decisions)
        if proc.returncode == 0:  # it finished before its moment came: a whole run
            assert now == runs + 1
        else:  # killed: its run is absent, or whole when the kill came after the commit
            assert proc.returncode == -signal.SIGKILL, err.decode()
            assert now in (runs, runs + 1)
            killed += 1
        runs = now
    assert killed >= 1, "no moment fell inside a run: nothing was killed"
    last = _run(book, ledger_url)  # the ledger takes the next run after all that
    assert last.wait(timeout=600) == 0
    assert _whole_runs(ledger_url, decisions) == runs + 1


def test_four_concurrent_writers_all_land(book: Path, ledger_url: str) -> None:
    Ledger.open(ledger_url).close()  # create the tables first: the writers race to insert
    writers = [_run(book, ledger_url) for _ in range(WRITERS)]
    for proc in writers:
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err.decode()
    ledger = Ledger.open(ledger_url)
    decisions = ledger.runs()[0].counts.decisions
    ledger.close()
    assert _whole_runs(ledger_url, decisions) == WRITERS
