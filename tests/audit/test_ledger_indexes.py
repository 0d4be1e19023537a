"""The ledger's indexes: a ledger made before an index existed gets it when opened to write,
and still reads when opened read-only without it."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event

from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.read_only import open_read_only
from marginlex.audit.ledger.store import Ledger

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
    Ledger.open(str(copy)).close()
    assert wanted <= _indexes(copy)


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
