"""Quick fixes read from the checker's own hints (``workbench/lsp/fixes.py``), table-driven:
each bad text, the fix offered, and the text once it is applied is clean."""

from __future__ import annotations

import pytest

from marginlex.dsl import Library, check_text
from marginlex.dsl.model.expressions import Span
from marginlex.workbench.lsp.fixes import Fix, fixes_for

HEAD = 'rulebook house "House"\n  cites "x"\n  extends sec\n\n'
CASES = [
    (
        'eligibility e for account\n  cites "y"\n'
        '  require a: account.kind = portfolio_margn because "z"\n',
        "Replace `portfolio_margn` with `portfolio_margin`",
    ),
    (
        "override haircut sec_treasurys for collateral\n"
        "  where collateral.asset in {UST_BILL, UST_NOTE, UST_BOND, UST_STRIP}\n"
        '  cites "y"\n  rate 1%\n',
        "Replace `sec_treasurys` with `sec_treasuries`",
    ),
    (
        'parameter pm_min_equity = 150,000 USD\n  cites "y"\n',
        "Write `override` to replace the inherited rule",
    ),
    (
        'override parameter house_minimum = 5 USD\n  cites "y"\n'
        '  accept MLX215 because "a figure for the variants"\n',
        "Drop the word `override` (define a new rule)",
    ),
    (
        'override parameter pm_min_equty = 5 USD\n  cites "y"\n',
        "Replace `pm_min_equty` with `pm_min_equity`",
    ),
    (
        'eligibility e for account\n  cites "y"\n'
        '  require a: account.equity >= 5,000 because "z"\n',
        "Add the unit `USD`",
    ),
    (  # a citation pasted from a word processor: both quotes straightened
        "override parameter pm_min_equity = 150,000 USD\n"
        "  cites \u201cHouse policy \u00a72\u201d\n",
        "Straighten the curly quotes",
    ),
    (
        'override parameter\u00a0pm_min_equity = 150,000 USD\n  cites "y"\n',
        "Replace the invisible U+00A0 (NO-BREAK SPACE) with a space",
    ),
    (
        'override parameter pm_min\u200b_equity = 150,000 USD\n  cites "y"\n',
        "Delete the invisible U+200B (ZERO WIDTH SPACE)",
    ),
    (  # an override's plain number: its base value's unit
        'override parameter pm_min_equity = 150,000\n  cites "y"\n',
        "Add the unit `USD`",
    ),
    (  # a fraction meant as a percentage: 85%, not 0.85%
        'override parameter pm_offset_broad = 0.85\n  cites "y"\n',
        "Write it as a percentage: `85%`",
    ),
    (  # a Cyrillic letter drawn like a Latin one: the name reads right and is another
        'override parameter pm_min_\u0435quity = 150,000 USD\n  cites "y"\n',
        "Retype U+0435 (CYRILLIC SMALL LETTER IE) as `e`",
    ),
    (
        'override parameter pm_offset_broad = 85\uff05\n  cites "y"\n',
        "Retype U+FF05 (FULLWIDTH PERCENT SIGN) as `%`",
    ),
]


def apply(text: str, fix: Fix) -> str:
    lines = text.split("\n")

    def offset(line: int, column: int) -> int:
        return sum(len(x) + 1 for x in lines[: line - 1]) + column - 1

    s: Span = fix.span
    return text[: offset(s.line, s.column)] + fix.text + text[offset(s.end_line, s.end_column) :]


@pytest.mark.parametrize(("body", "title"), CASES)
def test_the_fix_a_hint_names_makes_the_text_clean(body: str, title: str) -> None:
    text = HEAD + body
    found = check_text(text, "house.mlx", Library(None))
    assert found, text
    (fix,) = [f for d in found for f in fixes_for(d, text.split("\n"))]
    assert fix.title == title
    assert check_text(apply(text, fix), "house.mlx", Library(None)) == []


def test_a_hint_that_names_no_edit_gives_no_fix() -> None:
    text = HEAD + 'eligibility e for account\n  require a: account.kind = margin because "z"\n'
    (d,) = check_text(text, "house.mlx", Library(None))
    assert d.code.value == "MLX220" and fixes_for(d, text.split("\n")) == []
