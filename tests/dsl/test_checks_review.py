"""Regressions from the review of the language: each names the mistake it guards."""

import subprocess
import sys
from pathlib import Path

import pytest

from marginlex.dsl import check_text, shipped_dir
from marginlex.dsl.model import domain as bs
from marginlex.dsl.model import fields
from marginlex.workbench.lsp.analysis import Libraries, analyse

SYMMETRIC_RANGE = """rulebook r "R" cites "test"
margin m
  cites "test"
  scenario grid points 10
    range otherwise up and down 150%
"""


def test_symmetric_range_out_of_bounds_is_reported_once() -> None:
    found = check_text(SYMMETRIC_RANGE, "r.mlx")
    assert [(d.code.value, d.span.line, d.span.column) for d in found] == [("MLX402", 5, 33)]
    assert found[0].message == "a range of 150% is outside 0% to 100%"


def test_field_values_come_from_the_domain_vocabulary() -> None:
    assert tuple(bs.PartyKind) == fields.PARTY_KINDS
    assert tuple(bs.AccountKind) == fields.ACCOUNT_KINDS
    assert tuple(bs.Regime) == fields.REGIMES
    assert tuple(bs.Origin) == fields.ORIGINS
    assert tuple(bs.Agreement) == fields.AGREEMENTS
    assert tuple(bs.OptionsApproval) == fields.OPTIONS_APPROVAL
    assert tuple(bs.Product) == fields.PRODUCTS
    assert tuple(bs.IndexClass) == fields.INDEX_CLASSES
    assert tuple(bs.OptionType) == fields.OPTION_TYPES
    assert tuple(bs.ASSET_CLASSES) == fields.ASSETS


def test_the_rulebook_checker_does_not_import_pandas() -> None:
    # fields.py takes its values from engine.book_schema, which must stay light.
    code = "import sys, marginlex.dsl.check.passes; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _copy_shipped(tmp_path: Path) -> None:
    # Copies take the shipped ids, so they must say so (else MLX205, and MLX204 for extends).
    for name in ("sec", "cftc", "harmonized"):
        text = (shipped_dir() / f"{name}.mlx").read_text()
        head, rest = text.split("\n  jurisdiction", 1)
        replaced = f"{head}\n  replaces shipped {name}\n  jurisdiction{rest}"
        (tmp_path / f"{name}.mlx").write_text(replaced)


def test_a_base_with_a_syntax_error_is_named_not_reported_missing(tmp_path: Path) -> None:
    # A sibling sec.mlx with a typo'd keyword once gave "no rulebook with id `sec` was
    # found, did you mean `sec`?" plus a cascade of MLX212/MLX201 in harmonized.mlx.
    _copy_shipped(tmp_path)
    sec = tmp_path / "sec.mlx"
    sec.write_text(sec.read_text().replace("eligibility portfolio_margin", "eligibilty x", 1))
    harmonized = tmp_path / "harmonized.mlx"
    found = check_text(harmonized.read_text(), str(harmonized))
    assert [(d.code.value, d.span.line, d.span.column) for d in found] == [("MLX202", 11, 11)]
    assert found[0].message == "the base rulebook `sec` has errors and cannot be used"
    assert found[0].hint is not None
    assert found[0].hint.startswith(f"fix it first: {sec}:")
    assert "MLX100 found `eligibilty`" in found[0].hint


LATIN_BASE = 'rulebook latin "Caf\u00e9" cites "c"\n'.encode("latin-1")
LATIN_CHILD = 'rulebook child "C" cites "c"\n  extends latin\n'
LATIN_SAYS = (
    "fix it first: {base}: MLX001 cannot read the file: not UTF-8 text: byte 0xe9 at line 1, "
    "column 20 (invalid continuation byte); save the file as UTF-8 (an editor set to Latin-1 "
    "or Windows-1252 writes an accented letter as one such byte)"
)


def test_a_base_that_is_not_utf8_is_named_unreadable_not_missing(tmp_path: Path) -> None:
    # A Latin-1 sibling latin.mlx once gave "no rulebook with id `latin` was found": its
    # claim was not read at all. The é of "Café" is byte 0xe9, the 20th character.
    (tmp_path / "latin.mlx").write_bytes(LATIN_BASE)
    child = tmp_path / "child.mlx"
    found = check_text(LATIN_CHILD, str(child))
    assert [(d.code.value, d.span.line, d.span.column) for d in found] == [("MLX202", 2, 11)]
    assert found[0].message == "the base rulebook `latin` has errors and cannot be used"
    assert found[0].hint == LATIN_SAYS.format(base=tmp_path / "latin.mlx")


