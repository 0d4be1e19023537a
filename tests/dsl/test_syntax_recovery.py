"""Every syntax error of a file is reported, a missing ``because`` is pointed at the
requirement that lacks it, and a duplicate row names its first copy (issue 18)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.dsl import check_text

SEVERAL = """rulebook multi "Several syntax errors"
  cites "t"
parameter a = 5 USD
  cites "t"
parameter b 6 USD
  cites "t"
parameter c = 7 USD
  cites "t"
scope s decides acount where account.kind = margin
  cites "t"
haircut h for collateral
  cites "t"
  rate
"""


def test_each_broken_statement_is_reported() -> None:
    found = check_text(SEVERAL, "multi.mlx")
    assert [(d.code.value, d.span.line, d.span.column) for d in found] == [
        ("MLX100", 5, 13),
        ("MLX100", 9, 17),
        ("MLX101", 13, 7),
    ]
    assert found[1].hint == "did you mean `account`?"


def test_a_missing_because_points_at_the_requirement() -> None:
    text = (
        'rulebook r "R"\n  cites "t"\neligibility e for account\n  cites "t"\n'
        "  require kind: account.kind = portfolio_margin\n\n"
        'parameter p = 5 USD\n  cites "t"\n'
    )
    (found,) = check_text(text, "r.mlx")
    assert (found.code.value, found.span.line, found.span.column) == ("MLX104", 5, 48)
    assert found.message == "this requirement ends without its reason"


def test_a_duplicate_row_names_the_first_copy() -> None:
    path = Path(__file__).parents[1] / "data" / "dsl" / "invalid" / "duplicate_row.mlx"
    found = [d for d in check_text(path.read_text(), str(path)) if d.code.value == "MLX403"]
    assert [d.message for d in found] == ["asset `STOCK` has two rows: the first is at line 6"]


def test_check_links_each_code_to_the_catalogue(tmp_path: Path) -> None:
    bad = tmp_path / "multi.mlx"
    bad.write_text(SEVERAL, encoding="utf-8")
    text = CliRunner().invoke(app, ["check", str(bad)]).stdout
    assert "explained with an example and the fix in MLX100: docs/errors.md#mlx100, " in text
    doc = json.loads(CliRunner().invoke(app, ["check", "--json", str(bad)]).stdout)
    assert {d["docs"] for d in doc} == {"docs/errors.md#mlx100", "docs/errors.md#mlx101"}


def test_a_statement_whose_keyword_is_misspelt_is_reported_after_an_earlier_error() -> None:
    # `overide` does not start a statement the recovery knew: it was read as the tail of the
    # broken statement before it, and its own error showed only once that one was fixed
    text = (
        'rulebook t "T"\n  cites "x"\n  extends sec\n'
        'override parameter pm_min_equity 150,000 USD\n  cites "x"\n\n'
        'overide parameter pm_offset_broad = 80%\n  cites "x"\n\n'
        'override parameter pm_offset_narrow = 80% %\n  cites "x"\n'
    )
    found = [(d.span.line, d.span.column, d.hint) for d in check_text(text, "t.mlx")]
    assert [f[:2] for f in found] == [(4, 34), (7, 1), (10, 43)]
    assert found[1][2] == "did you mean `override`?"


def test_a_misspelt_keyword_right_after_the_header_is_reported_once() -> None:
    """The first error and the statement parsed again alone gave the same MLX100 twice."""
    text = (
        'rulebook v "V"\n  jurisdiction SEC\n  version "1"\n  cites "x"\n  extends sec\n\n'
        'overide parameter pm_min_equity = 150,000 USD\n  cites "t"\n'
    )
    found = [(d.code.value, d.span.line, d.span.column, d.hint) for d in check_text(text)]
    assert found == [("MLX100", 7, 1, "did you mean `override`?")]


def test_an_override_that_changes_the_unit_is_said_once() -> None:
    """Said by the override check and again for the base rule that uses it: two MLX300."""
    text = (
        'rulebook v "V"\n  jurisdiction SEC\n  version "1"\n  cites "x"\n  extends sec\n\n'
        'override parameter pm_offset_broad = 0.85\n  cites "t"\n'
    )
    found = [(d.code.value, d.span.line, d.message) for d in check_text(text)]
    assert found == [
        (
            "MLX300",
            7,
            "`pm_offset_broad` is a percentage in `sec`, but this override makes it a plain number",
        )
    ]


def test_a_word_after_a_figure_that_is_no_unit_is_named_as_a_unit() -> None:
    def said(figure: str) -> tuple[str, str]:
        text = f'rulebook v "V"\n  cites "x"\nparameter p = {figure}\n  cites "t"\n'
        (d,) = check_text(text)
        return d.message, d.hint

    units = (
        "Amounts are in USD, rates in % or bp, durations in days, months or years, multiples in x"
    )
    assert said("150,000 EUR") == (
        "unknown unit `EUR` after a figure",
        f"{units}: a book's money is in one currency (USD)",
    )
    assert said("150,000 USDD") == (
        "unknown unit `USDD` after a figure",
        f"did you mean `USD`? {units}",
    )
    assert said("3 yaers")[1] == f"did you mean `years`? {units}"


def test_a_check_that_stops_at_the_syntax_error_limit_says_so() -> None:
    text = 'rulebook v "V"\n  cites "x"\n' + "".join(
        f"parameter p{i} = 5 USD cites\n" for i in range(120)
    )
    found = check_text(text)
    assert len(found) == 51
    assert found[-1].hint.endswith(
        "the check stops after 50 syntax errors: fix these and check again for the "
        "statements after this one"
    )
    assert not any("stops after" in d.hint for d in found[:-1])


def test_the_stop_note_is_said_only_when_the_check_stopped() -> None:
    """51 broken statements, every one shown: no note; 60 misspelt keywords, 50 shown: the
    note (it was the other way round)."""
    head = 'rulebook v "V"\n  cites "x"\n'
    shown = check_text(head + "".join(f"parameter p{i} = = 1 USD\n" for i in range(51)))
    assert len(shown) == 51 and not any("stops after" in d.hint for d in shown)
    cut = check_text(head + "".join(f"parametr p{i} = 1 USD\n" for i in range(60)))
    assert len(cut) == 50 and "the check stops after 50 syntax errors" in cut[-1].hint


def test_a_misspelt_keyword_after_a_date_is_no_unit() -> None:
    text = (
        'rulebook v "V"\n  cites "x"\nparameter p = 1 USD\n  cites "t"\n'
        "  effective from 2026-01-01 untill 2027-01-01\n"
    )
    (d,) = check_text(text)
    assert "unknown unit" not in d.message
    assert d.hint == "did you mean `until`?"
