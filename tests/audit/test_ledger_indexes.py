"""The ledger's indexes: a ledger made before an index existed gets it when opened to write,
and still reads when opened read-only without it."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

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
