"""Ids and names are text, never rich markup: "[/]" in an account id raised a MarkupError
traceback, and "[link=...]A01[/link]" showed as a link that read A01. Tables print every
cell as written; a styled line (PASS, FAIL, error) escapes the data it holds. Nor are they
emoji codes: an account "A:x:5" showed as "A❌5" and its set "ms:A:x:5" as "ms🅰x:5"."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_books import renamed_demo
from typer.testing import CliRunner

from marginlex.cli import app

CLOSING = "[/]A08[bold]X"
LINK = "[link=http://evil.example]A01[/link]"
EMOJI = "A:x:05"


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    renamed = {"A08_FOX_FUT": CLOSING, "A01_ALICE_PM": LINK, "A02_BOB_PM": EMOJI}
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


def test_emoji_codes_in_ids_names_and_rulebook_text_show_as_written(
    book: Path, tmp_path: Path
) -> None:
    named = tmp_path / "named"
    shutil.copytree(book, named)
    meta = json.loads((named / "book.json").read_text(encoding="utf-8"))
    (named / "book.json").write_text(json.dumps({**meta, "name": "desk :x: :smile:"}))
    checked = CliRunner().invoke(app, ["validate", str(named)])
    assert checked.exit_code == 0, checked.output
    assert "desk :x: :smile: (as of" in checked.stdout
    done = CliRunner().invoke(app, ["run", str(named), "-r", "sec"])
    assert done.exit_code == 0, done.output
    assert f"│ {EMOJI} " in done.stdout
    assert "❌" not in done.stdout
    ledger = str(tmp_path / "l.db")
    recorded = CliRunner().invoke(app, ["run", str(named), "-r", "sec", "--ledger", ledger])
    assert recorded.exit_code == 0, recorded.output
    listed = CliRunner().invoke(app, ["ledger", "--ledger", ledger, "--account", EMOJI])
    assert listed.exit_code == 0, listed.output
    assert f"ms:{EMOJI}" in listed.stdout
    assert "🅰" not in listed.stdout
    quoted = tmp_path / "notes.mlx"
    quoted.write_text("root:x:0:0:root\n", encoding="utf-8")
    failed = CliRunner().invoke(app, ["check", str(quoted)])
    assert failed.exit_code == 1
    assert "root:x:0:0:root" in failed.stdout + failed.stderr
