"""Evaluate a book on a Dask distributed cluster, one partition per task.

The client cuts the book (:func:`~.partition.split_book`), scatters each partition's rows to
the workers once, and submits one task per rulebook and partition: the worker compiles the
resolved rulebook for the date, evaluates its partition and, when the caller gave one, runs
``after`` on the result (building the partition's traces, say) so that only what the
ledger needs travels back. The client gathers in submission order and merges each
rulebook's evaluations (:func:`~.merge.merge_evaluations`). dask is imported here, inside
the functions, only when a run asks for a cluster. Every client this module opens has
checked that its workers run the client's code, and every task's result carries the stamp of
the worker that made it, checked before it is merged (:mod:`.worker_code`).
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book
from marginlex.engine.distributed.merge import merge_evaluations
from marginlex.engine.distributed.partition import split_book
from marginlex.engine.distributed.worker_code import Stamp, check_stamps, check_workers, stamp
from marginlex.engine.evaluate import evaluate
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.plan.compile import compile_plan

if TYPE_CHECKING:
    from distributed import Client

T = TypeVar("T")
After = Callable[[Evaluation, ResolvedRulebook, Book], T]
"""Work a worker does on its partition's evaluation (picklable: a module-level function)."""
PARTITIONS_PER_WORKER = 2
"""Partitions per worker: a little slack so that one slow partition does not idle the rest."""


class ClusterKind(StrEnum):
    """Where ``--dask`` points: a cluster started for the run, or a running scheduler."""

    LOCAL = "local"
    SCHEDULER = "scheduler"


PROBE_SECONDS = 5.0
"""How long ``--dask tcp://HOST:PORT`` waits for the scheduler's port to accept a connection,
and then for the scheduler's greeting (its handshake, sent before the client says anything)."""
MAX_LOCAL_WORKERS = 64
"""The most workers ``local:N`` starts (``local:999999999999`` once tried to start them all)."""


class ClusterError(ValueError):
    """A ``--dask`` value that names no cluster (with the forms it takes)."""


class ClusterSpec(BaseModel):
    """A parsed ``--dask`` value.

    >>> ClusterSpec.parse("local:2").workers
    2
    >>> ClusterSpec.parse("tcp://10.0.0.5:8786").kind
    <ClusterKind.SCHEDULER: 'scheduler'>
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ClusterKind
    workers: int = 0
    address: str = ""

    @classmethod
    def parse(cls, text: str) -> ClusterSpec:
        """``local:N`` (a LocalCluster of N worker processes) or ``tcp://HOST:PORT``.

        Raises:
            ClusterError: anything else, N below 1, or above :data:`MAX_LOCAL_WORKERS`.
        """
        if text.startswith("tcp://") and len(text) > len("tcp://"):
            return cls(kind=ClusterKind.SCHEDULER, address=text)
        head, _, count = text.partition(":")
        if head == "local" and count.isdigit() and int(count) > MAX_LOCAL_WORKERS:
            raise ClusterError(
                f"--dask {text!r}: at most local:{MAX_LOCAL_WORKERS} (each worker is a process "
                "of this machine holding its partitions): for more, start workers on other "
                "machines and give the scheduler, tcp://HOST:8786"
            )
        if head == "local" and count.isdigit() and int(count) >= 1:
            return cls(kind=ClusterKind.LOCAL, workers=int(count))
        raise ClusterError(
            f"--dask {text!r} names no cluster: give local:N (N worker processes on this "
            "machine, N >= 1) or the scheduler's address, tcp://HOST:8786"
        )

    def check_reachable(self, timeout: float = PROBE_SECONDS) -> None:
        """For a scheduler's address, make sure something listens there before anything
        else is done (the client would retry for 30 s, after the book was read).

        Raises:
            ClusterError: no host and port in the address, nothing accepts a connection, or
                what accepts it says nothing (an HTTP server waits for a request, and the
                client would wait for it without end).
        """
        if self.kind is not ClusterKind.SCHEDULER:
            return
        try:
            parts = urlsplit(self.address)
            host, port = parts.hostname, parts.port
        except ValueError:  # a port that is not a number, or past 65535
            host, port = None, None
        if not host or port is None:
            raise ClusterError(
                f"--dask {self.address!r}: give the scheduler's host and port, tcp://HOST:8786"
            )
        try:
            with socket.create_connection((host, port), timeout=timeout) as sock:
                first = _first_bytes(sock)
        except OSError as exc:
            if isinstance(exc, TimeoutError):
                why = f"no answer within {timeout:g} s"
            else:
                why = (exc.strerror or str(exc)).lower()
            raise ClusterError(
                f"--dask {self.address}: no scheduler answers there ({why}); start one on "
                f"that machine with `dask scheduler --port {port}` and its workers with "
                f"`dask worker {self.address}`, or check the address"
            ) from exc
        if not first:  # an HTTP server waits for a request: the client waited for ever
            raise ClusterError(
                f"--dask {self.address}: what answers there is not a Dask scheduler (it said "
                f"nothing within {timeout:g} s of the connection, where a scheduler greets at "
                "once); a scheduler listens on port 8786 unless told otherwise (8787 is its "
                "dashboard)"
            )


def _first_bytes(sock: socket.socket) -> bytes:
    """What the server sends first, before the client says anything: a Dask scheduler sends
    its handshake at once; b"" when it sends nothing in the socket's timeout or hangs up."""
    try:
        return sock.recv(64)
    except TimeoutError:
        return b""


