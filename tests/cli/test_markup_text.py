"""Ids and names are text, never rich markup: "[/]" in an account id raised a MarkupError
traceback, and "[link=...]A01[/link]" showed as a link that read A01. Tables print every
cell as written; a styled line (PASS, FAIL, error) escapes the data it holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_books import renamed_demo
from typer.testing import CliRunner

from marginlex.cli import app

CLOSING = "[/]A08[bold]X"
LINK = "[link=http://evil.example]A01[/link]"


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    renamed = {"A08_FOX_FUT": CLOSING, "A01_ALICE_PM": LINK}
    return renamed_demo(tmp_path_factory.mktemp("markup") / "book", renamed)


def test_run_and_ledger_tables_show_ids_as_written(book: Path, tmp_path: Path) -> None:
    # the start of each id, whatever the width: markup read as markup leaves none of it
    for rulebook, shown in (("cftc", CLOSING[:12]), ("sec", LINK[:12])):
        done = CliRunner().invoke(app, ["run", str(book), "-r", rulebook])
        assert done.exit_code == 0, done.output
        assert f"│ {shown}" in done.stdout
    ledger = str(tmp_path / "l.db")
    assert CliRunner().invoke(app, ["run", str(book), "--ledger", ledger]).exit_code == 0
    listed = CliRunner().invoke(app, ["ledger", "--ledger", ledger, "--account", LINK])
    assert listed.exit_code == 0, listed.output
    assert "d-ms:[link=http" in listed.stdout


def test_an_error_naming_markup_says_it_as_written() -> None:
    done = CliRunner().invoke(app, ["compare", "-r", "sec", "-r", "[/]x"])
    assert done.exit_code == 1
    assert "error: rulebook `[/]x` does not load" in done.stderr
