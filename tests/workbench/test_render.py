"""``marginlex render``: golden pages of a shipped rulebook and a variant, escaping, anchors.

Regenerate the golden pages with
``MARGINLEX_REGEN_GOLDEN=1 uv run pytest tests/workbench/test_render.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import markdown
import pytest
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.dsl import load_rulebook
from marginlex.dsl.model import rulebook as m
from marginlex.workbench.render import (
    CaseIndex,
    Format,
    build_document,
    collect_tests,
    render_rulebook,
    statement_anchor,
)
from marginlex.workbench.render.bodies import HANDLERS
from marginlex.workbench.render.output import md_text

GOLDEN = Path(__file__).parents[1] / "data" / "workbench"
REGEN = os.environ.get("MARGINLEX_REGEN_GOLDEN") == "1"
CASES = ("sec", "harmonized_85pct_offsets")


@pytest.fixture(scope="module")
def tests_index() -> CaseIndex:
    return collect_tests(rulebook_ids=set(CASES))


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if REGEN:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden {path}: run with MARGINLEX_REGEN_GOLDEN=1 and review"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden"


@pytest.mark.parametrize("rulebook_id", CASES)
@pytest.mark.parametrize("fmt", list(Format))
def test_rendered_page_matches_golden(
    rulebook_id: str, fmt: Format, tests_index: CaseIndex
) -> None:
    page = render_rulebook(load_rulebook(rulebook_id), fmt, tests_index)
    _golden(f"{rulebook_id}.{fmt.value}", page)


@pytest.mark.parametrize("fmt", list(Format))
def test_every_statement_has_its_anchor_once(fmt: Format) -> None:
    rulebook = load_rulebook("cftc")
    page = render_rulebook(rulebook, fmt)
    ids = re.findall(r'id="(rule-[^"]+)"', page)
    assert sorted(ids) == sorted(statement_anchor(s.id) for s in rulebook.statements)
    assert len(ids) == len(set(ids))


def test_anchor_scheme() -> None:
    assert statement_anchor("sec_treasuries") == "rule-sec_treasuries"
    assert statement_anchor("cftc_span", 2) == "rule-cftc_span-v2"
    assert statement_anchor("a b<c") == "rule-a-b-c"


def test_variant_shows_its_diff_with_citations(tests_index: CaseIndex) -> None:
    doc = build_document(load_rulebook("harmonized_85pct_offsets"), tests_index)
    (diff,) = doc.diffs
    assert diff.base == "harmonized"
    broad = next(c for c in diff.changes if c.statement_id == "pm_offset_broad")
    assert (broad.old_value, broad.new_value) == ("75%", "85%")
    assert broad.citation.startswith("Joint request for comment 2026, question 12")
    assert broad.used_by == ("sec_product_group_credits",)
    assert doc.tests.cases == 1 and doc.tests.passed == 1


def test_statements_in_source_order_under_their_sections() -> None:
    doc = build_document(load_rulebook("sec"))
    assert [s.title for s in doc.sections] == [
        "scope",
        "parameters",
        "eligibility",
        "margin methods",
        "offsets",
        "collateral haircuts",
        "segregation",
        "Treasury cross-margining",
        "pattern day traders",
        "concentrated positions",
    ]
    assert [s.id for s in doc.statements] == list(
        dict.fromkeys(s.id for s in load_rulebook("sec").statements)
    )


def test_parameters_show_where_they_are_used() -> None:
    doc = build_document(load_rulebook("sec"))
    by_id = {s.id: s for s in doc.statements}
    assert by_id["pm_offset_broad"].value == "75%"
    assert by_id["pm_offset_broad"].used_by == ("sec_product_group_credits",)
    assert "pm_offset_broad" in by_id["sec_product_group_credits"].uses
    (credits,) = by_id["sec_product_group_credits"].tables
    broad = next(r for r in credits.rows if r.cells[0].text == "broad")
    assert broad.cells[2].text == "pm_offset_broad = 75%"
    assert broad.cells[2].anchor == "rule-pm_offset_broad"


def test_tests_covering_a_statement(tests_index: CaseIndex) -> None:
    """Each case lists the statements its decision exercised (the coverage of `test`)."""
    refs = tests_index.tests_of("sec", "sec_digital_assets")
    assert [(r.file, r.case, r.passed) for r in refs] == [
        (
            "shipped:tests/sec.test.toml",
            "haircuts: 2y note 2%, money fund 2%, bitcoin ineligible",
            True,
        )
    ]
    scope = tests_index.tests_of("sec", "sec_accounts")
    summary = tests_index.summary("sec")
    # every case but the one whose account is out of scope decided an account under it
    assert len(scope) == summary.cases - 1


HOSTILE = """\
rulebook hostile "<script>alert(1)</script>"
  jurisdiction SEC
  cites "<script>alert(2)</script>"

