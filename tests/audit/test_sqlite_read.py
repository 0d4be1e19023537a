"""The ``sqlite3`` reader of one decision (``explain`` on a SQLite ledger) reads what the
SQLAlchemy reader reads: the same stored decision, byte for byte, for every entry of a
ledger with carried entries, of the shipped 1.0 ledger, and of ledgers an insider edited;
and the same errors."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.acting_role import Access
from marginlex.audit.ledger.chain import TraceDecodeError
from marginlex.audit.ledger.entry_read import DecisionNotFoundError
from marginlex.audit.ledger.sqlite_read import _SCHEMA_REVISIONS, SqliteDecisionReader
from marginlex.audit.ledger.store import Ledger, LedgerError
from marginlex.cli import app

SHIPPED = Path(__file__).parents[1] / "data" / "audit" / "ledger_1_0_demo.db"


@pytest.fixture(scope="module")
def carried(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo run, then the same run again with --since: every entry of the second run
    carries one of the first."""
    path = tmp_path_factory.mktemp("carried") / "ledger.db"
    first = CliRunner().invoke(app, ["run", "--ledger", str(path)])
    assert first.exit_code == 0, first.stderr
    (run_a,) = _column(path, "SELECT run_id FROM runs")
    again = CliRunner().invoke(app, ["run", "--ledger", str(path), "--since", run_a])
    assert again.exit_code == 0, again.stderr
    return path


def _column(path: Path, query: str) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute(query)]


def _read(reader: Ledger | SqliteDecisionReader, did: str, run: str | None) -> str:
    """The stored decision as JSON, or the error it raised (type and message)."""
    try:
        return reader.get_decision(did, run).model_dump_json()
    except (DecisionNotFoundError, TraceDecodeError) as exc:
        return f"{type(exc).__name__}: {exc}"


def _sqlalchemy(path: str) -> Ledger:
    return Ledger.open(path, create=False, access=Access.READ)


def _same_everywhere(path: Path, by_set: bool = True) -> int:
    """Both readers agree on every entry by ledger id (with ``by_set``, also by
    RULEBOOK:MARGIN_SET in its run and in the latest run), and on an id no entry has;
    returns how many entries were compared."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT decision_id, rulebook_id, margin_set_id, run_id FROM decisions"
        ).fetchall()
    asks: list[tuple[str, str | None]] = [(did, None) for did, *_ in rows]
    if by_set:
        asks += [(f"{rb}:{ms}", run) for _, rb, ms, run in rows]
        asks += [(f"{rows[0][1]}:{rows[0][2]}", None)]
    asks += [("d-ms:NO_SUCH", None), (rows[0][0], "r-no-such-run")]
    theirs, ours = _sqlalchemy(str(path)), SqliteDecisionReader(str(path))
    try:
        for did, run in asks:
            assert _read(ours, did, run) == _read(theirs, did, run), (did, run)
    finally:
        theirs.close()
        ours.close()
    return len(rows)


def test_both_readers_agree_on_a_ledger_with_carried_entries(carried: Path) -> None:
    carries = _column(carried, "SELECT seq FROM decisions WHERE carried_from IS NOT NULL")
    assert len(carries) > 0
    assert _same_everywhere(carried) == 2 * len(carries)
    stored = SqliteDecisionReader(str(carried)).get_decision(_column(carried, _LAST)[0])
    assert stored.carried_from is not None and stored.row.mismatch is None


_LAST = "SELECT decision_id FROM decisions ORDER BY seq DESC LIMIT 1"


def test_both_readers_agree_on_the_shipped_1_0_ledger(tmp_path: Path) -> None:
    """A ledger from before the carried columns, origins and dictionaries tables."""
    copy = Path(shutil.copyfile(SHIPPED, tmp_path / "ledger.db"))
    assert _same_everywhere(copy) > 0


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE decisions SET requirement = requirement + 1 WHERE seq = 3",
        "UPDATE decisions SET call = 0.5 WHERE seq = 2",
        "UPDATE decisions SET status = 'breach' WHERE seq = 4",
        "UPDATE decisions SET trace_z = substr(trace_z, 1, 40) || 'x' WHERE seq = 5",
        "UPDATE decisions SET trace_sha256 = '0' WHERE seq = 6",
        "UPDATE decisions SET account_ids = '[\"X\"]' WHERE seq = 7",
        "UPDATE runs SET as_of = '2026-01-01'",
        "UPDATE runs SET book_sha256 = 'not a sha256'",
        "DELETE FROM runs",
        "UPDATE run_origins SET operator = 'mallory'",
        "UPDATE decisions SET carried_from = carried_from + 1 WHERE carried_from IS NOT NULL",
        "UPDATE decisions SET carried_hash = entry_hash WHERE carried_from IS NOT NULL",
        "UPDATE decisions SET carried_from = NULL WHERE carried_from IS NOT NULL",
        "UPDATE decisions SET carried_from = 99999 WHERE carried_from IS NOT NULL",
        "UPDATE decisions SET trace_z = x'00' WHERE seq = 1",
    ],
)
def test_both_readers_agree_on_an_insiders_edit(carried: Path, tmp_path: Path, edit: str) -> None:
    copy = Path(shutil.copyfile(carried, tmp_path / "ledger.db"))
    with sqlite3.connect(copy) as conn:
        conn.execute(edit)
    _same_everywhere(copy, by_set=False)


def _error(opener: Callable[[str], object], location: str) -> str:
    with pytest.raises(LedgerError) as caught:
        opener(location)
    return str(caught.value)


def test_both_readers_refuse_what_is_no_ledger_alike(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    newer = Path(shutil.copyfile(SHIPPED, tmp_path / "newer.db"))
    with sqlite3.connect(newer) as conn:
        conn.executescript(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL);"
            "INSERT INTO alembic_version VALUES ('9999_future');"
        )
    locked = tmp_path / "dir.db"
    locked.mkdir()
    for location in (tmp_path / "missing.db", empty, f"sqlite:///{empty}", newer, locked):
        expected = _error(_sqlalchemy, str(location))
        assert _error(SqliteDecisionReader, str(location)) == expected


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    """(SQLAlchemy lets this one out as its own DatabaseError, a traceback in the CLI.)"""
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database, " * 100)
    assert _error(SqliteDecisionReader, str(junk)) == (
        f"cannot open the ledger sqlite:///{junk}: file is not a database"
    )


def test_the_schema_revisions_are_the_tables_own() -> None:
    assert _SCHEMA_REVISIONS is t.SCHEMA_REVISIONS
