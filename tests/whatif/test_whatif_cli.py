"""``marginlex explain ID --what-if`` reads the recorded inputs from the ledger."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from marginlex.cli import app

runner = CliRunner()


def test_what_if_from_the_ledger(tmp_path: Path) -> None:
    """Eligible after the deposit, BOB is margined by the portfolio method (5,710.67 instead
    of the strategy-based fallback's 9,848.00)."""
    ledger = str(tmp_path / "l.db")
    recorded = runner.invoke(app, ["run", "--rulebook", "sec", "--ledger", ledger])
    assert recorded.exit_code == 0, recorded.output
    text = runner.invoke(app, ["explain", "sec:ms:A02_BOB_PM", "--ledger", ledger, "--what-if"])
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[2:5] == [
        "to pass the requirement min_equity:",
        "  - deposit 30,348.00 USD in A02_BOB_PM  ‹portfolio_margin: FINRA Rule 4210(g)(6)›",
        "      re-evaluated: clears it; ms:A02_BOB_PM ok, eligible, requirement 5,710.67, "
        "call 0.00",
    ]
    data = json.loads(
        runner.invoke(
            app, ["explain", "sec:ms:A13_KILO_MGN", "--ledger", ledger, "--what-if", "--json"]
        ).stdout
    )
    assert data["margin_set_id"] == "ms:A13_KILO_MGN" and data["ledger_entry"]["seq"] >= 1
    kinds = [line["kind"] for line in data["lines"]]
    assert kinds.count("remove_edge") == 3


def test_what_if_without_recorded_book(tmp_path: Path) -> None:
    ledger = str(tmp_path / "l.db")
    runner.invoke(app, ["run", "--rulebook", "sec", "--ledger", ledger])
    import sqlite3  # noqa: PLC0415

    with sqlite3.connect(ledger) as conn:
        conn.execute("DELETE FROM books")
    result = runner.invoke(app, ["explain", "sec:ms:A02_BOB_PM", "--ledger", ledger, "--what-if"])
    assert result.exit_code == 1
    assert "the ledger holds no recorded book" in result.stderr
