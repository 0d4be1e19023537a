"""A Dask worker that runs other code than the client is refused, by name, before anything
is recorded: at the client's first look (``run --dask``), and at its results when it turned
after that look (a worker joined, or restarted from another install, mid-run).

The worker process is real (a LocalCluster of one process): a worker plugin, registered by
these tests only, replaces in that process the function that says what it runs, so the
worker reports another code fingerprint and another numpy, as an older install would.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from distributed import Client, LocalCluster, WorkerPlugin
from typer.testing import CliRunner

from marginlex.audit.ledger.fork_pool import WorkerError
from marginlex.audit.ledger.gathered import partition_traces
from marginlex.audit.ledger.partitioned_run import PartitionedRun
from marginlex.cli import app
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import load_demo_book
from marginlex.engine.book.partitioned import read_layout
from marginlex.engine.distributed.cluster import evaluate_on_cluster
from marginlex.engine.distributed.partition_files import (
    PartitionTask,
    evaluate_files_on_cluster,
    hold_files_on_cluster,
    run_partition,
)
from marginlex.engine.distributed.worker_code import (
    RunningCode,
    Stamp,
    WorkerCodeError,
    check_stamps,
    check_workers,
    refuse_other_code,
    running_code,
)
from marginlex.engine.synth.partitioned import write_partitioned_synth

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the plugin, to the worker

OTHER_CODE = "0123456789ab" + "0" * 52
OTHER_NUMPY = "1.26.4"
PLUGIN = "other-code"


class OtherCode(WorkerPlugin):
    """Test only: the worker says it runs another fingerprint and another numpy."""

    name = PLUGIN

    def setup(self, worker: Any) -> None:
        from marginlex.engine.distributed import worker_code  # noqa: PLC0415

        self.real = worker_code.running_code
        code = self.real()
        libraries = tuple((n, OTHER_NUMPY if n == "numpy" else v) for n, v in code.libraries)
        other = code.model_copy(update={"code_sha256": OTHER_CODE, "libraries": libraries})
        worker_code.running_code = lambda: other  # type: ignore[assignment]

    def teardown(self, worker: Any) -> None:
        from marginlex.engine.distributed import worker_code  # noqa: PLC0415

        worker_code.running_code = self.real


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[LocalCluster, Client]]:
    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as local,
        Client(local) as client,  # type: ignore[no-untyped-call]
    ):
        yield local, client


@pytest.fixture
def other(cluster: tuple[LocalCluster, Client]) -> Iterator[str]:
    """The cluster's one worker runs other code from here to the test's end; its address."""
    _, client = cluster
    client.register_plugin(OtherCode())  # type: ignore[no-untyped-call]
    yield next(iter(client.scheduler_info()["workers"]))  # type: ignore[no-untyped-call]
    client.unregister_worker_plugin(PLUGIN)  # type: ignore[no-untyped-call]


def _expected(address: str) -> str:
    """The refusal, written out: the client's own version, code and numpy filled in."""
    mine: RunningCode = running_code()
    code, numpy = mine.code_sha256[:12], dict(mine.libraries)["numpy"]
    return (
        f"1 of 1 Dask workers run other code than this client (marginlex {mine.marginlex}, "
        f"code {code}), and a run records the client's:\n"
        f"  {address}: code 0123456789ab (client: {code}), numpy 1.26.4 (client: {numpy})\n"
        "hint: install this client's marginlex checkout, with the same Python minor version "
        "and the same numpy, pandas, scipy, pyarrow, networkx, pydantic, zstandard, on every "
        "worker host, and restart its `dask worker` from that environment; nothing was "
        "recorded"
    )


def _rows(path: Path) -> list[Any]:
    with sqlite3.connect(path) as conn:
        runs = conn.execute("SELECT * FROM runs ORDER BY run_id").fetchall()
        return runs + conn.execute("SELECT * FROM decisions ORDER BY seq").fetchall()


def test_the_same_code_passes_the_check(cluster: tuple[LocalCluster, Client]) -> None:
    check_workers(cluster[1])  # a worker process of this install: nothing to refuse


