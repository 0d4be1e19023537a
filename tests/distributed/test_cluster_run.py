"""A run on a Dask cluster decides and records exactly what a single process does."""

from __future__ import annotations

import datetime as dt
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
from marginlex.engine.book.load import Book
from marginlex.engine.distributed.cluster import Gathered, evaluate_on_cluster
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.run import run_rulebook

PINNED = {"run_id": "r-00000000000000d5", "created_at": dt.datetime(2026, 12, 4, tzinfo=dt.UTC)}


@pytest.fixture(scope="module")
def runs(
    client: Any, book: Book, rulebooks: list[ResolvedRulebook]
) -> tuple[list[Evaluation], list[Gathered[Any]]]:
    single = [run_rulebook(rb, book) for rb in rulebooks]
    return single, evaluate_on_cluster(client, rulebooks, book, after=partition_traces)


def _plain(frame: pd.DataFrame, set_ids: pd.Index) -> pd.DataFrame:
    """Rows grouped by margin set (stably), text as plain objects: what a trace reads."""
    codes = set_ids.get_indexer(frame["margin_set_id"].astype("str"))
    out = frame.iloc[codes.argsort(kind="stable")].reset_index(drop=True)
    text = [c for c in out.columns if not pd.api.types.is_numeric_dtype(out[c].dtype)]
    return out.astype(dict.fromkeys(text, object))


def test_decisions_are_the_single_process_frame(runs: Any) -> None:
    single, gathered = runs
    for one, many in zip(single, gathered, strict=True):
        assert len(many.extras) > 1  # it was cut
        pd.testing.assert_frame_equal(many.evaluation.decisions, one.decisions)
        assert many.evaluation.summary() == one.summary()
        assert (many.evaluation.n_accounts, many.evaluation.out_of_scope) == (
            one.n_accounts,
            one.out_of_scope,
        )


def test_trace_frames_hold_the_same_rows_in_each_margin_set(runs: Any) -> None:
    single, gathered = runs
    for one, many in zip(single, gathered, strict=True):
        ids = pd.Index(one.decisions["margin_set_id"].astype("str"))
        assert many.evaluation.frames.keys() == one.frames.keys()
        for name, frame in one.frames.items():
            got = _plain(many.evaluation.frames[name], ids)
            pd.testing.assert_frame_equal(got, _plain(frame, ids), check_categorical=False)


def _entries(path: Path) -> list[tuple[Any, ...]]:
    """Every column of every entry, ``inputs_sha256`` included (the per-set input hash a
    later ``run --since`` compares, made by the workers: a Dask run can be followed)."""
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT * FROM decisions ORDER BY seq").fetchall()


def _record(path: Path, run: Any, decisions: Any, bundles: list[str], book: Book) -> None:
    ledger = Ledger.open(str(path))
    try:
        ledger.record_run(run.model_copy(update=PINNED), decisions, bundles, book_blob(book))
    finally:
        ledger.close()


def test_the_ledger_entries_hashes_included_are_a_single_process_run_s(
    runs: Any, book: Book, rulebooks: list[ResolvedRulebook], tmp_path: Path
) -> None:
    single, gathered = runs
    with RunRecorder(book) as recorder:
        for ev, rb in zip(single, rulebooks, strict=True):
            recorder.add(ev, rb)
        one_run = recorder.run_record()
        _record(tmp_path / "one.db", one_run, recorder.decisions(), recorder.bundles, book)
    many = GatheredRun(book, gathered, rulebooks)
    assert many.run_record().model_copy(update=PINNED) == one_run.model_copy(update=PINNED)
    _record(tmp_path / "many.db", many.run_record(), many.decisions(), many.bundles, book)
    one_rows, many_rows = _entries(tmp_path / "one.db"), _entries(tmp_path / "many.db")
    assert len(one_rows) == sum(len(ev.decisions) for ev in single) > 0
    assert many_rows == one_rows  # every column: ids, figures, trace, trace and entry hashes
    with sqlite3.connect(tmp_path / "many.db") as conn:  # made by the workers, for every set
        missing = conn.execute("SELECT count(*) FROM decisions WHERE inputs_sha256 IS NULL")
        assert missing.fetchone() == (0,)
