"""``extend eligibility`` and the warnings for what an override drops or a parameter no rule
uses (MLX213, MLX214, MLX215; issue 18, compliance officers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from marginlex.dsl import check_text, format_text, load_rulebook
from marginlex.dsl.model import rulebook as m
from marginlex.engine.book.load import load_demo_book
from marginlex.engine.run import run_rulebook

HEAD = 'rulebook my_firm "My firm"\n  cites "Internal risk policy RP-12"\n  extends sec\n'
EXTENSION = """
extend eligibility portfolio_margin
  cites "Internal risk policy RP-12, section 4"
  status secondary
  add require institution: owner.kind = institution
    because "house policy: portfolio margin for institutions only"
  replace require min_equity: account.equity >= 150,000 USD
    because "account equity must be at least $150,000"
  drop require uncovered_options
"""


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "my_firm.mlx"
    path.write_text(HEAD + body, encoding="utf-8")
    return path


def _codes(text: str) -> list[tuple[str, int]]:
    return [(d.code.value, d.span.line) for d in check_text(text, "my_firm.mlx")]


def test_extension_edits_the_inherited_requirements_in_place(tmp_path: Path) -> None:
    rb = load_rulebook(_write(tmp_path, EXTENSION))
    pm = rb.get("portfolio_margin")
    assert isinstance(pm, m.Eligibility)
    # SEC order kept: replaced in place, dropped gone, added at the end
    assert [r.name for r in pm.requirements] == [
        "customer_account",
        "pm_account",
        "pm_agreement",
        "min_equity",
        "min_equity_unlisted",
        "institution",
    ]
    assert pm.citation is not None and pm.citation.text == "FINRA Rule 4210(g)(6)"
    by_name = {r.name: r for r in pm.requirements}
    added, replaced, kept = by_name["institution"], by_name["min_equity"], by_name["pm_account"]
    assert added.note is not None and added.note.citation is not None
    assert added.note.citation.text == "Internal risk policy RP-12, section 4"
    assert added.note.status is m.Status.SECONDARY
    assert replaced.note is not None and replaced.note.citation is not None
    assert replaced.reason == "account equity must be at least $150,000"
    assert kept.note is None  # an inherited requirement keeps the statement's citation
    assert rb.origins["portfolio_margin"] == "my_firm"
    assert not any(isinstance(s, m.Extension) for s in rb.statements)


def test_extension_decides_the_demo_book(tmp_path: Path) -> None:
    """Alice, Bob and Carol are individuals: the house requirement fails them; Delta is an
    institution with $7,000,000 equity (>= $150,000) and stays eligible."""
    ev = run_rulebook(load_rulebook(_write(tmp_path, EXTENSION)), load_demo_book())
    rows = ev.decisions.set_index("margin_set_id")
    assert "institution" in rows.loc["ms:A01_ALICE_PM", "failed_requirements"]
    assert not bool(rows.loc["ms:A01_ALICE_PM", "eligible"])
    assert bool(rows.loc["ms:A04_DELTA_PM", "eligible"])


def test_extension_formats_back_to_itself() -> None:
    text = HEAD + EXTENSION
    assert format_text(format_text(text)) == format_text(text)
    assert "  add require institution: owner.kind = institution" in format_text(text)
    assert "  drop require uncovered_options" in format_text(text)


@pytest.mark.parametrize(
    ("body", "expected", "hint"),
    [
        (
            'extend eligibility portfolio_margin\n  cites "x"\n'
            '  add require pm_account: account.kind = margin because "dup"\n',
            [("MLX213", 6)],
            "write `replace require pm_account` to change it, or choose another name",
        ),
        (
            'extend eligibility portfolio_margin\n  cites "x"\n  drop require min_equty\n',
            [("MLX213", 6)],
            "did you mean `min_equity`?",
        ),
        (
            'extend eligibility portfolio_margn\n  cites "x"\n  drop require min_equity\n',
            [("MLX212", 4)],
            "did you mean `portfolio_margin`?",
        ),
        (
            'extend eligibility sec_treasuries\n  cites "x"\n  drop require min_equity\n',
            [("MLX212", 4)],
            "write `extend haircut sec_treasuries` or `override haircut`",
        ),
    ],
)
def test_extension_mistakes_are_named(
    body: str, expected: list[tuple[str, int]], hint: str
) -> None:
    found = check_text(HEAD + body, "my_firm.mlx")
    assert [(d.code.value, d.span.line) for d in found] == expected
    assert found[0].hint == hint


OVERRIDE = """
override eligibility portfolio_margin for account
  cites "x"
  require pm_account: account.kind = portfolio_margin because "pm account"
  require min_equity: account.equity >= pm_min_equity because "equity"
