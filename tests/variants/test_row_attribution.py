"""``compare`` attributes a delta to each differing table row (issue 18, compliance
officers' second point): rows are switched one at a time, as statements are."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.dsl.hybrid import differing_rows, expand_rows, switch
from marginlex.dsl.loader import load_rulebook
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.dsl.resolve.rows import table_rows
from marginlex.engine.book.load import Book, load_book
from marginlex.engine.variants.compare import CompareResult, compare
from marginlex.engine.variants.compare_json import compare_json
from marginlex.engine.variants.report import render_report

HOUSE = """rulebook house_ust "House Treasury haircuts"
  cites "Internal risk policy RP-12"
  extends sec
extend haircut sec_treasuries
  cites "Internal risk policy RP-12, section 5"
  replace row under 3 months 2%
  replace row under 5 years 5%
"""


DEMO = Path(__file__).parents[2] / "engine" / "book" / "demo_book"


def _book(folder: Path) -> Book:
    """The demo book with Juliet's $500,000 Treasury bill maturing 2029-12-31 (3.5 years
    after the as-of date 2026-06-30: the SEC's `under 5 years` row, 3%); Echo's $250,000 bill
    matures 2026-09-15 (2.5 months: `under 3 months`, 0%)."""
    shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    lots = folder / "collateral.csv"
    old = "L17,A12_JULIET_PM,UST_BILL,500000.00,2026-09-15,"
    text = lots.read_text("utf-8")
    assert old in text
    lots.write_text(text.replace(old, old.replace("2026-09-15", "2029-12-31")), "utf-8")
    return load_book(folder)


def _house(tmp_path: Path) -> ResolvedRulebook:
    path = tmp_path / "house_ust.mlx"
    path.write_text(HOUSE, encoding="utf-8")
    return load_rulebook(path)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> CompareResult:
    where = tmp_path_factory.mktemp("house")
    return compare([load_rulebook("sec"), _house(where)], _book(where / "book"))


def test_each_changed_row_is_attributed_its_own_delta(result: CompareResult) -> None:
    """Echo's bill: 0% -> 2% of $250,000 = -$5,000 of value; Juliet's: 3% -> 5% of $500,000
    = -$10,000. Both accounts have excess to spare: no requirement or call moves."""
    c = result.comparisons[0]
    assert c.attribution is not None
    assert [(s.rules, s.requirement, s.value, s.call) for s in c.attribution.steps] == [
        (("sec_treasuries row under 3 months",), 0.0, -5000.0, 0.0),
        (("sec_treasuries row under 5 years",), 0.0, -10000.0, 0.0),
    ]
    assert [s.rows for s in c.attribution.steps] == [
        (("sec_treasuries", "under 3 months"),),
        (("sec_treasuries", "under 5 years"),),
    ]
    per_account = c.attribution.contributions.set_index("account_id")
    assert per_account.loc["A07_ECHO_SEC", "value"] == -500_000  # cents
    assert per_account.loc["A07_ECHO_SEC", "rules"] == "sec_treasuries row under 3 months"
    assert per_account.loc["A12_JULIET_PM", "value"] == -1_000_000
    assert per_account.loc["A12_JULIET_PM", "rules"] == "sec_treasuries row under 5 years"


def test_the_json_and_the_report_show_the_rows(result: CompareResult) -> None:
    doc = json.loads(json.dumps(compare_json(result)))
    steps = doc["comparisons"][0]["attribution"]["steps"]
    assert [(s["rules"], s["rows"], s["value"]) for s in steps] == [
        (
            ["sec_treasuries row under 3 months"],
            [{"rule": "sec_treasuries", "row": "under 3 months"}],
            -5000.0,
        ),
        (
            ["sec_treasuries row under 5 years"],
            [{"rule": "sec_treasuries", "row": "under 5 years"}],
            -10000.0,
        ),
    ]
    html = render_report(result)
    assert "<td>sec_treasuries row under 3 months</td>" in html
    assert "<td>sec_treasuries row under 5 years</td>" in html


def test_cli_compare_prints_a_step_per_row(tmp_path: Path) -> None:
    _house(tmp_path)
    _book(tmp_path / "book")
    out = CliRunner().invoke(
        app, ["compare", str(tmp_path / "book"), "-r", "sec", "-r", str(tmp_path / "house_ust.mlx")]
    )
    assert out.exit_code == 0, out.output
    assert "sec_treasuries row under 3 months" in out.output
    assert "sec_treasuries row under 5 years" in out.output


def test_switching_every_row_gives_the_other_rulebook(tmp_path: Path) -> None:
    sec, house = load_rulebook("sec"), _house(tmp_path)
    assert differing_rows(sec, house, "sec_treasuries") == ["under 3 months", "under 5 years"]
    units = expand_rows(sec, house, ["sec_treasuries"])
    assert units == ["sec_treasuries row under 3 months", "sec_treasuries row under 5 years"]
    half = switch(sec, house, units[:1]).get("sec_treasuries")
    full = switch(sec, house, units).get("sec_treasuries")
    want = house.get("sec_treasuries")
    assert table_rows(full) == table_rows(want)
    assert table_rows(half)[0] == table_rows(want)[0]
    assert table_rows(half)[6] == table_rows(sec.get("sec_treasuries"))[6]


def test_a_statement_that_changes_more_than_its_rows_is_switched_whole(tmp_path: Path) -> None:
    """A different `where` (or body kind) is not a row change: one step for the statement."""
    sec = load_rulebook("sec")
    text = (Path(__file__).parents[2] / "rulebooks" / "sec.mlx").read_text("utf-8")
    start = text.index("haircut sec_treasuries")
    body = text[start : text.index("\n\n", start) + 1]
    body = body.replace(", UST_STRIP}", "}")
    body = body.replace("under 3 months 0%", "under 3 months 2%")
    path = tmp_path / "other.mlx"
    path.write_text(
        'rulebook other "Other"\n  cites "x"\n  extends sec\noverride ' + body, encoding="utf-8"
    )
    other = load_rulebook(path)
    assert differing_rows(sec, other, "sec_treasuries") == []
    assert expand_rows(sec, other, ["sec_treasuries"]) == ["sec_treasuries"]