def test_the_language_server_names_a_base_that_is_not_utf8_unreadable(tmp_path: Path) -> None:
    # The editor's analysis reads siblings through the same claim index as `check`.
    (tmp_path / "latin.mlx").write_bytes(LATIN_BASE)
    child = tmp_path / "child.mlx"
    found = analyse(LATIN_CHILD, str(child), Libraries().of(str(child))).diagnostics
    assert [(d.code.value, d.message) for d in found] == [
        ("MLX202", "the base rulebook `latin` has errors and cannot be used")
    ]
    assert found[0].hint == LATIN_SAYS.format(base=tmp_path / "latin.mlx")


def test_a_utf16_base_is_named_unreadable_not_missing(tmp_path: Path) -> None:
    (tmp_path / "wide.mlx").write_bytes('rulebook wide "W" cites "c"\n'.encode("utf-16"))
    found = check_text('rulebook child "C" cites "c"\n  extends wide\n', str(tmp_path / "c.mlx"))
    assert [d.code.value for d in found] == ["MLX202"]
    assert found[0].hint is not None
    assert "MLX001 cannot read the file: the file is UTF-16 text, not UTF-8" in found[0].hint


def test_cyclic_extends_gives_no_cascade_of_overrides(tmp_path: Path) -> None:
    _copy_shipped(tmp_path)
    sec = tmp_path / "sec.mlx"
    sec.write_text(
        sec.read_text().replace(
            "  jurisdiction SEC\n", "  jurisdiction SEC\n  extends harmonized\n"
        )
    )
    harmonized = tmp_path / "harmonized.mlx"
    found = check_text(harmonized.read_text(), str(harmonized))
    assert [d.code.value for d in found] == ["MLX203"]


ELIGIBILITY = 'rulebook t "T" cites "c"\neligibility e for account\n  cites "c"\n'
HABITS = [
    # (requirement as a compliance officer might type it, code, column, hint)
    (
        'account.kind = "portfolio_margin"',
        "MLX301",
        14,
        "values are written without quotes: `account.kind = portfolio_margin`",
    ),
    ("owner.ecp = yes", "MLX301", 14, "a yes/no field is a condition by itself: `owner.ecp`"),
    (
        "account.agreements = cross_margin",
        "MLX301",
        14,
        "test membership with `in`: `cross_margin in account.agreements`",
    ),
    ("account.equity >= 100,000 usd", "MLX100", 40, "`USD` in capitals"),
    ("account.kind == portfolio_margin", "MLX100", 28, "a comparison uses a single `=`"),
    ("account.kind = portfolio_margin & owner.ecp", "MLX102", 46, "write `and`"),
    ("carrier member_of DCO", "MLX302", 32, "did you mean `dco`?"),
    ("account.kind = Portfolio_Margin", "MLX302", 29, "did you mean `portfolio_margin`?"),
]


@pytest.mark.parametrize(("condition", "code", "column", "hint"), HABITS)
def test_habitual_mistakes_get_a_hint_that_says_what_to_write(
    condition: str, code: str, column: int, hint: str
) -> None:
    text = f'{ELIGIBILITY}  require a: {condition} because "x"\n'
    found = check_text(text, "t.mlx")
    assert [(d.code.value, d.span.line, d.span.column) for d in found] == [(code, 4, column)]
    assert hint in (found[0].hint or "")


def test_a_row_changed_without_its_verb_is_told_the_three_verbs() -> None:
    """`row BTC 50%` in an extend (the verb left out) listed ten of the forty words the parser
    takes there, with no hint."""
    text = (
        'rulebook v "V"\n  cites "c"\n  extends cftc\n\nextend haircut cftc_digital_assets\n'
        '  cites "c"\n  status illustrative\n  row BTC 50%\n'
    )
    (found,) = check_text(text, "v.mlx")
    assert (found.code.value, found.span.line, found.span.column) == ("MLX100", 8, 3)
    assert found.hint == (
        "an `extend` changes a row with `replace row ROW`, `add row ROW` or `drop row KEY`"
    )


def test_an_unnamed_requirement_is_told_to_name_it() -> None:
    text = f'{ELIGIBILITY}  require account.equity >= 1 USD because "x"\n'
    (found,) = check_text(text, "t.mlx")
    assert (found.code.value, found.span.column) == ("MLX100", 18)
    assert found.hint == 'name each requirement: `require min_equity: CONDITION because "..."`'