"""


def test_override_that_drops_requirements_is_warned_and_can_be_accepted() -> None:
    (found,) = check_text(HEAD + OVERRIDE, "my_firm.mlx")
    assert (found.code.value, found.severity.value, found.span.line) == ("MLX214", "warning", 5)
    assert found.message.endswith(
        "drops 4 requirements of the statement it replaces: require customer_account, "
        "require uncovered_options, require pm_agreement, require min_equity_unlisted"
    )
    accepted = OVERRIDE.replace('cites "x"', 'cites "x"\n  accept MLX214 because "meant"')
    assert _codes(HEAD + accepted) == []


def test_accepting_a_drop_that_is_not_there_is_warned() -> None:
    text = HEAD + EXTENSION.replace(
        "status secondary", 'status secondary\n  accept MLX214 because "x"'
    )
    # an extension drops nothing by accident: the accept accepts nothing
    assert _codes(text) == [("MLX610", 8)]


def test_override_that_drops_table_rows_names_them() -> None:
    """The SEC Treasury schedule has 12 rows (11 maturities and `otherwise`); this override
    keeps 8 of them and loses the 10, 15, 20 and 25 year rows."""
    rows = [
        "under 3 months 0%",
        "under 6 months 0.5%",
        "under 9 months 0.75%",
        "under 12 months 1%",
        "under 2 years 1.5%",
        "under 3 years 2%",
        "under 5 years 3%",
        "otherwise 6%",
    ]
    body = (
        "override haircut sec_treasuries for collateral\n"
        "  where collateral.asset in {UST_BILL, UST_NOTE, UST_BOND, UST_STRIP}\n"
        '  cites "x"\n  by residual_maturity\n' + "".join(f"    {r}\n" for r in rows)
    )
    found = [d for d in check_text(HEAD + body, "my_firm.mlx") if d.code.value == "MLX214"]
    assert [d.message for d in found] == [
        "this override of haircut `sec_treasuries` drops 4 rows of the statement it replaces: "
        "row under 10 years, row under 15 years, row under 20 years, row under 25 years"
    ]


def test_a_table_replaced_by_another_kind_of_body_is_not_a_drop() -> None:
    body = (
        "override haircut sec_treasuries for collateral\n"
        "  where collateral.asset in {UST_BILL, UST_NOTE, UST_BOND, UST_STRIP}\n"
        '  cites "x"\n  rate 2%\n'
    )
    assert [c for c, _ in _codes(HEAD + body) if c == "MLX214"] == []


def test_unused_parameter_is_warned_unless_accepted_or_used() -> None:
    unused = 'parameter house_min = 150,000 USD\n  cites "x"\n'
    assert _codes(HEAD + unused) == [("MLX215", 4)]
    accepted = unused + '  accept MLX215 because "for the variants"\n'
    assert _codes(HEAD + accepted) == []
    used_in_text = unused + (
        'extend eligibility portfolio_margin\n  cites "x"\n'
        "  replace require min_equity: account.equity >= house_min\n"
        '    because "equity of at least {house_min}"\n'
    )
    assert _codes(HEAD + used_in_text) == []


def test_the_trace_cites_the_extension_for_the_requirements_it_adds_or_replaces(
    tmp_path: Path,
) -> None:
    """docs/language.md: the extension's `cites` and `status` are the citation and evidence
    of the requirements it adds or replaces, so the trace cites the house policy for the
    house requirement and FINRA for the rest (trace schema 1.3; before, every requirement
    was cited to the statement, and the house rule's citation was nowhere in the trace)."""
    from typer.testing import CliRunner  # noqa: PLC0415

    from marginlex.cli import app  # noqa: PLC0415

    path = str(_write(tmp_path, EXTENSION))
    args = ["explain", "my_firm:ms:A01_ALICE_PM", "--rulebook", path]
    done = CliRunner().invoke(app, [*args, "--format", "json"])
    assert done.exit_code == 0, done.output
    import json  # noqa: PLC0415

    (step,) = [s for s in json.loads(done.stdout)["steps"] if s["kind"] == "eligibility"]
    own = {r["name"]: (r["citation"], r["evidence"]) for r in step["output"]["requirements"]}
    house = ("Internal risk policy RP-12, section 4", "S")
    assert own["institution"] == own["min_equity"] == house
    assert own["pm_account"] == (None, None)  # inherited: the statement's citation
    text = CliRunner().invoke(app, args).stdout
    line = next(x for x in text.splitlines() if "FAIL institution" in x)
    assert line.endswith("‹portfolio_margin [S]: Internal risk policy RP-12, section 4›")
