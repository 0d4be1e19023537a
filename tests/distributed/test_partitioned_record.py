"""A recorded run of a partitioned book on a cluster, its traces fetched from the workers
in ordered slices: the same ledger entries, byte for byte, as a single process's run of the
same book, a ledger that verifies, and nothing recorded when fetching fails mid-run."""

from __future__ import annotations

import sqlite3
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from marginlex.audit.ledger import partitioned_run as pr
from marginlex.audit.ledger.chain import PreparedChunk
from marginlex.audit.ledger.fork_pool import WorkerError
from marginlex.audit.ledger.partitioned_run import PartitionedRun
from marginlex.audit.ledger.record import RunRecorder
from marginlex.audit.ledger.recorded_inputs import book_blob
from marginlex.audit.ledger.store import Ledger
from marginlex.audit.ledger.verify import verify
from marginlex.cli import app
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import load_book
from marginlex.engine.distributed import cluster
from marginlex.engine.run import run_rulebook
from marginlex.engine.synth.partitioned import write_partitioned_synth

PINNED = {"run_id": "r-00000000000000e8"}
SMALL_SLICE = 40  # decisions per fetched slice: several slices per partition


def _entries(path: Path, table: str = "decisions", order: str = "seq") -> list[Any]:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()


@pytest.fixture(scope="module", params=[5, 11])
def parted(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp(f"parted{request.param}")
    write_partitioned_synth(240, request.param, 3, folder)
    return folder


def _single_process(parted: Path, rulebooks: list[ResolvedRulebook], path: Path) -> Any:
    whole = load_book(parted)
    with RunRecorder(whole) as recorder:
        for rb in rulebooks:
            recorder.add(run_rulebook(rb, whole), rb)
        run = recorder.run_record().model_copy(update=PINNED)
        ledger = Ledger.open(str(path))
        try:
            digest = recorder.digest.to_bytes()
            ledger.record_run(
                run, recorder.decisions(), recorder.bundles, book_blob(whole), book_digest=digest
            )
        finally:
            ledger.close()
    return run


def test_the_recorded_entries_are_a_single_process_run_s_byte_for_byte(
    client: Any, parted: Path, rulebooks: list[ResolvedRulebook], tmp_path: Path
) -> None:
    one = _single_process(parted, rulebooks, tmp_path / "one.db")
    many = PartitionedRun(ExitStack(), client, parted, rulebooks)
    assert all(len(counts) == 3 for counts in many.held.counts)  # one per partition
    assert sum(map(sum, many.held.counts)) == many.decision_count > 3 * SMALL_SLICE
    run = many.run_record().model_copy(update={**PINNED, "created_at": one.created_at})
    assert run == one  # book sha256, out of scope, rulebooks: the run record's hash too
    ledger = Ledger.open(str(tmp_path / "many.db"))
    try:
        ledger.record_run(
            run,
            many.decisions(SMALL_SLICE),
            many.bundles,
            many.book.blob,
            book_digest=many.book.digest,
        )
        assert verify(ledger).problem is None
    finally:
        ledger.close()
    one_rows, many_rows = _entries(tmp_path / "one.db"), _entries(tmp_path / "many.db")
    assert len(many_rows) == many.decision_count
    assert many_rows == one_rows  # ids, figures, traces, trace, input and entry hashes
    for table, key in (("runs", "run_id"), ("books", "sha256"), ("book_digests", "book_sha256")):
        assert _entries(tmp_path / "many.db", table, key) == _entries(
            tmp_path / "one.db", table, key
        )


def test_a_failure_while_fetching_traces_records_nothing(
    client: Any,
    parted: Path,
    rulebooks: list[ResolvedRulebook],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    location = str(tmp_path / "l.db")
    _single_process(parted, rulebooks, tmp_path / "l.db")
    before = _entries(tmp_path / "l.db"), _entries(tmp_path / "l.db", "runs", "run_id")

    whole = pr.chunk_rows

    def broken(chunk: PreparedChunk, start: int, stop: int) -> PreparedChunk:
        if start >= SMALL_SLICE:  # the first slice of each partition went in
            raise OSError("worker lost its disk")
        return whole(chunk, start, stop)

    monkeypatch.setattr(pr, "SLICE", SMALL_SLICE)
    many = PartitionedRun(ExitStack(), client, parted, rulebooks[:1])
    assert max(many.held.counts[0]) > SMALL_SLICE  # a second slice is asked for
    monkeypatch.setattr(pr, "chunk_rows", broken)
    with pytest.raises(WorkerError, match="worker lost its disk"):
        many.record(location)
    after = _entries(tmp_path / "l.db"), _entries(tmp_path / "l.db", "runs", "run_id")
    assert after == before  # no entry, no run: the transaction rolled back
    ledger = Ledger.open(location)
    try:
        assert verify(ledger).problem is None
    finally:
        ledger.close()


def test_run_dask_ledger_on_a_partitioned_book_records_a_run_that_verifies(
    client: Any, parted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    @contextmanager
    def threads(spec: cluster.ClusterSpec, *, processes: bool = True) -> Any:
        yield client  # the module's in-process cluster, not new worker processes

    monkeypatch.setattr(cluster, "open_client", threads)
    location = str(tmp_path / "cli.db")
    runner = CliRunner()
    args = ["run", str(parted), "--dask", "local:2", "--ledger", location, "-r", "sec"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "recorded run r-" in result.output
    verified = runner.invoke(app, ["verify", "--ledger", location])
    assert verified.exit_code == 0, verified.output
    rows = _entries(tmp_path / "cli.db")
    assert len(rows) > 0 and {r[3] for r in rows} == {"sec"}
