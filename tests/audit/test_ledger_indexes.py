"""The ledger's indexes: a ledger made before an index existed gets it when opened to write,
and still reads when opened read-only without it."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from typer.testing import CliRunner

from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.read_only import open_read_only
from marginlex.audit.ledger.sqlite_read import SqliteDecisionReader
from marginlex.audit.ledger.store import Ledger
from marginlex.cli import app

OLD = Path(__file__).parents[1] / "data" / "audit" / "ledger_1_0_demo.db"


def _indexes(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    return {name for (name,) in rows if not name.startswith("sqlite_")}


def test_old_ledger_gains_the_new_indexes_when_opened_to_write(tmp_path: Path) -> None:
    copy = tmp_path / "old.db"
    shutil.copy(OLD, copy)
    wanted = {index.name for index in t.decisions.indexes}
    assert "ix_decisions_run_id_seq" in wanted
    assert not wanted <= _indexes(copy)  # recorded before them
    reader = open_read_only(str(copy))
    assert reader.count() == 28 and len(reader.query(order=("-call",), limit=5)) == 5
    reader.close()
    assert not wanted <= _indexes(copy)  # a read-only open adds nothing
    assert set(t.RETIRED_INDEXES) <= _indexes(copy)  # made by the 1.0 schema
    Ledger.open(str(copy)).close()
    assert wanted <= _indexes(copy)
    assert _indexes(copy).isdisjoint(t.RETIRED_INDEXES)  # dropped as revision 0009 does


def _plans(path: Path, read: Callable[[Ledger], object]) -> list[str]:
    """SQLite's query plan of every SELECT on ``decisions`` that ``read`` runs."""
    ledger = open_read_only(str(path))
    seen: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, sql: str, params: Any, _ctx: Any, _many: bool) -> None:
        if sql.lstrip().startswith("SELECT") and "FROM decisions" in sql:
            seen.append((sql, params))

    event.listen(ledger.engine, "before_cursor_execute", capture)
    read(ledger)
    ledger.close()
    with sqlite3.connect(path) as db:
        return [
            " ".join(row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params))
            for sql, params in seen
        ]


def test_one_decision_and_one_margin_set_are_found_by_their_own_indexes(tmp_path: Path) -> None:
    """Without ANALYZE statistics SQLite would walk the whole run in ``(run_id, seq)`` order
    to skip sorting a handful of rows (344 ms a decision page on a 200k-decision run)."""
    copy = tmp_path / "old.db"
    shutil.copy(OLD, copy)
    Ledger.open(str(copy)).close()  # gains the indexes
    reader = open_read_only(str(copy))
    row = reader.query(limit=1)[0]
    reader.close()
    lookups = _plans(copy, lambda ledger: ledger.get_decision(row.decision_id, row.run_id))
    by_set = _plans(copy, lambda ledger: ledger.query(run=row.run_id, margin_set=row.margin_set_id))
    assert lookups[0].startswith("SEARCH decisions USING INDEX ix_decisions_decision_id_run_id")
    assert by_set[0].startswith("SEARCH decisions USING INDEX ix_decisions_margin_set_id_run_id")
    assert not any("ix_decisions_run_id_seq" in plan for plan in lookups + by_set)


def _sqlite_plans(path: Path, decision_id: str) -> list[str]:
    """The query plans of the ``decisions`` SELECTs the light reader (``explain``) runs."""
    reader = SqliteDecisionReader(str(path))
    seen: list[str] = []
    reader.conn.set_trace_callback(seen.append)
    reader.get_decision(decision_id)
    reader.close()
    with sqlite3.connect(path) as db:
        return [
            " ".join(row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}"))
            for sql in seen
            if sql.lstrip().startswith("SELECT") and "FROM decisions" in sql
        ]


def test_rulebook_and_margin_set_are_found_by_the_margin_set_index(tmp_path: Path) -> None:
    """``explain sec:ms:A01`` names a decision by rulebook and margin set: SQLite, with no
    statistics, could choose the rulebook's index (a third of the ledger: 70 ms on a
    200k-decision ledger) over the margin set's (1 ms), in both readers."""
    copy = tmp_path / "new.db"
    result = CliRunner().invoke(app, ["run", "--ledger", str(copy)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(copy) as db:  # SQLite breaks the tie for the index made last, and
        db.execute("DROP INDEX ix_decisions_rulebook_id_status_seq")  # the order varies
        db.execute(
            "CREATE INDEX ix_decisions_rulebook_id_status_seq ON decisions "
            "(rulebook_id, status, seq)"
        )
    reader = open_read_only(str(copy))
    row = reader.query(limit=1)[0]
    reader.close()
    named = f"{row.rulebook_id}:{row.margin_set_id}"
    light = _sqlite_plans(copy, named)
    full = _plans(copy, lambda ledger: ledger.get_decision(named))
    # the first SELECT looks the name up as a decision id (none), the second by the set
    for plans in (light, full):
        assert plans[0].startswith("SEARCH decisions USING INDEX ix_decisions_decision_id")
        assert plans[1].startswith("SEARCH decisions USING INDEX ix_decisions_margin_set_id_run_id")