DATED = 'rulebook r "R"\n  cites "c"\n  extends sec\n'


def _version(figure: str, dates: str) -> str:
    return f'override parameter pm_min_equity = {figure} USD\n  cites "c"\n  effective {dates}\n'


@pytest.mark.parametrize(
    ("versions", "gap"),
    [
        ([_version("150,000", "from 2027-01-01")], "from 2026-01-01 until 2027-01-01"),
        (
            [
                _version("100,000", "from 2026-01-01 until 2027-01-01"),
                _version("150,000", "from 2027-01-01"),
            ],
            None,
        ),
        (
            [
                _version("100,000", "from 2026-01-01 until 2026-07-01"),
                _version("150,000", "from 2027-01-01"),
            ],
            "from 2026-07-01 until 2027-01-01",
        ),
        ([_version("150,000", "from 2026-01-01 until 2030-01-01")], "from 2030-01-01"),
    ],
)
def test_dated_overrides_must_cover_the_base_range(versions: list[str], gap: str | None) -> None:
    # sec.mlx is in force from 2026-01-01 with undated versions: an override replaces them
    # all, so the override's versions must cover every day from 2026-01-01 on.
    found = check_text(DATED + "".join(versions), "r.mlx")
    messages = [d.message for d in found if d.code.value == "MLX502"]
    expected = (
        []
        if gap is None
        else [
            f"no version of `pm_min_equity` is in force {gap}: `override` replaces every "
            "inherited version"
        ]
    )
    assert messages == expected


def test_an_empty_citation_on_a_statement_is_told_to_name_a_source() -> None:
    # a row's note may drop its `cites` and take its statement's; a statement may not
    text = 'rulebook r "R"\n  cites "x"\nparameter p = 5 USD\n  cites ""\n  status secondary\n'
    [found] = [d for d in check_text(text, "r.mlx") if d.code.value == "MLX221"]
    assert found.hint == "name the rule, release or notice it comes from"


def test_the_caret_points_at_the_word_on_a_line_indented_with_tabs() -> None:
    text = 'rulebook t "T"\n  cites "x"\nparameter p = 5 USD\n  cites "x"\n\tstatus\tverifed\n'
    [found] = check_text(text, "t.mlx")
    shown, caret = found.render(text).splitlines()[1:3]
    assert shown == "    5 |     status    verifed"
    assert caret.index("^") == shown.index("verifed") and caret.count("^") == len("verifed")


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        (
            'rulebook t "T"\n  cites "x"\n  extends sec\n'
            'override parameter pm_min_equity 150,000 USD\n  cites "x"\n',
            "write `=` before `150,000`",
        ),
        (
            'rulebook t "T"\n  cites "x"\nparameter p = 5 USD\n  cites "x" extra\n',
            "a word is missing or out of place at the caret: compare the line with its "
            "statement's form in docs/language.md",
        ),
    ],
)
def test_every_syntax_error_has_a_hint(text: str, hint: str) -> None:
    [found] = check_text(text, "t.mlx")
    assert (found.code.value, found.hint) == ("MLX100", hint)


def test_a_range_that_ends_the_day_it_starts_is_told_it_covers_no_day() -> None:
    # it said "the range ends (2026-01-01) before it starts (2026-01-01)"
    text = 'rulebook r "R"\n  cites "x"\n  effective from 2026-01-01 until 2026-01-01\n'
    [found] = [d for d in check_text(text, "r.mlx") if d.code.value == "MLX501"]
    assert found.message == "the range starts and ends on 2026-01-01: it covers no day"


def test_a_diagnostic_on_a_very_long_line_shows_the_part_around_its_caret() -> None:
    # a condition of 20,000 terms on one line printed the whole 600 KB line, and as many
    # spaces before the caret
    terms = " or ".join(["account.regime = SEC"] * 20_000)
    text = f'rulebook r "R"\n  cites "x"\nscope s\n  cites "y"\n  decides account where {terms}\n'
    [found] = [d for d in check_text(text, "r.mlx") if d.code.value == "MLX404"]
    _, shown, caret, _ = found.render(text).split("\n")
    assert shown.startswith("    5 | …") and shown.endswith("…") and len(shown) < 220
    assert caret[len("      | ") :].lstrip(" ").startswith("^" * len("account.regime = SEC"))
    assert shown[caret.index("^") : caret.index("^") + 20] == "account.regime = SEC"
