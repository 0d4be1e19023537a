"""Real processes: a recorder killed with SIGKILL mid-write, and two recorders at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from audit_helpers import BOOK_BLOB, RULEBOOK_TEXT, run_for, variant

from marginlex.audit.ledger.fork_pool import CAN_FORK
from marginlex.audit.ledger.store import Ledger
from marginlex.audit.ledger.verify import verify
from marginlex.audit.trace.model import DecisionTrace
from marginlex.engine.book.load import write_book
from marginlex.engine.synth.generate import synth_book

WRITER = Path(__file__).with_name("_ledger_writer.py")


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(WRITER), *args], stderr=subprocess.PIPE)


def _wait_for(path: Path, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"writer exited early: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "writer never reached the middle of its run"
        time.sleep(0.02)


def test_sigkill_mid_write_leaves_no_partial_run(
    ledger_url: str, tmp_path: Path, pm_trace: DecisionTrace
) -> None:
    ledger = Ledger.open(ledger_url)
    ledger.record_run(
        run_for(pm_trace, "before"), [variant(pm_trace, "kept")], [RULEBOOK_TEXT], BOOK_BLOB
    )
    marker = tmp_path / "mid-write"
    proc = _spawn(ledger_url, "slow", "400", str(marker))
    _wait_for(marker, proc)  # 300 decisions yielded: 250 inserted in chunks, uncommitted
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    report = verify(ledger)
    assert report.ok, report.problem
    assert (report.entries, report.runs) == (1, 1)
    assert [r.record.run_id for r in ledger.runs()] == ["before"]
    # The ledger still takes the next run, chained to the surviving head.
    ledger.record_run(run_for(pm_trace, "after"), [variant(pm_trace, "next")], [RULEBOOK_TEXT])
    assert verify(ledger).ok and ledger.get_decision("next").row.seq == 2
    ledger.close()


def test_two_concurrent_writers_both_land_with_the_chain_intact(
    ledger_url: str, tmp_path: Path
) -> None:
    Ledger.open(ledger_url).close()
    go = tmp_path / "go"
    writers = [_spawn(ledger_url, "runs", "200", "-", str(go)) for _ in range(2)]
    time.sleep(1.0)  # both are importing and waiting; release them together
    go.write_text("go")
    for proc in writers:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err.decode()
    ledger = Ledger.open(ledger_url)
    report = verify(ledger)
    assert report.ok, report.problem
    assert (report.entries, report.runs) == (1200, 6)
    spans = sorted((r.counts.decisions, r.record.run_id) for r in ledger.runs())
    assert {n for n, _ in spans} == {200}
    # Each run occupies one contiguous block of the chain: no interleaving.
    for run in ledger.runs():
        seqs = [row.seq for row in ledger.query(run=run.record.run_id)]
        assert seqs == list(range(seqs[0], seqs[0] + 200))
    ledger.close()


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (read from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"  # a zombie has exited; its new parent reaps it


@pytest.mark.skipif(not CAN_FORK or not Path("/proc/self/stat").exists(), reason="needs fork")
def test_sigkill_of_marginlex_run_mid_recording_leaves_nothing_and_stops_its_workers(
    tmp_path: Path,
) -> None:
    meta, frames = synth_book(8000, 3)  # about 16k decisions: traces built by workers
    book = write_book(meta, frames, tmp_path / "book", "parquet")
    ledger_path, scratch = tmp_path / "ledger.db", tmp_path / "scratch"
    scratch.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "marginlex", "run", str(book), "--ledger", str(ledger_path)],
        env=os.environ | {"TMPDIR": str(scratch)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    journal = ledger_path.with_name(ledger_path.name + "-journal")
    _wait_for(journal, proc, seconds=120)  # the transaction is open: decisions stream in
    workers = _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    deadline = time.monotonic() + 10  # Linux ends them with their parent, mid-chunk
    while not all(_gone(pid) for pid in workers):
        assert time.monotonic() < deadline, f"workers {workers} still run"
        time.sleep(0.05)
    assert list(scratch.iterdir()) == []  # results travel in unnamed files: none left behind
    ledger = Ledger.open(str(ledger_path))
    report = verify(ledger)
    assert report.ok and (report.entries, report.runs) == (0, 0)
    ledger.close()
