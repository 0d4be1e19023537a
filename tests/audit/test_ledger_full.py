"""A ledger the database cannot write to (a full disk, a folder given for the file, a folder
that does not exist): the run is refused in one line, the transaction rolled back, and the
runs already recorded stay whole."""

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


def test_a_folder_or_a_missing_folder_for_the_ledger_says_which(tmp_path: Path) -> None:
    """SQLite said "unable to open database file" for both: a folder given for the ledger
    file, and a file in a folder that does not exist."""
    folder = tmp_path / "runs"
    folder.mkdir()
    result = runner.invoke(app, ["run", "--ledger", str(folder)])
    assert (result.exit_code, result.stderr) == (
        1,
        f"error: nothing recorded: cannot open the ledger {folder}: it is a folder; give the "
        f"path of a ledger file in it, such as {folder / 'ledger.db'}\n",
    )
    missing = tmp_path / "no-such" / "ledger.db"
    result = runner.invoke(app, ["run", "--ledger", str(missing)])
    assert (result.exit_code, result.stderr) == (
        1,
        f"error: nothing recorded: cannot create the ledger {missing}: there is no folder "
        f"{missing.parent}\n",
    )
    assert not missing.parent.exists()
    for command in (["verify"], ["ledger"], ["explain", "d-1"]):
        result = runner.invoke(app, [*command, "--ledger", str(folder)])
        assert result.exit_code == 2, command
        assert "it is a folder; give the path of a ledger file in it" in " ".join(
            result.stderr.split()
        )
