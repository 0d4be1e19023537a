"""The impact study's renderings: golden JSON on the demo book, every link lands on an
anchor, hostile names from a book or rulebook are escaped, and the command line."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from study_books import HAND_VARIANT, hand_book
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import load_demo_book
from marginlex.engine.stress.shocks import load_scenarios
from marginlex.engine.variants.compare import compare
from marginlex.engine.variants.study.report import render_study
from marginlex.engine.variants.study.study import ShapleyOptions, Study, impact_study
from marginlex.engine.variants.study.study_json import SCHEMA, study_json

HERE = Path(__file__).parent
GOLDEN = HERE / "golden" / "demo_study.json"
SCENARIOS = HERE / "data" / "scenarios.toml"
IDS = ("harmonized", "harmonized_85pct_offsets", "harmonized_no_digital_collateral")
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def demo() -> Study:
    book = load_demo_book()
    rulebooks = [load_rulebook(i) for i in IDS]
    result = compare(rulebooks, book, with_attribution=False, keep_evaluations=True)
    return impact_study(
        result, rulebooks, book, load_scenarios(SCENARIOS), options=ShapleyOptions()
    )


def test_golden_json(demo: Study) -> None:
    text = json.dumps(study_json(demo), indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("MARGINLEX_REGEN_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.exists(), f"no golden {GOLDEN}: run with MARGINLEX_REGEN_GOLDEN=1 and review"
    assert text == GOLDEN.read_text(encoding="utf-8")
    body = json.loads(text)
    assert body["schema"] == SCHEMA
    offsets = body["pairs"][0]["shapley"]
    assert offsets["method"] == "exact"
    assert offsets["players"][0]["requirement"] == 24000.0


def test_every_link_lands_and_every_figure_links(demo: Study) -> None:
    page = render_study(demo)
    targets = set(re.findall(r'id="([^"]+)"', page))
    links = re.findall(r'href="#([^"]+)"', page)
    assert links and set(links) <= targets
    # the account behind the offsets' 24,000 and FOX behind the digital collateral call
    for account in ("A04_DELTA_PM", "A08_FOX_FUT"):
        anchor = f"acct-{list(demo.directory['account_id']).index(account)}"
        assert f'<a href="#{anchor}">{account}</a>' in page
    assert '<a href="#rule-0-0">pm_offset_high_cap_broad</a>' in page
    assert '<a href="#rule-1-0">cftc_digital_assets</a>' in page
    assert page.count("<svg") == 2 * 4 + 2 + 1  # segments per pair, Shapley per pair, stress
    assert render_study(demo) == page  # the same study gives the same bytes


def test_hostile_names_are_escaped(tmp_path: Path) -> None:
    account = f"P{HOSTILE}"
    book = hand_book(
        tmp_path,
        f"{account},EVIL,BD1,SEC,portfolio_margin,customer,portfolio_margin",
        f"{account},XYZ,800",
        parties=f'EVIL,"Eve {HOSTILE}",individual,false,uncovered',
    )
    variant = tmp_path / "hand_variant.mlx"
    variant.write_text(HAND_VARIANT.replace("hand case: a lower minimum equity", HOSTILE))
    rulebooks = [load_rulebook("sec"), load_rulebook(str(variant))]
    result = compare(rulebooks, book, with_attribution=False, keep_evaluations=True)
    scenarios = tmp_path / "s.toml"
    scenarios.write_text(
        f'[scenario.crash]\ndescription = "{HOSTILE}"\nshocks = ["class_group=XYZ:-20%"]\n'
    )
    study = impact_study(result, rulebooks, book, load_scenarios(scenarios))
    assert account in set(study.directory["account_id"])
    page = render_study(study)
    assert "<script" not in page and "onerror" not in page.replace("&", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    json.dumps(study_json(study))


def test_cli_study_json_and_page(tmp_path: Path) -> None:
    page = tmp_path / "study.html"
    out = CliRunner().invoke(
        app,
        [
            "compare",
            "-r", "harmonized",
            "-r", "harmonized_no_digital_collateral",
            "--study", str(page),
            "--scenarios", str(SCENARIOS),
            "--format", "json",
        ],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert body["study"]["schema"] == SCHEMA
    calls = {r["scenario"]: r["call_delta"] for r in body["study"]["scenarios"]}
    assert calls["crypto_down_50"] == 84000.0 and calls["(unshocked)"] == 92400.0
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_cli_scenarios_need_a_study() -> None:
    out = CliRunner().invoke(
        app, ["compare", "-r", "sec", "-r", "harmonized", "--scenarios", str(SCENARIOS)]
    )
    assert out.exit_code == 2
    assert "--scenarios needs --study FILE.html" in out.output


def test_cli_bad_scenario_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[scenario.x]\nshocks = ["class_group=NOPE:-20%"]\n')
    out = CliRunner().invoke(
        app,
        [
            "compare", "-r", "harmonized", "-r", "harmonized_85pct_offsets",
            "--study", str(tmp_path / "s.html"), "--scenarios", str(bad), "--no-attribution",
        ],
    )  # fmt: skip
    assert out.exit_code == 1
    assert "NOPE" in out.output
