"""A ledger the database cannot write to (a full disk): the run is refused in one line, the
transaction rolled back, and the runs already recorded stay whole."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from typer.testing import CliRunner

from marginlex.audit.ledger import store
from marginlex.audit.ledger.store import Ledger
from marginlex.audit.ledger.verify import verify
from marginlex.cli import app

runner = CliRunner()


def test_a_full_disk_records_nothing_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = (tmp_path / "ledger.db").resolve()
    assert runner.invoke(app, ["run", "-r", "cftc", "--ledger", str(path)]).exit_code == 0
    with sqlite3.connect(path) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    made = store._sqlite_engine

    def full_after_one_more_page(location: Path) -> Engine:
        engine = made(location)

        @event.listens_for(engine, "connect")
        def _cap(dbapi_conn: Any, _record: Any) -> None:  # SQLite's disk-full error, on cue
            dbapi_conn.execute(f"PRAGMA max_page_count={pages + 1}")

        return engine

    monkeypatch.setattr(store, "_sqlite_engine", full_after_one_more_page)
    result = runner.invoke(app, ["run", "--ledger", str(path)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: nothing recorded: cannot write the ledger {path}: database or disk is full\n"
    )
    assert "recorded run" not in result.stdout
    monkeypatch.undo()
    ledger = Ledger.open(str(path), create=False)
    try:
        assert len(ledger.runs()) == 1 and verify(ledger).ok
    finally:
        ledger.close()
