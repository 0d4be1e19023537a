"""ForkPool: forked jobs read memory as it is when they start; results come back in order."""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from pathlib import Path

import pytest

from marginlex.audit.ledger import fork_pool
from marginlex.audit.ledger.fork_pool import CAN_FORK, ForkPool, WorkerError

pytestmark = pytest.mark.skipif(not CAN_FORK, reason="this platform cannot fork")

STATE: dict[str, int] = {}


def test_a_job_sees_what_the_parent_made_before_submitting_it() -> None:
    with ForkPool[int](workers=2) as pool:
        STATE["first"] = 1
        pool.submit(lambda: STATE["first"])
        pool.pump()
        STATE["second"] = 2  # made after the first worker forked
        pool.submit(lambda: STATE["second"])
        pool.pump()
        assert list(pool.results()) == [1, 2]


def test_a_job_runs_in_a_worker_process_and_results_come_in_order() -> None:
    with ForkPool[tuple[int, int]](workers=2) as pool:
        pool.submit(lambda: (time.sleep(0.3), 1, os.getpid())[1:])
        for k in range(2, 6):
            pool.submit(lambda k=k: (k, os.getpid()))
        results = list(pool.results())
    assert [k for k, _ in results] == [1, 2, 3, 4, 5]
    assert os.getpid() not in {pid for _, pid in results}


def test_small_work_runs_in_the_caller() -> None:
    with ForkPool[int](workers=2, min_fork_weight=100) as pool:
        for _ in range(3):
            pool.submit(os.getpid, weight=10)
        assert list(pool.results()) == [os.getpid()] * 3


def test_results_travel_in_unnamed_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where workers' files would go
    with ForkPool[bytes](workers=2) as pool:
        for k in range(5):
            pool.submit(lambda k=k: bytes([k]) * 1_000_000)
        pool.pump()
        time.sleep(0.5)  # the results wait in their files
        assert list(tmp_path.iterdir()) == []
        assert [r[:2] for r in pool.results()] == [bytes([k, k]) for k in range(5)]


def test_a_failing_job_raises_with_its_traceback() -> None:
    def fail() -> int:
        raise KeyError("no such lot L-9")

    with ForkPool[int](workers=2) as pool:
        pool.submit(lambda: 1)
        pool.submit(fail)
        results = pool.results()
        assert next(results) == 1
        with pytest.raises(
            WorkerError, match=r"(?s)a trace worker failed:.*KeyError: 'no such lot L-9'"
        ):
            next(results)


def test_a_worker_that_dies_is_reported_with_its_exit_code() -> None:
    with ForkPool[int](workers=1) as pool:
        pool.submit(lambda: os._exit(3))
        with pytest.raises(WorkerError, match=r"died before it answered \(exit code 3\)"):
            list(pool.results())


def test_close_stops_running_workers() -> None:
    pool = ForkPool[int](workers=2)
    pool.submit(lambda: (time.sleep(60), 1)[1])
    pool.submit(lambda: (time.sleep(60), 2)[1])
    pool.pump()
    started = time.perf_counter()
    processes = [w.process for w in pool._running]
    pool.close()
    assert time.perf_counter() - started < 10
    assert all(not p.is_alive() for p in processes)
    assert list(pool.results()) == []  # nothing queued any more


def test_a_large_result_comes_back_whole() -> None:
    blob = os.urandom(5_000_000)  # far beyond a pipe's buffer
    with ForkPool[bytes](workers=2) as pool:
        pool.submit(lambda: blob)
        pool.submit(lambda: blob[::-1])
        assert list(pool.results()) == [blob, blob[::-1]]


def test_a_finished_worker_frees_its_slot_for_the_next_batch() -> None:
    with ForkPool[float](workers=2) as pool:
        pool.submit(lambda: 0.0)
        pool.pump(limit=1)
        time.sleep(0.5)  # the first worker has finished and exited; nobody reaped it yet
        pool.submit(time.monotonic)
        pool.pump(limit=1)
        time.sleep(0.5)
        asked = time.monotonic()
        _, started = list(pool.results())
    assert started < asked  # it ran while the caller went on, not when results were asked


def test_a_worker_dying_between_claim_and_note_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_send = fork_pool._send

    def dying_send(sock: object, note: tuple[str, int, str], fd: int | None = None) -> None:
        if note[:2] == ("claim", 1):
            os._exit(137)  # as if killed right after the shared counter moved
        real_send(sock, note, fd)  # type: ignore[arg-type]

    monkeypatch.setattr(fork_pool, "_send", dying_send)
    with ForkPool[int](workers=2) as pool, pytest.raises(WorkerError, match="died before"):
        for k in range(3):
            pool.submit(lambda k=k: (time.sleep(0.2), k)[1])
        pool.pump()
        list(pool.results())


def test_a_worker_killed_while_claiming_does_not_hang_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_claim = ForkPool._claim

    def claim(pool: ForkPool[int], known: int) -> int | None:
        if os.getpid() != pool._parent and pool._next.value == 1 and pool._claim_lock:
            fcntl.lockf(pool._claim_lock, fcntl.LOCK_EX)
            os._exit(137)  # killed holding the claim lock: the kernel releases it
        return real_claim(pool, known)

    monkeypatch.setattr(ForkPool, "_claim", claim)
    with ForkPool[int](workers=2) as pool, pytest.raises(WorkerError, match="exit code 137"):
        for k in range(4):
            pool.submit(lambda k=k: (time.sleep(0.3), k)[1])
        pool.pump()
        list(pool.results())


def test_a_long_error_message_comes_back_whole() -> None:
    ids = ", ".join(f"A{k:06d}" for k in range(30_000))  # far beyond one socket message

    def fail() -> int:
        raise ValueError(f"accounts without a haircut row: {ids}")

    with ForkPool[int](workers=1) as pool, pytest.raises(WorkerError) as caught:
        pool.submit(fail)
        pool.pump()
        list(pool.results())
    assert "ValueError: accounts without a haircut row: A000000" in str(caught.value)
    assert str(caught.value).rstrip().endswith("A029999")


def test_a_failing_inline_job_is_reported_as_a_worker_failure() -> None:
    def fail() -> int:
        raise KeyError("L-9")

    with ForkPool[int](workers=2, min_fork_weight=100) as pool:
        pool.submit(fail)
        with pytest.raises(WorkerError, match=r"(?s)building traces failed:.*KeyError: 'L-9'"):
            list(pool.results())


def test_a_closed_pool_forks_nothing() -> None:
    pool = ForkPool[int](workers=2)
    pool.close()
    pool.submit(lambda: 1)
    with pytest.raises(RuntimeError, match="the pool is closed"):
        pool.pump()
