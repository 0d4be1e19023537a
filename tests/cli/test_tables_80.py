"""Tables at 80 columns: no id and no amount is cut; optional columns go instead."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marginlex.cli import app

runner = CliRunner()
IDS = re.compile(r"\b(?:A\d\d|H)_[A-Z0-9_]+\b")  # accounts, and sets as ms:<account>
SETS = re.compile(r"\bms:(?:A\d\d|H)_[A-Z0-9_]+\b")
MONEY = re.compile(r"-?\d{1,3}(?:,\d{3})*\.\d\d")


def _table(argv: list[str], columns: int) -> str:
    result = runner.invoke(app, argv, env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.stdout


def _fits(shown: str) -> None:
    assert "…" not in shown, shown  # rich's mark of a cut cell
    assert max(len(line) for line in shown.splitlines()) <= 80, shown


def test_run_tables_show_every_set_and_amount_whole() -> None:
    shown = _table(["run"], 80)
    _fits(shown)
    doc = json.loads(_table(["run", "--json"], 80))
    for rulebook, evaluation in doc.items():
        for d in evaluation["decisions"]:
            for account in d["account_ids"]:
                assert account in shown, (rulebook, account)
            for money in ("requirement", "value", "call"):
                assert f"{d[money]:,.2f}" in shown, (rulebook, d["id"], money)
        total = sum(d["requirement"] for d in evaluation["decisions"])
        assert f"{total:,.2f}" in shown  # the summary's total requirement, whole
    assert "837,413.76" in shown and "131,300.00" in shown  # sec's total, cftc's total call


@pytest.mark.parametrize(
    "argv",
    [
        ["compare", "-r", "sec", "-r", "harmonized"],
        ["stress", "--shock", "class_group=SPX:-20%"],
    ],
)
def test_wide_tables_narrow_without_cutting(argv: list[str]) -> None:
    narrow, wide = _table(argv, 80), _table(argv, 200)
    _fits(narrow)
    # every margin set of the wide table, whole (a set's other accounts are in a column the
    # narrow table may drop: its id names its anchor account)
    sets = {found.removeprefix("ms:") for found in SETS.findall(wide)}
    kept = sets or set(IDS.findall(wide))  # a table of accounts keeps every account
    assert kept and kept <= set(IDS.findall(narrow))
    assert set(MONEY.findall(narrow)) <= set(MONEY.findall(wide))  # no amount cut short


def test_ledger_tables_at_80_columns(tmp_path: Path) -> None:
    ledger = str(tmp_path / "l.db")
    assert runner.invoke(app, ["run", "-r", "cftc", "--ledger", ledger]).exit_code == 0
    shown = _table(["ledger", "--ledger", ledger], 80)
    _fits(shown)
    rows = json.loads(_table(["ledger", "--ledger", ledger, "--format", "json"], 80))
    for row in rows:
        assert row["decision_id"] in shown
        for money in ("requirement", "call"):
            assert f"{float(row[money]):,.2f}" in shown
    runs = _table(["ledger", "runs", "--ledger", ledger], 80)
    _fits(runs)
    assert rows[0]["run_id"] in runs
