"""Recording a book with ``marginlex run`` and reading back a run's decisions, for the tests
that compare a ``run --since`` with a full run of the same book."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from marginlex.cli import app

RECORDED = re.compile(r"recorded run (r-[0-9a-f]+)")
COLUMNS = "rulebook_id, margin_set_id, account_ids, status, call, requirement, inputs_sha256"


def recorded(book: Path, ledger: Path, *more: str) -> str:
    """Record ``book`` in ``ledger`` (``more``: further options of ``run``); the run's id."""
    result = CliRunner().invoke(app, ["run", str(book), "--ledger", str(ledger), *more])
    assert result.exit_code == 0, result.stderr
    match = RECORDED.search(result.stdout)
    assert match is not None, result.stdout
    return match[1]


def run_decisions(ledger: Path, run_id: str) -> pd.DataFrame:
    """A run's decisions (:data:`COLUMNS`), by rulebook and margin set."""
    with sqlite3.connect(ledger) as conn:
        query = f"select {COLUMNS} from decisions where run_id = ?"
        frame = pd.read_sql_query(query, conn, params=(run_id,))
    return frame.sort_values(["rulebook_id", "margin_set_id"]).reset_index(drop=True)