@contextmanager
def open_client(spec: ClusterSpec, *, processes: bool = True) -> Iterator[Client]:
    """A client of the cluster ``spec`` names; a local cluster is started and stopped here.
    Its workers run the client's code (:func:`~.worker_code.check_workers`).

    Args:
        spec: the cluster.
        processes: local workers as processes (False: threads of this process, for tests).

    Raises:
        WorkerCodeError: a worker runs other code than the client (it is named).
    """
    from distributed import Client, LocalCluster  # noqa: PLC0415

    if spec.kind is ClusterKind.SCHEDULER:
        spec.check_reachable()
        try:
            client = Client(spec.address)  # type: ignore[no-untyped-call]
        except OSError:  # distributed says it well: timed out, connection closed
            raise
        except Exception as exc:  # an HTTP server's reply read as a frame of 3 EiB, say
            raise ClusterError(
                f"--dask {spec.address}: what answers there is not a Dask scheduler (its "
                f"reply is not Dask's protocol: {type(exc).__name__}); a scheduler listens "
                "on port 8786 unless told otherwise (8787 is its dashboard)"
            ) from exc
        with client:
            check_workers(client)
            yield client
        return
    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=spec.workers,
            threads_per_worker=1,
            processes=processes,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        check_workers(client)
        yield client


@dataclass(frozen=True)
class Gathered(Generic[T]):
    """One rulebook's run on a cluster: the merged evaluation, and what ``after`` returned
    for each partition (partition order; each partition's decisions in margin set order)."""

    evaluation: Evaluation
    extras: list[T]


def _evaluate_partition(
    rulebook: ResolvedRulebook, part: Book, as_of: dt.date, after: After[T] | None
) -> tuple[Evaluation, T | None, Stamp]:
    """A worker's task: compile, evaluate its partition, run ``after``; stamped with what
    the worker runs."""
    evaluation = evaluate(compile_plan(rulebook, as_of), part, as_of)
    extra = after(evaluation, rulebook, part) if after is not None else None
    return evaluation, extra, stamp()


def evaluate_on_cluster(
    client: Client,
    rulebooks: Sequence[ResolvedRulebook],
    book: Book,
    as_of: dt.date | None = None,
    after: After[T] | None = None,
) -> list[Gathered[T]]:
    """Evaluate every rulebook on ``book`` on the cluster of ``client``.

    Args:
        client: a dask distributed client (:func:`open_client`).
        rulebooks: resolved rulebooks, in run order.
        book: the whole book (the client cuts it).
        as_of: the as-of date (default: the book's).
        after: run by the worker on each partition's evaluation; its results come back
            in :attr:`Gathered.extras`.

    Returns:
        One :class:`Gathered` per rulebook, in order; each evaluation equals a single
        process's (:mod:`marginlex.engine.distributed.merge`).

    Raises:
        WorkerCodeError: a partition was evaluated by a worker running other code than the
            client (one that joined after the client's check); nothing is merged.
    """
    day = as_of or book.as_of
    for rulebook in rulebooks:  # refuse a bad date before anything is shipped
        compile_plan(rulebook, day)
    workers = max(len(client.scheduler_info(n_workers=-1)["workers"]), 1)
    parts = split_book(book, workers * PARTITIONS_PER_WORKER)
    shipped = client.scatter(parts)  # type: ignore[no-untyped-call]
    futures = [
        [client.submit(_evaluate_partition, rb, part, day, after, pure=False) for part in shipped]
        for rb in rulebooks
    ]
    gathered: list[Gathered[T]] = []
    for row in futures:  # one rulebook at a time, in run order
        results: list[Any] = client.gather(row)  # type: ignore[no-untyped-call]
        check_stamps(made_by for _, _, made_by in results)
        evaluation = merge_evaluations([ev for ev, _, _ in results])
        gathered.append(Gathered(evaluation, [extra for _, extra, _ in results]))
    return gathered