parameter p = 5%
  cites "<img src=x onerror=alert(1)> | *bold* [x](javascript:alert(1))"
  status illustrative

scope everyone
  cites "scope <b>bold</b>"
  decides account where account.regime = SEC

eligibility e for account
  cites "e"
  status verified
  require r: account.equity >= 1 USD
    because "<script>alert(3)</script>"
"""


@pytest.mark.parametrize("fmt", list(Format))
def test_hostile_text_is_escaped(tmp_path: Path, fmt: Format) -> None:
    path = tmp_path / "hostile.mlx"
    path.write_text(HOSTILE, encoding="utf-8")
    page = render_rulebook(load_rulebook(path), fmt)
    shown = markdown.markdown(page, extensions=["tables"]) if fmt is Format.MD else page
    for bad in ("<script", "<img", "<b>", 'javascript:alert(1)"'):
        assert bad not in shown, bad
    for n in (1, 2, 3):
        assert f"&lt;script&gt;alert({n})&lt;/script&gt;" in shown
    assert "&lt;img src=x onerror=alert(1)&gt;" in shown
    assert '<a href="javascript' not in shown


def test_every_statement_and_body_type_has_a_handler() -> None:
    bodies = [
        m.MaturityBuckets, m.AssetTable, m.Flat, m.MoreConservative,
        m.ScenarioGrid, m.SpanScan, m.Rates, m.StrategyBased, m.InitialMultiple,
        m.Netting, m.ClassGroupCredit, m.Separate, m.MergeAccounts, m.TakeIn, m.GiveUp,
    ]  # fmt: skip
    # resolution applies `remove` and `extend`: a resolved rulebook holds neither
    statements = [t for t in m.STATEMENT_TYPES if t not in (m.Removal, m.Extension)]
    assert [t for t in [*statements, *bodies] if t not in HANDLERS] == []


def test_cli_writes_the_page(tmp_path: Path) -> None:
    out = tmp_path / "sec.md"
    result = CliRunner().invoke(
        app, ["render", "sec", "--format", "md", "--no-tests", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == render_rulebook(load_rulebook("sec"), Format.MD)


def test_cli_refuses_a_rulebook_that_does_not_load(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mlx"
    bad.write_text(
        'rulebook bad "Bad"\n  cites "x"\n\n'
        "scope s\n  decides account where account.eqity > 1 USD\n"
    )
    result = CliRunner().invoke(app, ["render", str(bad), "--no-tests"])
    assert result.exit_code == 1
    assert f"{bad}:4:1: MLX220 scope `s` has no citation" in result.output
    assert "did you mean `equity`?" in result.output
    assert result.output.rstrip().endswith(f"error: rulebook `{bad}` does not load")


HOSTILE_VARIANT = """\
rulebook hostile_variant "Variant"
  cites "v"
  extends hostile

override parameter p = 7%
  cites "<script>alert(4)</script>"

override scope everyone
  cites "<script>alert(5)</script>"
  decides account where account.id != "<script>alert(6)</script>"
"""


@pytest.mark.parametrize("fmt", list(Format))
def test_hostile_text_in_a_variant_diff_is_escaped(tmp_path: Path, fmt: Format) -> None:
    (tmp_path / "hostile.mlx").write_text(HOSTILE, encoding="utf-8")
    path = tmp_path / "hostile_variant.mlx"
    path.write_text(HOSTILE_VARIANT, encoding="utf-8")
    doc = build_document(load_rulebook(path))
    assert [c.statement_id for c in doc.diffs[0].changes] == ["p", "everyone"]
    page = render_rulebook(load_rulebook(path), fmt)
    shown = (
        markdown.markdown(page, extensions=["tables", "fenced_code"]) if fmt is Format.MD else page
    )
    assert "<script" not in shown
    for n in (4, 5, 6):
        assert f"&lt;script&gt;alert({n})&lt;/script&gt;" in shown, n


DATED = """\
rulebook dated "Dated"
  cites "d"

parameter p = 5%
  cites "first"
  effective from 2026-01-01 until 2027-01-01

parameter p = 6%
  cites "second"
  effective from 2027-01-01

scope everyone
  cites "s"
  decides account where account.equity >= 1 USD
