"""Jobs run by forked processes that read the parent's memory as it was when they forked.

Recording a run builds every decision's trace from its rulebook's evaluation: gigabytes of
frames at 100,000 accounts. A standard process pool forks its workers once, before the
later rulebooks are evaluated, and would have to be sent each evaluation. A
:class:`ForkPool` forks workers as jobs are submitted instead: a worker inherits, copy-on-
write, every job submitted before it forked, and claims them one at a time, in submission
order, from a counter all workers share, until none it knows of is left. So the traces of
the first rulebook are built on a second CPU while the parent evaluates the next one, and a
worker never waits for the parent to hand it work.

A worker writes each result to an unnamed temporary file and hands the parent its file
descriptor with a short note, over a Unix socket: it never blocks on a parent busy
evaluating, and since the file has no name nothing is left behind, even by a run killed
with SIGKILL (on Linux its workers end with it; elsewhere they stop after their job).
Workers fork only from the thread that calls :meth:`ForkPool.submit`,
:meth:`ForkPool.pump` and :meth:`ForkPool.results`. Where the platform cannot do this (no
fork, no ``SOCK_SEQPACKET``), or while the work not yet claimed weighs less than
``min_fork_weight`` (a small book: not worth a process), the parent runs the jobs itself
when their results are due.

>>> with ForkPool[int](workers=2) as pool:
...     for k in range(4):
...         pool.submit(lambda k=k: k * k)
...     pool.pump()  # results() would fork them too
...     list(pool.results())
[0, 1, 4, 9]
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import multiprocessing
import os
import pickle
import signal
import socket
import tempfile
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any, Generic, TypeVar

import pyarrow as pa

T = TypeVar("T")
CAN_FORK = "fork" in multiprocessing.get_all_start_methods() and hasattr(socket, "SOCK_SEQPACKET")
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or None)
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_NOTE_BYTES = 4096  # a note is a few bytes; a traceback travels in the result file
Note = tuple[str, int, str]  # ("claim" | "ok" | "error", job, traceback)
_FORK: Any = multiprocessing.get_context("fork") if CAN_FORK else None


class WorkerError(RuntimeError):
    """A job failed in a worker process (its traceback), or the process died."""


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class _Worker:
    process: BaseProcess
    sock: socket.socket
    claimed: list[int] = field(default_factory=list)  # jobs claimed and not yet answered


class ForkPool(Generic[T]):
    """Run jobs in forked workers, at most ``workers`` at once; results in submission order.

    Args:
        workers: worker processes at most (default: the usable CPUs).
        min_fork_weight: fork no worker while the unclaimed jobs weigh less than this.
    """

    def __init__(self, workers: int | None = None, *, min_fork_weight: int = 0) -> None:
        self.workers = max(1, workers or usable_cpus())
        self.min_fork_weight = min_fork_weight
        self._jobs: list[Callable[[], T]] = []
        self._weights: list[int] = []
        self._next: Any = _FORK.Value("q", 0, lock=False) if CAN_FORK else None  # next job
        # Guards _next: a POSIX record lock, which the kernel frees if its holder dies.
        self._claim_lock = tempfile.TemporaryFile() if CAN_FORK else None  # noqa: SIM115 - close()
        self._claimed_here = 0  # the same, where there is no fork
        self._running: list[_Worker] = []
        self._answers: dict[int, tuple[str, int]] = {}  # (status, result or traceback file)
        self._given = 0
        self._parent = os.getpid()
        self._closed = False

    def submit(self, job: Callable[[], T], *, weight: int = 1) -> None:
        """Queue a job; it starts when a worker forked after this claims it (see :meth:`pump`).

        Args:
            job: what to run; a worker runs it with the memory of the moment it forked.
            weight: how much work the job is (compared with ``min_fork_weight``).
        """
        self._jobs.append(job)
        self._weights.append(weight)

    def pump(self, limit: int | None = None) -> None:
        """Fork workers for unclaimed jobs while fewer than ``limit`` (default: workers) run.

        Each new worker knows every job submitted so far. Call it after submitting a batch,
        with a ``limit`` one below ``workers`` while the caller goes on computing.
        """
        if self._closed:  # results() would yield nothing: a caller must not take that as all
            raise RuntimeError("the pool is closed")
        cap = max(1, self.workers if limit is None else limit)
        busy = sum(1 for w in self._running if w.process.is_alive())  # exited: slot free
        forks = min(cap - busy, self._unclaimed_worth_forking())
        if forks > 0:
            _release_free_memory()
        for _ in range(forks):
            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            process = _FORK.Process(
                target=self._work, args=(len(self._jobs), theirs, mine), daemon=True
            )
            process.start()
            theirs.close()
            mine.setblocking(False)  # _receive reads what is waiting, never waits itself
            self._running.append(_Worker(process, mine))

    def _unclaimed_worth_forking(self) -> int:
        """How many jobs wait to be claimed (0 when there is no fork, or too little work)."""
        if not CAN_FORK:
            return 0
        unclaimed = self._weights[self._next.value :]
        return len(unclaimed) if sum(unclaimed) >= max(1, self.min_fork_weight) else 0

    def _claim(self, known: int) -> int | None:
        """The next job not yet claimed, if it is one of the first ``known``."""
        if not CAN_FORK:
            index, self._claimed_here = self._claimed_here, self._claimed_here + 1
            return index if index < known else None
        lock = self._claim_lock
        if lock is None:
            raise RuntimeError("the pool is closed")
        fcntl.lockf(lock, fcntl.LOCK_EX)
        try:
            index = int(self._next.value)
            if index >= known:
                return None
            self._next.value = index + 1
            return index
        finally:
            fcntl.lockf(lock, fcntl.LOCK_UN)

    def _work(self, known: int, sock: socket.socket, parents: socket.socket) -> None:
        """A worker: claim a job, run it, hand over the result; until none is left."""
        parents.close()  # the parent's end of our socket, inherited: not ours to hold
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops the workers
        _die_with_parent()
        if os.getppid() != self._parent:  # it died before that took effect
            return
        try:
            while os.getppid() == self._parent and (index := self._claim(known)) is not None:
                _send(sock, ("claim", index, ""))
                self._run(index, sock)
        except OSError:  # the parent is gone (a broken socket): stop
            pass
        finally:
            sock.close()

    def _run(self, index: int, sock: socket.socket) -> None:
        """Run one job; send ("ok", job) with the result file, or ("error", job, traceback)."""
        with tempfile.TemporaryFile() as out:  # unnamed: freed when the last holder closes it
            try:
                pickle.dump(self._jobs[index](), out, protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException:  # every failure goes back to the parent, which raises it
                out.seek(0)
                out.truncate()
                pickle.dump(traceback.format_exc(), out)
                status = "error"
            else:
                status = "ok"
            out.flush()
            _send(sock, (status, index, ""), out.fileno())

    def results(self) -> Iterator[T]:
        """Every job's result, in submission order, forking workers as slots free.

        Raises:
            WorkerError: a job raised (its traceback is the message) or its worker died.
        """
        while self._given < len(self._jobs):
            yield self._result(self._given)

    def _result(self, index: int) -> T:
        while index not in self._answers:
            self.pump()
            if not self._running:  # nothing worth forking for (or no fork): run it here
                if self._claim(len(self._jobs)) != index:  # its worker died unannounced
                    raise WorkerError(f"a trace worker died before it answered job {index}")
                self._given += 1
                try:
                    return self._jobs[index]()
                except Exception as exc:  # reported as a worker's failure would be
                    raise WorkerError(f"building traces failed:\n{traceback.format_exc()}") from exc
            self._listen()
        return self._take(index)

    def _take(self, index: int) -> T:
        status, fd = self._answers.pop(index)
        self._given += 1
        with os.fdopen(fd, "rb") as stored:
            stored.seek(0)
            value = pickle.load(stored)
        if status == "error":
            raise WorkerError(f"a trace worker failed:\n{value}")
        result: T = value
        return result

    def _listen(self) -> None:
        """Wait for notes from the running workers; read all there are; reap those done."""
        by_fd = {w.sock.fileno(): w for w in self._running}
        for fd in wait(list(by_fd)):
            worker = by_fd[fd]  # type: ignore[index]
            while (note := _receive(worker.sock)) is not None:
                if not note:  # the worker closed its end: it is done
                    self._reap(worker)
                    break
                (status, index, _), fds = note
                if status == "claim":
                    worker.claimed.append(index)
                    continue
                worker.claimed.remove(index)
                self._answers[index] = (status, fds[0])

    def _reap(self, worker: _Worker) -> None:
        worker.sock.close()
        worker.process.join()
        self._running.remove(worker)
        code = worker.process.exitcode
        if worker.claimed or code != 0:
            raise WorkerError(f"a trace worker died before it answered (exit code {code})")

    def close(self) -> None:
        """Stop every worker and forget the jobs and results not yet given."""
        self._closed = True
        self._given = len(self._jobs)
        for worker in self._running:
            worker.process.terminate()
        for worker in self._running:
            worker.process.join()
            worker.sock.close()
        self._running.clear()
        for _, fd in self._answers.values():
            os.close(fd)
        self._answers.clear()
        if self._claim_lock is not None:
            self._claim_lock.close()
            self._claim_lock = None

    def __enter__(self) -> ForkPool[T]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _send(sock: socket.socket, note: Note, fd: int | None = None) -> None:
    """One note (one packet), with a file descriptor attached if given."""
    socket.send_fds(sock, [pickle.dumps(note)], [fd] if fd is not None else [])


def _receive(sock: socket.socket) -> tuple[Note, list[int]] | tuple[()] | None:
    """The next note and its descriptors; ``()`` at end of stream; None if none is waiting."""
    try:  # the socket does not block (socket.recv_fds ignores its flags argument)
        data, fds, _, _ = socket.recv_fds(sock, _NOTE_BYTES, 1)
    except BlockingIOError:
        return None
    if not data:
        return ()
    note: Note = pickle.loads(data)
    return note, fds


def _die_with_parent() -> None:
    """Ask Linux to end this worker when its parent dies (elsewhere it ends after its job)."""
    prctl = getattr(_LIBC, "prctl", None)
    if prctl is not None and hasattr(signal, "SIGKILL"):
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _release_free_memory() -> None:
    """Hand memory the parent has freed back to the system before it forks.

    A worker's allocations would otherwise reuse free pages it shares with the parent and
    copy each one on its first write (measured: seconds of system time per worker at 100k
    accounts); a fresh page costs a fault but no copy.
    """
    pa.default_memory_pool().release_unused()  # Arrow's allocator (pandas strings)
    trim = getattr(_LIBC, "malloc_trim", None)  # glibc's heap; other libcs have none
    if trim is not None:
        trim(0)
