"""A partitioned book (``synth --partitions K``) run on a Dask cluster, each partition read
by a worker: the same decisions and ledger entries as a single process's run of the same
book unpartitioned; a bad partition is refused with every problem by file, row and column."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from marginlex.audit.ledger.gathered import GatheredRun, partition_traces
from marginlex.audit.ledger.record import RunRecorder
from marginlex.audit.ledger.recorded_inputs import book_blob
from marginlex.audit.ledger.store import Ledger
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book, load_book, write_book
from marginlex.engine.book.partitioned import partitioned_sha256, read_layout
from marginlex.engine.book.problems import BookError
from marginlex.engine.distributed.partition_files import evaluate_files_on_cluster
from marginlex.engine.run import run_rulebook
from marginlex.engine.synth.partitioned import write_partitioned_synth

PINNED = {"run_id": "r-00000000000000e7"}


@pytest.fixture(scope="module")
def parted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("parted")
    write_partitioned_synth(240, 5, 3, folder)
    return folder


@pytest.fixture(scope="module")
def whole(parted: Path, tmp_path_factory: pytest.TempPathFactory) -> Book:
    """The same rows unpartitioned, loaded."""
    book = load_book(parted)
    return load_book(write_book(book.meta, book.contract_frames(), tmp_path_factory.mktemp("w")))


def test_a_partitioned_book_read_whole_is_the_book_unpartitioned(parted: Path, whole: Book) -> None:
    book = load_book(parted)
    assert book.sha256 == whole.sha256
    assert len(read_layout(parted).partitions) == 3
    for name in ("accounts", "positions", "collateral"):
        pd.testing.assert_frame_equal(book.frame(name), whole.frame(name))


def _entries(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT * FROM decisions ORDER BY seq").fetchall()


def _record(path: Path, run: Any, decisions: Any, bundles: list[str], book: Book) -> None:
    ledger = Ledger.open(str(path))
    try:
        pinned = run.model_copy(update={**PINNED, "created_at": run.created_at})
        ledger.record_run(pinned, decisions, bundles, book_blob(book))
    finally:
        ledger.close()


def test_workers_read_their_partitions_and_the_ledger_is_a_single_process_run_s(
    client: Any, parted: Path, whole: Book, rulebooks: list[ResolvedRulebook], tmp_path: Path
) -> None:
    gathered = evaluate_files_on_cluster(
        client, rulebooks, parted, after=partition_traces, book=load_book(parted)
    )
    assert all(len(g.extras) == 3 for g in gathered)  # one per partition
    with RunRecorder(whole) as recorder:
        for rb in rulebooks:
            recorder.add(run_rulebook(rb, whole), rb)
        one = recorder.run_record()
        _record(tmp_path / "one.db", one, recorder.decisions(), recorder.bundles, whole)
    many = GatheredRun(whole, gathered, rulebooks)
    run = many.run_record().model_copy(update={"created_at": one.created_at})
    assert run.model_copy(update=PINNED) == one.model_copy(update=PINNED)
    _record(tmp_path / "many.db", run, many.decisions(), many.bundles, whole)
    one_rows, many_rows = _entries(tmp_path / "one.db"), _entries(tmp_path / "many.db")
    assert len(one_rows) == many.decision_count > 200
    assert many_rows == one_rows  # every column: ids, figures, traces, trace and entry hashes


def test_a_lean_run_sends_back_decisions_and_names_the_partitioned_book(
    client: Any, parted: Path, whole: Book, rulebooks: list[ResolvedRulebook]
) -> None:
    gathered = evaluate_files_on_cluster(client, rulebooks, parted, lean=True)
    hashes = [load_book(parted).sha256]  # not the whole book's hash: it was never read whole
    for g, rb in zip(gathered, rulebooks, strict=True):
        one = run_rulebook(rb, whole)
        pd.testing.assert_frame_equal(g.evaluation.decisions, one.decisions)
        assert g.evaluation.summary() == one.summary()
        assert set(g.evaluation.frames) == {"segregation"}
        assert g.evaluation.book_sha256 not in hashes
        assert g.evaluation.book_sha256 == gathered[0].evaluation.book_sha256
    layout = read_layout(parted)
    assert layout.meta is not None
    assert len(partitioned_sha256(layout.meta, ["a", "b"])) == 64


def test_a_bad_partition_is_refused_with_its_file_row_and_column(
    client: Any, parted: Path, rulebooks: list[ResolvedRulebook], tmp_path: Path
) -> None:
    for path in parted.rglob("*.*"):
        (tmp_path / path.relative_to(parted)).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path.relative_to(parted)).write_bytes(path.read_bytes())
    bad = tmp_path / "partitions" / "p00002" / "collateral.parquet"
    frame = pd.read_parquet(bad)
    frame.loc[0, "market_value"] = float("nan")
    frame.to_parquet(bad, index=False)
    with pytest.raises(BookError) as caught:
        evaluate_files_on_cluster(client, rulebooks, tmp_path, lean=True)
    assert [p.render() for p in caught.value.problems] == [
        "partitions/p00002/collateral.parquet:2: market_value: missing value"
    ]
