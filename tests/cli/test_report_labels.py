"""Plots label bars with account ids and names from the book: a "$" in one is text, not the
start of matplotlib's math (an id "A08$\\frac{1}{0$" raised a ParseException traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_books import renamed_demo
from typer.testing import CliRunner

from marginlex.cli import app

DOLLARS = {"A08_FOX_FUT": "A08$\\frac{1}{0$_FOX", "A01_ALICE_PM": "$^^^$A01"}


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return renamed_demo(tmp_path_factory.mktemp("dollars") / "book", DOLLARS)


@pytest.mark.parametrize(
    "command",
    [
        ["compare", "-r", "sec", "-r", "harmonized", "--report"],
        ["stress", "--shock", "class_group=*:-20%", "--report"],
    ],
    ids=["compare", "stress"],
)
def test_a_dollar_in_an_id_is_text_in_the_plots(
    book: Path, tmp_path: Path, command: list[str]
) -> None:
    report = tmp_path / "report.html"
    done = CliRunner().invoke(app, [*command[:1], str(book), *command[1:], str(report)])
    assert done.exit_code == 0, done.output
    assert "ParseException" not in done.output
    page = report.read_text(encoding="utf-8")
    assert "A08$\\frac{1}{0$_FOX" in page or "$^^^$A01" in page
