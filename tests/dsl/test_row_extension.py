"""``extend haircut`` / ``extend margin``: one row of a table changed without restating the
rule (MLX216 for an edit that cannot apply; issue 18, compliance officers' second point)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dsl_helpers import without_spans
from lsprotocol import types as lsp

from marginlex.audit.ledger.recorded_inputs import rulebook_bundle, rulebook_sha256
from marginlex.dsl import check_text, format_text, load_rulebook
from marginlex.dsl.loader import shipped_dir
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.resolve.rows import keyed_rows, table_rows
from marginlex.workbench.lsp.analysis import Library, analyse
from marginlex.workbench.lsp.hover import statement_text
from marginlex.workbench.lsp.navigate import outline
from marginlex.workbench.lsp.target import definitions
from marginlex.workbench.render import Format, render_rulebook

HEAD = 'rulebook my_firm "My firm"\n  cites "Internal risk policy RP-12"\n  extends sec\n'
TREASURIES = """
extend haircut sec_treasuries
  cites "RP-12 s.5"
  replace row under 5 years 3.5%
  add row under 7 years 3.75%
  drop row under 25 years
"""
GRID = """
extend margin sec_portfolio_margin
  cites "RP-12 s.6"
  replace row range when instrument.index_class = broad up and down 12%
  add row range when instrument.index_class = narrow up 9% down 11%
