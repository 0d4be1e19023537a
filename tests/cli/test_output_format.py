"""One spelling for machine output: --format table|json|csv, --json a hidden alias, and money
in JSON a number rounded to the cent in every command."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from marginlex.cli import app

runner = CliRunner()
CHECKOUT = Path(__file__).resolve().parents[2]
DEMO_BOOK = str(CHECKOUT / "marginlex" / "engine" / "book" / "demo_book")
CFTC_TESTS = str(CHECKOUT / "rulebooks" / "tests" / "cftc.test.toml")
SHOCK = ["--shock", "class_group=SPX:-20%", "-r", "sec"]

COMMANDS = {
    "check": ["check", str(CHECKOUT / "rulebooks" / "sec.mlx")],
    "validate": ["validate", DEMO_BOOK],
    "diff": ["diff", "harmonized", "harmonized_85pct_offsets"],
    "run": ["run", "-r", "cftc"],
    "compare": ["compare", "-r", "sec", "-r", "harmonized", "--no-attribution"],
    "stress": ["stress", *SHOCK],
    "test": ["test", CFTC_TESTS],
}


def _stdout(argv: list[str]) -> str:
    result = runner.invoke(app, argv)
    assert result.exit_code in {0, 1}, result.output  # check reports diagnostics with 1
    return result.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_format_json_is_the_spelling_and_json_its_hidden_alias(name: str) -> None:
    argv = COMMANDS[name]
    as_format = _stdout([*argv, "--format", "json"])
    json.loads(as_format)
    assert _stdout([*argv, "--json"]) == as_format
    shown = runner.invoke(app, [*name.split(), "--help"], env={"COLUMNS": "200"}).stdout
    assert "--format" in shown and "table|json" in shown
    # csv is offered where there is a CSV form, and only there (the others refuse it)
    assert ("table|json|csv" in shown) is (name not in NO_CSV)
    assert "--json" not in shown  # the alias works but is not advertised


NO_CSV = ("check", "validate", "diff", "compare", "stress", "test")


@pytest.mark.parametrize("name", NO_CSV)
def test_csv_where_there_is_none_is_a_usage_error(name: str) -> None:
    result = runner.invoke(app, [*COMMANDS[name], "--format", "csv"])
    assert result.exit_code == 2
    assert f"`{name}` has no CSV output" in result.stderr


def _money(doc: Any, keys: set[str]) -> list[Any]:
    """Every value under a money key, anywhere in a JSON document."""
    if isinstance(doc, dict):
        own = [v for k, v in doc.items() if k in keys and v is not None]
        return own + [m for v in doc.values() for m in _money(v, keys)]
    if isinstance(doc, list):
        return [m for v in doc for m in _money(v, keys)]
    return []


def _is_cents(value: Any) -> bool:
    return isinstance(value, float | int) and round(value, 2) == value


def test_money_is_a_number_rounded_to_the_cent_in_run_compare_and_ledger(tmp_path: Path) -> None:
    run = json.loads(_stdout(["run", "--format", "json"]))
    money = _money(run, {"requirement", "value", "call", "equity", "excess", "total_call"})
    assert len(money) > 100 and all(_is_cents(m) for m in money)
    a01 = next(d for d in run["sec"]["decisions"] if d["id"] == "sec:ms:A01_ALICE_PM")
    assert a01["requirement"] == 21053.37  # the golden figure, to the cent
    compared = json.loads(_stdout([*COMMANDS["compare"], "--format", "json"]))
    deltas = _money(compared, {"requirement_delta", "value_delta", "call_delta"})
    assert deltas and all(_is_cents(m) for m in deltas)
    ledger = str(tmp_path / "l.db")
    assert runner.invoke(app, ["run", "-r", "cftc", "--ledger", ledger]).exit_code == 0
    rows = json.loads(_stdout(["ledger", "--ledger", ledger, "--format", "json"]))
    fox = next(r for r in rows if r["margin_set_id"] == "ms:A08_FOX_FUT")
    assert (fox["requirement"], fox["call"]) == (210000.0, 78600.0)


def test_run_csv_has_one_decision_a_row() -> None:
    rows = list(csv.DictReader(io.StringIO(_stdout(["run", "-r", "cftc", "--format", "csv"]))))
    fox = next(r for r in rows if r["margin_set_id"] == "ms:A08_FOX_FUT")
    assert (fox["rulebook_id"], fox["requirement"], fox["call"], fox["status"]) == (
        "cftc",
        "210000.0",
        "78600.0",
        "call",
    )
    assert (
        fox["failed_requirements"]
        == "dual_registrant;clearing_agency_member;cross_margin_agreement"
    )
    assert len(rows) == 6