"""


def test_dated_versions_get_their_own_anchor_and_dates(tmp_path: Path) -> None:
    path = tmp_path / "dated.mlx"
    path.write_text(DATED, encoding="utf-8")
    doc = build_document(load_rulebook(path))
    versions = [(s.anchor, s.value, s.effective, s.citation) for s in doc.statements if s.id == "p"]
    assert versions == [
        ("rule-p", "5%", "from 2026-01-01 until 2027-01-01", "first"),
        ("rule-p-v2", "6%", "from 2027-01-01", "second"),
    ]
    assert [s.title for s in doc.sections] == ["parameters", "scope"]


def test_cli_names_a_missing_tests_path(tmp_path: Path) -> None:
    missing = tmp_path / "nothing"
    result = CliRunner().invoke(app, ["render", "sec", "--tests", str(missing)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: {missing}: no such file or folder (test files end in .test.toml)"
    )


def test_cli_runs_the_tests_beside_a_rulebook_file(tmp_path: Path) -> None:
    """A rulebook outside the package: the *.test.toml files beside it cover its statements."""
    shipped = Path(__file__).parents[2] / "rulebooks" / "variants"
    for suffix in (".mlx", ".test.toml"):
        text = (shipped / f"harmonized_85pct_offsets{suffix}").read_text(encoding="utf-8")
        text = text.replace('rulebook = "harmonized_85pct_offsets"', 'rulebook = "my_variant.mlx"')
        (tmp_path / f"my_variant{suffix}").write_text(
            text.replace("harmonized_85pct_offsets", "my_variant"), encoding="utf-8"
        )
    out = tmp_path / "page.html"
    args = ["render", str(tmp_path / "my_variant.mlx"), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert f"{tmp_path}/my_variant.test.toml</code>, 1 passed" in page
    credits = page.split('id="rule-sec_product_group_credits"', 1)[1].split("</article>", 1)[0]
    assert "Covered by 1 rulebook test</summary>" in credits


def test_a_test_file_that_cannot_run_is_named_on_the_page(tmp_path: Path) -> None:
    # It names this rulebook (found beside it) and, for one expectation, a draft that
    # exists nowhere: the file cannot run, and the page says why.
    (tmp_path / "dated.mlx").write_text(DATED, encoding="utf-8")
    (tmp_path / "dated.test.toml").write_text(
        'rulebook = "dated"\nas_of = 2026-06-30\n'
        'parties = [{ party_id = "BD", kind = "broker_dealer" }, '
        '{ party_id = "P", kind = "individual" }]\n'
        'accounts = [{ account_id = "A", owner_id = "P", carrier_id = "BD", regime = "SEC", '
        'kind = "margin", origin = "customer" }]\n\n[[expect]]\naccount = "A"\n'
        'rulebook = "dated_draft"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["render", str(tmp_path / "dated.mlx"), "--format", "md"])
    assert result.exit_code == 0, result.output
    shown = (
        f"{tmp_path}/dated.test.toml: rulebook `dated_draft` does not load:\n"
        "dated_draft: MLX001 no rulebook file or id `dated_draft`\n"
        "      = hint: did you mean `dated`? or give a path to a .mlx file, or one of cftc, "
        "dated, harmonized, harmonized_85pct_offsets, harmonized_no_digital_collateral, sec"
    )
    assert f"**A test file could not run:** {md_text(shown)}" in result.output


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_a_test_cases_control_characters_are_written_out_on_the_page(
    tmp_path: Path, fmt: str
) -> None:
    """A rulebook test's case name comes from its TOML file, which may write "\\u001b[31m" or
    "\\u202e": the page listed it as it was (`| e` made it markup, which the templates'
    finalize passed unchanged); it is written out, as the console writes it."""
    variants = Path(__file__).parents[2] / "rulebooks" / "variants"
    text = (variants / "harmonized_85pct_offsets.mlx").read_text(encoding="utf-8")
    (tmp_path / "desk.mlx").write_text(
        text.replace("harmonized_85pct_offsets", "desk"), encoding="utf-8"
    )
    tests = (variants / "harmonized_85pct_offsets.test.toml").read_text(encoding="utf-8")
    tests = tests.replace("harmonized_85pct_offsets", "desk")
    tests = tests.replace('name = "at -8%', 'name = "\\u001b[31mRED\\u202eX at -8%', 1)
    (tmp_path / "desk.test.toml").write_text(tests, encoding="utf-8")
    page = tmp_path / f"desk.{fmt}"
    done = CliRunner().invoke(
        app, ["render", str(tmp_path / "desk.mlx"), "-f", fmt, "-o", str(page)]
    )
    assert done.exit_code == 0, done.output
    shown = page.read_text(encoding="utf-8")
    assert "\x1b" not in shown and "\u202e" not in shown
    assert "\\x1b[31mRED\\u202eX at -8%" in shown
