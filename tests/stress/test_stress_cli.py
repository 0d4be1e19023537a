"""``marginlex stress`` on the command line: tables, JSON, the HTML report, bad input."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from marginlex.cli import app

runner = CliRunner()


def test_json_and_report(tmp_path: Path) -> None:
    scenarios = tmp_path / "s.toml"
    scenarios.write_text(
        '[scenario.rally]\nshocks = ["class_group=SPX:+20%"]\n'
        '[scenario.rates]\nshocks = ["product=ust_*:+150bp"]\n',
        encoding="utf-8",
    )
    report = tmp_path / "stress.html"
    args = ["stress", "-r", "cftc", "--scenarios", str(scenarios), "--vol", "+10pts"]
    result = runner.invoke(app, [*args, "--json", "--report", str(report)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [s["name"] for s in data["scenarios"]] == ["shock", "rally", "rates"]
    assert data["scenarios"][0]["shocks"] == ["product=*:+10pts"]
    rally = next(i for i in data["impacts"] if i["scenario"] == "rally")
    assert (rally["calls_created"], rally["most_affected"][0]["call_to"]) == (1, 1_254_400.0)
    page = report.read_text(encoding="utf-8")
    assert page.count("<svg") >= 3 and "ms:A05_DELTA_FUT" in page


def test_table() -> None:
    result = runner.invoke(app, ["stress", "-r", "cftc", "--shock", "class_group=SPX:+20%"])
    assert result.exit_code == 0, result.output
    assert "ms:A05_DELTA_FUT" in result.stdout and "1,254,400.00" in result.stdout


def test_bad_shock_exits_1_with_the_hint() -> None:
    result = runner.invoke(app, ["stress", "--shock", "class_grop=SPX:-20%"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: --shock 'class_grop=SPX:-20%': unknown selector 'class_grop'",
        "  hint: did you mean class_group? selectors: class_group, product, instrument, "
        "underlying, asset",
    ]


def test_no_scenario_exits_1() -> None:
    result = runner.invoke(app, ["stress"])
    assert result.exit_code == 1
    assert "give a scenario" in result.stderr