def test_run_dask_on_a_worker_with_other_code_is_refused_by_name_and_creates_no_ledger(
    cluster: tuple[LocalCluster, Client], other: str, tmp_path: Path
) -> None:
    ledger = tmp_path / "new.db"
    args = ["run", "--dask", cluster[0].scheduler_address, "--ledger", str(ledger), "-r", "sec"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert result.output.lstrip("\n") == f"error: {_expected(other)}\n"  # after the status
    assert not ledger.exists()


def test_run_dask_on_a_worker_with_other_code_leaves_an_existing_ledger_as_it_was(
    cluster: tuple[LocalCluster, Client], other: str, tmp_path: Path
) -> None:
    ledger = tmp_path / "l.db"
    runner = CliRunner()
    first = runner.invoke(app, ["run", "--ledger", str(ledger), "-r", "sec"])
    assert first.exit_code == 0, first.output
    before = _rows(ledger)
    args = ["run", "--dask", cluster[0].scheduler_address, "--ledger", str(ledger), "-r", "sec"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert result.output.lstrip("\n") == f"error: {_expected(other)}\n"  # after the status
    assert _rows(ledger) == before and len(before) > 1


def test_a_worker_that_turns_after_the_check_is_refused_at_its_results(
    cluster: tuple[LocalCluster, Client],
    rulebooks: list[ResolvedRulebook],
    request: pytest.FixtureRequest,
) -> None:
    client = cluster[1]
    check_workers(client)  # as open_client did: the worker ran this code then
    address = request.getfixturevalue("other")  # ... and another from here on
    with pytest.raises(WorkerCodeError) as refused:
        evaluate_on_cluster(client, rulebooks[:1], load_demo_book(), after=partition_traces)
    assert str(refused.value) == _expected(address)


def test_a_partitioned_book_read_by_a_worker_with_other_code_is_refused(
    cluster: tuple[LocalCluster, Client],
    rulebooks: list[ResolvedRulebook],
    other: str,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "parted"
    write_partitioned_synth(60, 3, 2, folder)
    with pytest.raises(WorkerCodeError) as refused:
        evaluate_files_on_cluster(cluster[1], rulebooks[:1], folder)
    assert str(refused.value) == _expected(other)
    with pytest.raises(WorkerCodeError) as recorded:  # the book's recorded copy, first
        PartitionedRun(ExitStack(), cluster[1], folder, rulebooks[:1])
    assert str(recorded.value) == _expected(other)
    with pytest.raises(WorkerCodeError) as held:  # the partitions held for the ledger
        hold_files_on_cluster(
            cluster[1], rulebooks[:1], folder, after=partition_traces, sha256="0" * 64
        )
    assert str(held.value) == _expected(other)


def test_traces_made_again_by_a_worker_with_other_code_record_nothing(
    cluster: tuple[LocalCluster, Client], rulebooks: list[ResolvedRulebook], tmp_path: Path
) -> None:
    # a held partition lost mid-run is made again where the scheduler puts it: here, by the
    # worker once it runs other code (its held runs replaced by ones it made since)
    client = cluster[1]
    folder = tmp_path / "parted"
    write_partitioned_synth(60, 3, 2, folder)
    run = PartitionedRun(ExitStack(), client, folder, rulebooks[:1])  # this code, held
    client.register_plugin(OtherCode())  # type: ignore[no-untyped-call]
    try:
        address = next(iter(client.scheduler_info()["workers"]))  # type: ignore[no-untyped-call]
        layout = read_layout(folder)
        day = run.evaluations[0].as_of
        task = PartitionTask(
            str(folder), rulebooks[:1], day, partition_traces, run.book.sha256, True
        )
        ids = client.scatter(layout.account_ids, broadcast=True)  # type: ignore[no-untyped-call]
        again = [
            client.submit(run_partition, task, str(part), ids, pure=False)
            for part in layout.partitions
        ]
        run.held = replace(run.held, futures=again)
        location = tmp_path / "l.db"
        with pytest.raises(WorkerError) as failed:
            run.record(str(location))
        assert str(failed.value) == _expected(address)
        assert _rows(location) == []  # the transaction rolled back
    finally:
        client.unregister_worker_plugin(PLUGIN)  # type: ignore[no-untyped-call]


def test_a_worker_that_cannot_say_what_it_runs_is_refused_by_name() -> None:
    # Client.run(on_error="return") hands back what the worker raised: marginlex missing there
    missing = Exception("ModuleNotFoundError(\"No module named 'marginlex'\")")
    with pytest.raises(WorkerCodeError) as refused:
        refuse_other_code({"tcp://10.0.0.8:4001": running_code(), "tcp://10.0.0.7:4000": missing})
    mine = running_code()
    assert str(refused.value).splitlines()[:2] == [
        f"1 of 2 Dask workers run other code than this client (marginlex {mine.marginlex}, "
        f"code {mine.code_sha256[:12]}), and a run records the client's:",
        "  tcp://10.0.0.7:4000: cannot say what it runs (Exception: "
        "ModuleNotFoundError(\"No module named 'marginlex'\"))",
    ]


def test_a_worker_with_other_ledger_code_is_refused() -> None:
    # the traces' hashing and compression, the input hashes and a book's recorded copy are
    # made on the workers by audit/ledger code, outside the decision fingerprint
    mine = running_code()
    other = mine.model_copy(update={"ledger_sha256": "fedcba987654" + "0" * 52})
    with pytest.raises(WorkerCodeError) as refused:
        refuse_other_code({"tcp://10.0.0.7:4000": other})
    line = f"  tcp://10.0.0.7:4000: ledger code fedcba987654 (client: {mine.ledger_sha256[:12]})"
    assert str(refused.value).splitlines()[1] == line


def test_one_address_that_stamped_with_two_codes_is_refused() -> None:
    # a worker restarted at the same address from another install, between two results
    mine = running_code()
    other = mine.model_copy(update={"marginlex": "0.0.9"})
    at = "tcp://10.0.0.7:4000"
    for first, then in ((other, mine), (mine, other)):
        with pytest.raises(WorkerCodeError) as refused:
            check_stamps([Stamp(worker=at, code=first), Stamp(worker=at, code=then)])
        line = f"  {at}: marginlex 0.0.9 (client: {mine.marginlex})"
        assert str(refused.value).splitlines()[1] == line
