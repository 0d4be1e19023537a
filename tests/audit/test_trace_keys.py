"""The lookup keys the trace builder gives each decision are those the ledger reads from its
trace's JSON (``keys_of``), on the demo book and a synthetic one, and a recorded run's
``decision_keys`` rows are what rebuilding them from the traces gives."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from marginlex.audit.ledger import record as rec
from marginlex.audit.ledger.decision_keys import KeyKind, backfill, entry_keys, keys_of
from marginlex.audit.ledger.record import RunRecorder, rulebook_ref
from marginlex.audit.ledger.recorded_inputs import rulebook_bundle
from marginlex.audit.ledger.store import Ledger
from marginlex.audit.trace.from_evaluation import TraceColumns, trace_columns
from marginlex.audit.trace.named import FAILED, RULE, TraceKeys
from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import Book, load_book, load_demo_book, write_book
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.run import run_rulebook
from marginlex.engine.synth.generate import synth_book

NAMES = ("sec", "cftc", "harmonized")


def _synth(folder: Path) -> Book:
    meta, frames = synth_book(300, 3)
    return load_book(write_book(meta, frames, folder / "book", "parquet"))


@pytest.fixture(scope="module", params=["demo", "synth"])
def columns(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> list[TraceColumns]:
    folder = tmp_path_factory.mktemp("synth")
    book = load_demo_book() if request.param == "demo" else _synth(folder)
    graph = AccountGraph(book)
    out = []
    for name in NAMES:
        rulebook = load_rulebook(name)
        ev = run_rulebook(rulebook, book, None, graph)
        ref = rulebook_ref(rulebook, ev, rulebook_bundle(rulebook))
        out.append(trace_columns(ev, book, ref, "t"))
    return out


def test_the_builder_and_the_ledger_name_the_kinds_alike() -> None:
    assert (KeyKind.FAILED.value, KeyKind.RULE.value) == (FAILED, RULE)


def test_every_traces_keys_are_those_its_json_names(columns: list[TraceColumns]) -> None:
    kinds: set[str] = set()
    for cols in columns:
        assert cols.keys is not None and len(cols.keys.codes) == len(cols.json)
        for accounts, named, body in zip(
            cols.account_ids, cols.keys.per_trace(), cols.json, strict=True
        ):
            expected = keys_of(0, accounts, body)
            assert entry_keys(0, accounts, named) == expected
            kinds |= {kind for _, kind, _ in expected}
    assert kinds == {"account", "failed", "rule"}  # each kind is met, so each is compared


def test_a_wrong_key_is_caught_before_recording(columns: list[TraceColumns]) -> None:
    cols = columns[0]
    assert cols.keys is not None
    rec.self_check(cols)  # as built: passes
    wrong = [tuple(k for k in s if k != ("rule", "book")) for s in cols.keys.sets]
    broken = replace(cols, keys=TraceKeys(cols.keys.codes, wrong))
    with pytest.raises(rec.TraceSerializationError, match="lookup keys differ"):
        rec.self_check(broken)


def _keys(path: Path) -> list[tuple[int, str, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT seq, kind, key FROM decision_keys ORDER BY 1, 2, 3").fetchall()


def test_recorded_keys_are_those_rebuilt_from_the_traces(tmp_path: Path) -> None:
    book = _synth(tmp_path)
    graph = AccountGraph(book)
    with RunRecorder(book, workers=1) as recorder:
        for name in NAMES:
            rulebook = load_rulebook(name)
            recorder.add(run_rulebook(rulebook, book, None, graph), rulebook)
        recorder.record(str(tmp_path / "l.db"))
    recorded = _keys(tmp_path / "l.db")
    ledger = Ledger.open(str(tmp_path / "l.db"))
    with ledger.transaction() as conn:
        assert backfill(conn) == len({seq for seq, _, _ in recorded})
    ledger.close()
    assert len(recorded) > 1000
    assert _keys(tmp_path / "l.db") == recorded
