"""``marginlex stress`` on the command line: tables, JSON, the HTML report, bad input."""

from __future__ import annotations

import json
import shutil
from importlib.resources import files
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


def test_bad_shock_exits_2_with_the_hint() -> None:
    result = runner.invoke(app, ["stress", "--shock", "class_grop=SPX:-20%"])
    assert result.exit_code == 2  # a bad option value: a usage error
    assert result.stderr.splitlines() == [
        "error: --shock 'class_grop=SPX:-20%': unknown selector 'class_grop'",
        "  hint: did you mean class_group? selectors: class_group, product, instrument, "
        "underlying, asset",
        "see `marginlex stress --help`",
    ]


def test_no_scenario_exits_2() -> None:
    result = runner.invoke(app, ["stress"])
    assert result.exit_code == 2
    assert "give a scenario" in result.stderr


def test_figures_past_what_cents_hold_are_refused_not_wrapped(tmp_path: Path) -> None:
    """A position of 9e14 USD (under the book's 1e15 limit) a hundredfold and one: its figures
    pass 9e16 USD, which int64 cents wrapped to -92,233,720,368,547,760.00."""
    book = tmp_path / "book"
    shutil.copytree(files("marginlex.engine.book") / "demo_book", book)
    positions = book / "positions.csv"
    text = positions.read_text(encoding="utf-8")
    row = "A01_ALICE_PM,XYZ,1000\n"
    assert row in text
    positions.write_text(text.replace(row, "A01_ALICE_PM,XYZ,9000000000000\n"))
    argv = ["stress", str(book), "-r", "sec", "--shock", "class_group=*:+10000%"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 1
    said = "error: a figure of 9.09e+16 USD is past what marginlex compares (9e+16 USD at most)"
    assert said in result.stderr
    assert "-92,233,720,368,547,760" not in result.output


def test_a_scenario_file_or_a_key_that_is_no_regular_file_is_refused_unread(
    tmp_path: Path,
) -> None:
    """/dev/zero as --scenarios or --sign was read until memory ran out."""
    done = runner.invoke(app, ["stress", "--scenarios", "/dev/zero"])
    assert done.exit_code == 1
    assert "error: /dev/zero: cannot read: not a regular file (a folder, a device or a pipe)" in (
        done.stderr
    )
    ledger = tmp_path / "l.db"
    done = runner.invoke(app, ["run", "-r", "cftc", "--ledger", str(ledger), "--sign", "/dev/zero"])
    assert done.exit_code == 1
    assert done.stderr.startswith(
        "error: cannot read the signing key /dev/zero: not a regular file (a folder, a device"
    )


def test_several_scenario_files_are_all_run_and_a_repeated_option_is_not_dropped(
    tmp_path: Path,
) -> None:
    # a second --scenarios or --vol replaced the first without a word
    down, up, again = tmp_path / "down.toml", tmp_path / "up.toml", tmp_path / "again.toml"
    down.write_text('[scenario.down]\nshocks = ["class_group=SPX:-10%"]\n')
    up.write_text('[scenario.up]\nshocks = ["class_group=SPX:+10%"]\n')
    again.write_text('[scenario.down]\nshocks = ["class_group=SPX:+5%"]\n')
    both = runner.invoke(
        app, ["stress", "-r", "cftc", "--scenarios", str(down), "--scenarios", str(up), "--json"]
    )
    assert both.exit_code == 0, both.output
    assert [s["name"] for s in json.loads(both.stdout)["scenarios"]] == ["down", "up"]
    twice = runner.invoke(
        app, ["stress", "-r", "cftc", "--scenarios", str(down), "--scenarios", str(again)]
    )
    assert twice.exit_code == 1
    assert " ".join(twice.output.split()) == (
        f"error: {again}: scenario 'down' is named by an earlier file or --shock too hint: give "
        "each scenario its own name: the report shows them by name"
    )
    vols = runner.invoke(app, ["stress", "-r", "cftc", "--vol", "+10pts", "--vol", "+5pts"])
    assert vols.exit_code == 2
    assert "give --vol once; it was given 2 times: +10pts, +5pts" in vols.output
