"""Verify started from the console: a background thread per job, its progress and its result
kept in memory with the time it was started and finished."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from marginlex.audit.ledger.records import RunRecord
from marginlex.audit.ledger.replay import ReplayedTrace
from marginlex.audit.ledger.store import Ledger
from marginlex.audit.ledger.verify import VerifyReport, verify


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class VerifyJob:
    """One verify: what it checks, how far it has come, and what it found."""

    job_id: int
    replay: bool
    entries: int
    runs: int
    started_at: datetime = field(default_factory=_now)
    walked: int = 0
    replayed_runs: int = 0
    finished_at: datetime | None = None
    report: VerifyReport | None = None
    error: str | None = None

    @property
    def running(self) -> bool:
        """Whether the job has not finished yet."""
        return self.finished_at is None

    @property
    def percent(self) -> int:
        """How far it has come: the chain walk, then (with replay) the runs replayed."""
        done = self.walked + (self.replayed_runs if self.replay else 0)
        total = self.entries + (self.runs if self.replay else 0)
        return 100 if not total else min(100, done * 100 // total)


class _Watched(Ledger):
    """The served ledger, counting the chain rows ``verify`` walks into its job."""

    def __init__(self, ledger: Ledger, job: VerifyJob) -> None:
        super().__init__(ledger.engine)
        self.dictionaries = ledger.dictionaries
        self.job = job

    def walk(self, batch: int = 2000) -> Generator[Any, None, None]:
        for row in super().walk(batch):
            self.job.walked += 1
            yield row


KEPT_JOBS = 20
"""How many verify jobs a console keeps to show (the oldest finished ones are forgotten)."""


class VerifyJobs:
    """The verify jobs of one console, newest first."""

    def __init__(self) -> None:
        self.jobs: dict[int, VerifyJob] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def start(self, ledger: Ledger, *, replay: bool) -> VerifyJob:
        """Start a verify (with ``replay``, re-evaluating every run) in the background; one
        of the same kind already running is that job (a reload, a second click or a script
        posting in a loop does not start another walk of the whole ledger)."""
        seq, _ = ledger.head()
        with self._lock:
            running = [j for j in self.jobs.values() if j.running and j.replay == replay]
            if running:
                return running[0]
            job = VerifyJob(next(self._ids), replay, entries=seq, runs=len(ledger.runs()))
            self.jobs[job.job_id] = job
            for old in sorted(self.jobs)[:-KEPT_JOBS]:  # the finished ones beyond the last few
                if not self.jobs[old].running:
                    del self.jobs[old]
        threading.Thread(target=self._run, args=(ledger, job), daemon=True).start()
        return job

    def latest(self) -> VerifyJob | None:
        """The most recently started job that has finished, if any."""
        done = [j for j in self.jobs.values() if not j.running]
        return max(done, key=lambda j: j.job_id) if done else None

    def newest_first(self) -> list[VerifyJob]:
        """Every job, the newest first."""
        return sorted(self.jobs.values(), key=lambda j: -j.job_id)

    def _run(self, ledger: Ledger, job: VerifyJob) -> None:
        watched = _Watched(ledger, job)
        try:
            job.report = verify(watched, replayer=self._replayer(job) if job.replay else None)
        except Exception as exc:  # any failure is the job's result, shown as such
            job.error = f"{type(exc).__name__}: {exc}"
        finally:
            job.finished_at = _now()

    @staticmethod
    def _replayer(job: VerifyJob) -> Any:
        from marginlex.audit.ledger.replay_run import replay_run  # noqa: PLC0415

        def counted(
            run: RunRecord, texts: Mapping[str, str], book: bytes
        ) -> Iterable[ReplayedTrace]:
            yield from replay_run(run, texts, book)
            job.replayed_runs += 1

        return counted
