"""`marginlex diff` and hybrid rulebooks.

Regenerate the golden diff with ``MARGINLEX_REGEN_GOLDEN=1 pytest tests/variants`` and
review it as a diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.dsl import check_paths, shipped_dir
from marginlex.dsl.diff import ChangeKind, diff_rulebooks, meaning, render_diff
from marginlex.dsl.hybrid import hybrid
from marginlex.dsl.loader import load_rulebook
from marginlex.dsl.model.rulebook import Parameter, StatementKind

GOLDEN = Path(__file__).parents[1] / "data" / "variants"
REGEN = os.environ.get("MARGINLEX_REGEN_GOLDEN") == "1"


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if REGEN:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden {path}: run with MARGINLEX_REGEN_GOLDEN=1 and review"
    assert text == path.read_text(encoding="utf-8")


def test_diff_sec_harmonized_golden() -> None:
    diff = diff_rulebooks(load_rulebook("sec"), load_rulebook("harmonized"))
    _golden("sec_vs_harmonized.diff.txt", render_diff(diff))


def test_diff_variant_parameters_have_old_and_new_value_and_citation() -> None:
    diff = diff_rulebooks(load_rulebook("harmonized"), load_rulebook("harmonized_85pct_offsets"))
    assert [(c.statement_id, c.old_value, c.new_value) for c in diff.changes] == [
        ("pm_offset_high_cap_broad", "90%", "85%"),
        ("pm_offset_broad", "75%", "85%"),
        ("pm_offset_narrow", "90%", "85%"),
    ]
    first = diff.changes[0]
    assert first.change is ChangeKind.CHANGED
    assert first.statement_kind is StatementKind.PARAMETER
    assert first.citation.startswith("Joint request for comment 2026, question 12")
    assert first.old_citation == (
        "SEC Rule 15c3-1a(b)(1)(v)(B)(2)(i): 90% among high-capitalization diversified"
        " index classes"
    )
    assert first.used_by == ("sec_product_group_credits",)
    assert "    value: 90% -> 85%" in render_diff(diff)


def test_diff_of_a_rulebook_with_itself_is_empty() -> None:
    diff = diff_rulebooks(load_rulebook("harmonized"), load_rulebook("harmonized"))
    assert diff.changes == () and diff.header == ()


def test_citation_only_change_is_not_operative() -> None:
    sec = load_rulebook("sec")
    rule = sec.get("sec_margin_sets")
    assert rule.citation is not None
    recited = rule.model_copy(update={"citation": rule.citation.model_copy(update={"text": "x"})})
    other = sec.model_copy(
        update={"statements": tuple(recited if s.id == rule.id else s for s in sec.statements)}
    )
    diff = diff_rulebooks(sec, other)
    assert [(c.statement_id, c.operative) for c in diff.changes] == [("sec_margin_sets", False)]
    assert diff.operative_ids == ()


def test_a_figure_written_another_way_is_not_a_change_of_value() -> None:
    # 100,000 USD and 100000 USD are one figure: with a new citation, the change is the
    # citation's only, and the value line says the figure is unchanged
    sec = load_rulebook("sec")
    param = sec.get("pm_min_equity")
    assert isinstance(param, Parameter) and param.value.text == "100,000"
    respelt = param.model_copy(
        update={
            "value": param.value.model_copy(update={"text": "100000"}),
            "citation": param.citation.model_copy(update={"text": "read again"}),
        }
    )
    other = sec.model_copy(
        update={"statements": tuple(respelt if s.id == param.id else s for s in sec.statements)}
    )
    diff = diff_rulebooks(sec, other)
    assert [(c.statement_id, c.operative) for c in diff.changes] == [("pm_min_equity", False)]
    assert "    value: 100000 USD (unchanged)" in render_diff(diff).splitlines()


def test_a_re_cited_requirement_is_shown_under_the_requirement_it_cites(tmp_path: Path) -> None:
    # Only the note changes: the diff names the requirement it belongs to, unchanged,
    # instead of a bare `+ [note]` line nobody can place.
    variant = tmp_path / "recite.mlx"
    variant.write_text(
        'rulebook recite "Re-cited"\n  cites "RP-12"\n  extends sec\n\n'
        "extend eligibility portfolio_margin\n"
        '  cites "RP-12, section 4"\n  status secondary\n'
        "  replace require min_equity: account.equity >= pm_min_equity\n"
        '    because "account equity must be at least {pm_min_equity}"\n',
        encoding="utf-8",
    )
    diff = diff_rulebooks(load_rulebook("sec"), load_rulebook(variant))
    (change,) = diff.changes
    assert change.lines == (
        "   require min_equity: account.equity >= pm_min_equity",
        '+    [secondary, cites "RP-12, section 4"]',
    )
    assert not change.operative


def test_hybrid_leaves_both_bases_untouched() -> None:
    sec, harmonized = load_rulebook("sec"), load_rulebook("harmonized")
    before = (meaning(sec.statements), dict(sec.origins), meaning(harmonized.statements))
    ids = diff_rulebooks(sec, harmonized).statement_ids
    for k in range(len(ids) + 1):
        hybrid(sec, harmonized, ids[:k])
    assert (meaning(sec.statements), dict(sec.origins), meaning(harmonized.statements)) == before
    assert sec == load_rulebook("sec")
    assert harmonized == load_rulebook("harmonized")


def test_hybrid_with_every_difference_is_the_other_rulebook() -> None:
    sec, harmonized = load_rulebook("sec"), load_rulebook("harmonized")
    full = hybrid(sec, harmonized, diff_rulebooks(sec, harmonized).statement_ids)
    assert [s.id for s in full.statements] == [s.id for s in harmonized.statements]
    assert meaning(full.statements) == meaning(harmonized.statements)
    assert full.origins == harmonized.origins


def test_hybrid_switches_one_rule() -> None:
    sec, harmonized = load_rulebook("sec"), load_rulebook("harmonized")
    mixed = hybrid(sec, harmonized, ["sec_margin_sets", "sec_accounts"], hybrid_id="mix")
    assert mixed.id == "mix"
    assert type(mixed.get("sec_margin_sets").rule).__name__ == "MergeAccounts"  # type: ignore[union-attr]
    assert "sec_accounts" not in {s.id for s in mixed.statements}
    assert mixed.origins["sec_margin_sets"] == "harmonized"
    assert len(mixed.statements) == len(sec.statements) - 1


def test_hybrid_rejects_unknown_ids() -> None:
    sec = load_rulebook("sec")
    with pytest.raises(KeyError, match="no statement nope in `sec` or `sec`"):
        hybrid(sec, sec, ["nope"])


@pytest.mark.parametrize("name", ["harmonized_85pct_offsets", "harmonized_no_digital_collateral"])
def test_shipped_variants_check_clean_and_cite_the_consultation(name: str) -> None:
    path = shipped_dir() / "variants" / f"{name}.mlx"
    (report,) = check_paths([str(path)])
    assert report.diagnostics == ()
    variant = load_rulebook(name)
    assert variant.bases == ("sec", "cftc", "harmonized")
    for change in diff_rulebooks(load_rulebook("harmonized"), variant).changes:
        assert change.citation.startswith("Joint request for comment 2026, question")


def test_diff_of_a_rulebook_that_does_not_load_shows_the_line_and_caret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `check` shows a diagnostic: hard-wrapped at 80 columns, without the source line,
    it was hard to read."""
    monkeypatch.chdir(tmp_path)
    Path("unit.mlx").write_text(
        'rulebook unit "U"\n  jurisdiction SEC\n  version "1"\n  cites "x"\n  extends sec\n\n'
        'override parameter pm_offset_broad = 0.85\n  cites "t"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["diff", "sec", "unit.mlx"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:3] == [
        "unit.mlx:7:38: MLX300 `pm_offset_broad` is a percentage in `sec`, but this override "
        "makes it a plain number",
        "    7 | override parameter pm_offset_broad = 0.85",
        "      |                                      ^^^^",
    ]