"""
_BROAD = "range when instrument.index_class = broad up and down 10%"


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "my_firm.mlx"
    path.write_text(HEAD + body, encoding="utf-8")
    return path


def _sec_statement(head: str) -> str:
    """The text of one statement of the shipped SEC rulebook (up to the next blank line)."""
    text = (shipped_dir() / "sec.mlx").read_text("utf-8")
    start = text.index(head)
    return text[start : text.index("\n\n", start) + 1]


def _codes(text: str) -> list[tuple[str, int]]:
    return [(d.code.value, d.span.line) for d in check_text(text, "my_firm.mlx")]


def test_extend_changes_only_the_rows_it_names(tmp_path: Path) -> None:
    rb = load_rulebook(_write(tmp_path, TREASURIES))
    ust = rb.get("sec_treasuries")
    assert isinstance(ust, m.Haircut)
    keys = list(keyed_rows(ust))
    # 12 SEC rows: one replaced in place, one added in order of its bound, one dropped
    assert keys == [
        "under 3 months",
        "under 6 months",
        "under 9 months",
        "under 12 months",
        "under 2 years",
        "under 3 years",
        "under 5 years",
        "under 7 years",
        "under 10 years",
        "under 15 years",
        "under 20 years",
        "otherwise",
    ]
    rows = keyed_rows(ust)
    replaced, added, kept = rows["under 5 years"], rows["under 7 years"], rows["under 3 years"]
    assert isinstance(replaced, m.Bucket) and isinstance(replaced.outcome, m.Rate)
    assert isinstance(replaced.outcome.value, m.Quantity)
    assert replaced.outcome.value.base == pytest.approx(0.035)
    # what the extension writes carries its citation; inherited rows keep the statement's
    assert replaced.note is not None and replaced.note.citation is not None
    assert replaced.note.citation.text == "RP-12 s.5"
    assert added.note is not None and added.note.citation is not None
    assert kept.note is None
    assert ust.citation is not None and ust.citation.text == "SEC Rule 15c3-1(c)(2)(vi)(A)(1)"
    assert rb.origins["sec_treasuries"] == "my_firm"


@pytest.mark.parametrize(
    ("extension", "head", "old", "new"),
    [
        (
            'extend haircut sec_treasuries\n  cites "x"\n'
            '  replace row under 5 years 3.5% [cites "x"]\n',
            "haircut sec_treasuries",
            "under 5 years 3%",
            'under 5 years 3.5% [cites "x"]',
        ),
        (
            'extend haircut sec_other_assets\n  cites "x"\n  drop row ETF\n',
            "haircut sec_other_assets",
            "    ETF 15%\n",
            "",
        ),
        (
            'extend margin sec_portfolio_margin\n  cites "x"\n'
            "  replace row range when instrument.index_class = broad up and down 12%\n"
            '    [verified, cites "FINRA Rule 4210(g)(2)(F)(i)(b)"]\n',
            "margin sec_portfolio_margin",
            _BROAD,
            _BROAD.replace("10%", "12%"),
        ),
    ],
)
def test_the_resolved_rulebook_is_the_equivalent_full_override(
    tmp_path: Path, extension: str, head: str, old: str, new: str
) -> None:
    """Base + extension resolves to exactly base + an override restating the statement with
    the one row changed: every other statement, and every other row, is identical."""
    statement = _sec_statement(head)
    assert old in statement
    override = "override " + statement.replace(old, new)
    extended = load_rulebook(_write(tmp_path, extension))
    (tmp_path / "full").mkdir()
    restated = load_rulebook(_write(tmp_path / "full", override))
    assert [s.id for s in extended.statements] == [s.id for s in restated.statements]
    for a, b in zip(extended.statements, restated.statements, strict=True):
        if a.id == head.split()[1]:
            assert table_rows(a) != ()
            assert [without_spans(r) for r in table_rows(a)] == [
                without_spans(r) for r in table_rows(b)
            ]
            body = "body" if isinstance(a, m.Haircut) else "method"
            assert without_spans(getattr(a, body)) == without_spans(getattr(b, body))
        else:
            assert without_spans(a) == without_spans(b)


def test_the_recorded_bundle_holds_the_extension_text(tmp_path: Path) -> None:
    rb = load_rulebook(_write(tmp_path, TREASURIES))
    bundle = rulebook_bundle(rb)
    (mine,) = [s for s in json.loads(bundle)["sources"] if s["id"] == "my_firm"]
    assert "extend haircut sec_treasuries" in mine["text"]
    assert "  replace row under 5 years 3.5%" in mine["text"]
    plain = rulebook_sha256(rulebook_bundle(load_rulebook("sec")))
    assert rulebook_sha256(bundle) != plain


def test_row_extensions_format_back_to_themselves() -> None:
    text = (
        HEAD
        + TREASURIES
        + GRID
        + (
            '\nextend margin sec_strategy_based\n  cites "x"\n'
            "  drop row range when instrument.product in {ust_bill, ust_note, ust_bond, ust_strip}"
            " and instrument.residual_maturity < 1 year\n"
            "  add row when instrument.product = stock 30%\n"
        )
    )
    once = format_text(text)
    assert format_text(once) == once
    assert "  add row range when instrument.index_class = narrow up 9% down 11%" in once
    assert "  drop row under 25 years" in once
    assert (
        "  drop row when instrument.product in {ust_bill, ust_note, ust_bond, ust_strip}"
        " and instrument.residual_maturity < 1 year" in once
    )
    assert _codes(once) == []


def test_a_grid_row_added_by_extend_is_checked_and_applies(tmp_path: Path) -> None:
    assert _codes(HEAD + GRID) == []
    pm = load_rulebook(_write(tmp_path, GRID)).get("sec_portfolio_margin")
    assert isinstance(pm, m.Margin)
    assert list(keyed_rows(pm)) == [
        "when instrument.index_class = high_cap_broad",
        "when instrument.index_class = broad",
        "when instrument.index_class = narrow",
        "otherwise",
    ]


@pytest.mark.parametrize(
    ("body", "expected", "hint"),
    [
        (
            'extend haircut sec_other_assets\n  cites "x"\n  add row USD 1%\n',
            [("MLX216", 6)],
            "write `replace row USD ...` to change it",
        ),
        (
            'extend haircut sec_treasuries\n  cites "x"\n  drop row under 4 years\n',
            [("MLX216", 6)],
            "did you mean `under 5 years`?",
        ),
        (
            'extend haircut sec_treasuries\n  cites "x"\n  replace row under 4 years 1%\n',
            [("MLX216", 6)],
            "did you mean `under 5 years`?",
        ),
        (
            'extend margin sec_portfolio_margin\n  cites "x"\n'
            "  drop row range when instrument.index_class = brod\n",
            [("MLX216", 6)],
            "did you mean `when instrument.index_class = broad`?",
        ),
        (
            'extend margin sec_portfolio_margin\n  cites "x"\n'
            "  add row when instrument.index_class = narrow 9%\n",
            [("MLX216", 6)],
            "write the row as the table writes it",
        ),
        (
            'extend haircut sec_digital_assets\n  cites "x"\n  drop row otherwise\n',
            [("MLX216", 4)],
            "it is an `ineligible because` statement; write `override haircut sec_digital_assets`"
            " to restate it",
        ),
        (
            'extend margin sec_strategy_based\n  cites "x"\n  replace row long_stock 30%\n',
            [("MLX216", 6)],
            "write `override margin sec_strategy_based` to restate the statement with the leg"
            " changed",
        ),
        (
            'extend margin sec_strategy_based\n  cites "x"\n  drop row option_spread\n',
            [("MLX216", 6)],
            "write `override margin sec_strategy_based` to restate the statement with the leg"
            " changed",
        ),
        (
            'extend margin sec_pattern_day_trader\n  cites "x"\n  drop row otherwise\n',
            [("MLX216", 4)],
            "it is a `minimum equity`; write `override margin sec_pattern_day_trader` to restate"
            " it",
        ),
        (
            'extend margin sec_treasuries\n  cites "x"\n  drop row otherwise\n',
            [("MLX212", 4)],
            "write `extend haircut sec_treasuries` or `override haircut`",
        ),
        (
            'extend haircut sec_treasurys\n  cites "x"\n  drop row otherwise\n',
            [("MLX212", 4)],
            "did you mean `sec_treasuries`?",
        ),
    ],
)
def test_row_edit_mistakes_are_named(body: str, expected: list[tuple[str, int]], hint: str) -> None:
    found = check_text(HEAD + body, "my_firm.mlx")
    assert [(d.code.value, d.span.line) for d in found] == expected
    assert found[0].hint == hint


def test_render_shows_the_changed_rows(tmp_path: Path) -> None:
    page = render_rulebook(load_rulebook(_write(tmp_path, TREASURIES)), Format.MD)
    assert "- **changed** haircut [`sec_treasuries`](#rule-sec_treasuries)" in page
    assert '+    under 7 years 3.75% [cites "RP-12 s.5"]' in page
    assert "-    under 25 years 5.5%" in page
    assert "| `under 5 years` | `3.5%` | RP-12 s.5 |" in page


def test_the_editor_outline_lists_extensions(tmp_path: Path) -> None:
    path = _write(tmp_path, TREASURIES + GRID)
    found = outline(analyse(path.read_text("utf-8"), str(path), Library(None)))
    assert [(s.name, s.detail, s.kind) for s in found[1:]] == [
        ("sec_treasuries", "extend haircut", lsp.SymbolKind.Struct),
        ("sec_portfolio_margin", "extend margin", lsp.SymbolKind.Function),
    ]


def test_a_span_scan_row_is_replaced_in_place(tmp_path: Path) -> None:
    path = tmp_path / "futures.mlx"
    path.write_text(
        'rulebook futures "Futures house ranges"\n  cites "x"\n  extends cftc\n'
        'extend margin cftc_span\n  cites "RP-12 s.8"\n'
        "  replace row range when instrument.product = index_future 9%\n",
        encoding="utf-8",
    )
    span = load_rulebook(path).get("cftc_span")
    assert isinstance(span, m.Margin) and isinstance(span.method, m.SpanScan)
    first = span.method.ranges[0]
    assert isinstance(first.range, m.Quantity) and first.range.base == pytest.approx(0.09)
    base = load_rulebook("cftc").get("cftc_span")
    assert list(keyed_rows(span)) == list(keyed_rows(base))
    assert table_rows(span)[1:] == table_rows(base)[1:]


def test_an_override_dropping_rows_points_at_extend() -> None:
    body = (
        "override haircut sec_other_assets for collateral\n"
        "  where collateral.asset in {USD, STOCK, ETF, MMF}\n"
        '  cites "x"\n  by asset\n    USD 0%\n    MMF 5%\n'
    )
    (found,) = [d for d in check_text(HEAD + body, "my_firm.mlx") if d.code.value == "MLX214"]
    assert found.message.endswith("drops 2 rows of the statement it replaces: row STOCK, row ETF")
    assert found.hint == (
        "write `extend haircut sec_other_assets` to change only the rows you name "
        '(`add`, `replace`, `drop row`), or `accept MLX214 because "..."` if meant'
    )


@pytest.mark.parametrize(
    ("row", "code", "column"),
    [
        ("replace row MMF 150%", "MLX402", 19),
        ("replace row MMF 15 USD", "MLX300", 19),
    ],
)
def test_a_row_written_by_extend_is_checked_as_an_override_row_would_be(
    row: str, code: str, column: int
) -> None:
    text = HEAD + f'extend haircut sec_other_assets\n  cites "x"\n  {row}\n'
    found = check_text(text, "my_firm.mlx")
    assert [(d.code.value, d.span.line, d.span.column) for d in found] == [(code, 6, column)]


def test_a_shadowed_row_added_by_extend_is_reported_at_that_row() -> None:
    """`broad and index_option` comes after `broad`: the SEC row at sec.mlx:99 takes every
    instrument it matches (MLX604), reported at the added row, and acceptable on the extend."""
    row = (
        "  add row range when instrument.index_class = broad"
        " and instrument.product = index_option up and down 20%\n"
    )
    text = HEAD + 'extend margin sec_portfolio_margin\n  cites "x"\n' + row
    (found,) = check_text(text, "my_firm.mlx")
    assert (found.code.value, found.span.line, found.span.column) == ("MLX604", 6, 11)
    assert "takes the row at sec.mlx:99" in found.message
    # An added row goes after the inherited rows: it cannot be moved before sec.mlx:99.
    assert found.hint == (
        "`extend margin` cannot put a row before an inherited one (added rows go after"
        " them): remove it, change the row that takes its matches (`replace row range"
        " when instrument.index_class = broad ...`), or write"
        " `override margin sec_portfolio_margin` to order the rows yourself"
    )
    accepted = text.replace('cites "x"\n  add', 'cites "x"\n  accept MLX604 because "meant"\n  add')
    assert check_text(accepted, "my_firm.mlx") == []


_HEAD = 'rulebook v "V"\n  cites "c"\n  extends sec\n'
_MMF = '\nextend haircut sec_other_assets\n  cites "c"\n  status illustrative\n'


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (  # one block: the second edit of MMF would win without a word
            _HEAD + _MMF + "  replace row MMF 7%\n  replace row MMF 9%\n",
            [("MLX216", 9, "row MMF is already changed at line 8 of this extension")],
        ),
        (  # two blocks of one statement, each changing MMF
            _HEAD + _MMF + "  replace row MMF 5%\n" + _MMF + "  replace row MMF 7%\n",
            [("MLX216", 13, "row MMF is already changed by the `extend` at line 5")],
        ),
        (
            _HEAD + '\nextend eligibility portfolio_margin\n  cites "c"\n  status illustrative\n'
            '  replace require min_equity: account.equity >= 150,000 USD because "house"\n'
            "  drop require min_equity\n",
            [("MLX213", 9, "require min_equity is already changed at line 8 of this extension")],
        ),
    ],
)
def test_a_row_or_requirement_changed_twice_is_an_error(
    text: str, found: list[tuple[str, int, str]]
) -> None:
    got = [(d.code.value, d.span.line, d.message) for d in check_text(text, "v.mlx")]
    assert got == found


def test_hover_on_an_extended_statement_says_extended_not_replaced(tmp_path: Path) -> None:
    """Hover said "replaces, line 5" of an `extend haircut` that changes one row in place."""
    path = _write(tmp_path, TREASURIES)
    a = analyse(path.read_text("utf-8"), str(path), Library(None))
    text = statement_text(a, definitions(a, "sec_treasuries"))
    assert "replaces" not in text
    assert text.startswith("**haircut** `sec_treasuries`, from `sec`")
    assert "extended by `extend haircut`, line 5" in text
