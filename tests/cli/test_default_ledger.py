"""One default ledger: `run --record` records where `ledger`, `explain` and `verify` read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marginlex.cli import app

runner = CliRunner()


def _listed(*args: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["ledger", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_record_ledger_explain_and_verify_share_one_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MARGINLEX_LEDGER", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    user_default = tmp_path / "data" / "marginlex" / "ledger.db"
    # Nothing recorded yet: reading is an error (exit 2), and no ledger is made by reading.
    assert runner.invoke(app, ["ledger"]).exit_code == 2 and not user_default.exists()

    recorded = runner.invoke(app, ["run", "-r", "cftc", "--record"])
    assert recorded.exit_code == 0, recorded.output
    assert user_default.is_file() and str(user_default) in recorded.stdout
    assert len(_listed()) == 6  # cftc decides 6 sets of the demo book
    explained = runner.invoke(app, ["explain", "cftc:ms:A08_FOX_FUT"])
    assert explained.exit_code == 0 and "Ledger entry #3 of run" in explained.stdout
    assert runner.invoke(app, ["verify"]).stdout.startswith("OK: 6 entries in 1 runs")

    # A project's own ./marginlex-ledger.db, once it exists, comes first.
    local = ["run", "-r", "sec", "--ledger", "marginlex-ledger.db"]
    assert runner.invoke(app, local).exit_code == 0
    assert {r["rulebook_id"] for r in _listed()} == {"sec"}
    assert runner.invoke(app, ["run", "-r", "cftc", "--record"]).exit_code == 0
    assert {r["rulebook_id"] for r in _listed()} == {"sec", "cftc"}  # recorded there too

    # $MARGINLEX_LEDGER comes before both.
    monkeypatch.setenv("MARGINLEX_LEDGER", str(user_default))
    assert len(_listed()) == 6
