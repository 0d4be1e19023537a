"""``account.merged_regimes`` is read only in an eligibility requirement (MLX208).

The evaluator knows an account's merged regimes only while it decides eligibility, from the
sets the rule's candidates would form; read anywhere else, ``marginlex check`` said clean
and ``marginlex run`` failed.
"""

import pytest

from marginlex.dsl import check_text
from marginlex.dsl.diagnostics import Code

HEADER = 'rulebook merged "Merged regimes"\n  extends harmonized\n  cites "test"\n'

MISPLACED = {
    "margin applies to": (
        "margin merged_minimum\n"
        "  applies to account where SEC in account.merged_regimes\n"
        '  cites "test"\n'
        "  status illustrative\n"
        "  minimum equity 100000 USD\n",
        (5, 35),
    ),
    "scope": (
        "scope merged_accounts\n"
        '  cites "test"\n'
        "  status illustrative\n"
        "  decides account where CFTC in account.merged_regimes\n",
        (7, 33),
    ),
    "sets merge where": (
        "offset merged_sets\n"
        '  cites "test"\n'
        "  status illustrative\n"
        "  sets merge account where not (SEC in account.merged_regimes)\n"
        "    by owner and carrier\n",
        (7, 40),
    ),
}


@pytest.mark.parametrize("body", MISPLACED.values(), ids=list(MISPLACED))
def test_merged_regimes_outside_a_requirement_is_refused(body: tuple[str, tuple[int, int]]) -> None:
    text, (line, column) = body
    found = [
        d for d in check_text(HEADER + text, "merged.mlx") if d.code is Code.ELIGIBILITY_ONLY_FIELD
    ]
    assert [(d.span.line, d.span.column) for d in found] == [(line, column)]
    assert "`account.merged_regimes`" in found[0].message
    assert found[0].hint == "read it in an eligibility requirement (`require NAME: ...`)"


def test_merged_regimes_in_a_requirement_is_read() -> None:
    text = HEADER + (
        "extend eligibility portfolio_margin\n"
        '  cites "test"\n'
        "  add require merged_with_futures: CFTC in account.merged_regimes\n"
        "    when account.regime = SEC\n"
        '    because "merged with a futures account"\n'
    )
    codes = {d.code for d in check_text(text, "merged.mlx")}
    assert Code.ELIGIBILITY_ONLY_FIELD not in codes
    assert Code.UNKNOWN_FIELD not in codes
