"""One bad cell, one problem, at its file, row and column: edits of the small good book
that once gave a traceback, no problem at all, or a problem at the wrong place."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.engine.book.load import validate_book

BOOKS = Path(__file__).parents[1] / "data" / "books"


def _book(tmp_path: Path, edits: dict[str, tuple[str, str]]) -> Path:
    """The small good book, with ``old`` replaced by ``new`` in each named file."""
    book = tmp_path / "book"
    shutil.copytree(BOOKS / "good_small", book)
    (book / "expected.txt").unlink()
    for name, (old, new) in edits.items():
        text = (book / name).read_text(encoding="utf-8")
        assert old in text
        (book / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    return book


def _rendered(book: Path) -> list[str]:
    return [p.render() for p in validate_book(book)]


_NO_YEAR_0 = "(expected YYYY-MM-DD): there is no year 0 (years run from 0001 to 9999)"


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        (  # held: the expiry check failed with "date not yet supported on Timestamps"
            "instruments.csv",
            "2026-09-18,put",
            "0000-01-01,put",
            f"instruments.csv:3: maturity: not a date '0000-01-01' {_NO_YEAR_0}",
        ),
        (  # held by nobody: loaded, recorded, and then no replay of the ledger could read it
            "instruments.csv",
            "2035-08-15",
            "-2026-07-17",
            "instruments.csv:5: maturity: not a date '-2026-07-17' (expected YYYY-MM-DD): "
            "a date has no sign",
        ),
        (
            "collateral.csv",
            "2030-01-01",
            "0000-06-30",
            f"collateral.csv:3: maturity: not a date '0000-06-30' {_NO_YEAR_0}",
        ),
        (
            "book.json",
            "2026-06-30",
            "0000-06-30",
            f"book.json: as_of: not a date '0000-06-30' {_NO_YEAR_0}",
        ),
    ],
)
def test_a_date_in_year_0_or_before_is_not_a_date(
    tmp_path: Path, name: str, old: str, new: str, expected: str
) -> None:
    book = _book(tmp_path, {name: (old, new)})
    assert _rendered(book) == [expected]
    result = CliRunner().invoke(app, ["run", str(book), "-r", "sec"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert expected in result.stderr
