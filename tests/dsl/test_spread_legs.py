"""Leg ratios and tiers of SPAN inter-commodity spread rows: layout and MLX406."""

from __future__ import annotations

from dsl_helpers import without_spans

from marginlex.dsl import format_text, parse
from marginlex.dsl.check.runner import check_text

HEAD = """rulebook legs "Spread legs"
  cites "test"
offset spreads
  cites "test"
  status illustrative
  credit each leg between class groups by instrument.class_group
"""


def _codes(rows: str) -> list[tuple[str, int, int, str]]:
    found = check_text(HEAD + rows)
    return [(d.code.value, d.span.line, d.span.column, d.message) for d in found]


def test_ratios_and_tiers_are_written_back_in_canonical_layout() -> None:
    messy = HEAD + (
        "    2   UST_2Y   with 1 UST_10Y 30%\n"
        "    SPX expiring   within 3 months with NDX expiring after 3 months within 1 year 50%\n"
    )
    once = format_text(messy)
    assert once.splitlines()[-2:] == [
        "    2 UST_2Y with 1 UST_10Y 30%",
        "    SPX expiring within 3 months with NDX expiring after 3 months within 1 year 50%",
    ]
    assert format_text(once) == once
    assert without_spans(parse(once)) == without_spans(parse(messy))
    row = parse(once).statements[0].rule.rows[1]  # type: ignore[union-attr]
    assert row.right_tier.after.base == 0.25 and row.right_tier.within.base == 1.0


def test_clean_legs_check_clean() -> None:
    rows = (
        "    2 UST_2Y with 1 UST_10Y 30%\n"
        "    SPX expiring within 3 months with NDX expiring within 3 months 50%\n"
        "    SPX expiring after 3 months with NDX expiring after 3 months 40%\n"
    )
    assert _codes(rows) == []


def test_each_wrong_leg_is_named_where_it_is() -> None:
    rows = (
        "    0 UST_5Y with UST_10Y 20%\n"
        "    SPX expiring after 1 year within 3 months with NDX 20%\n"
        "    2 ZZZ 10%\n"
        "    RUT expiring within 3 months with NDX 30%\n"
        "    RUT with ES 30%\n"
        "    UST_2Y expiring within 5% with UST_10Y 30%\n"
    )
    assert _codes(rows) == [
        ("MLX406", 7, 5, "a leg ratio of 0 contracts per spread"),
        ("MLX406", 8, 38, "a tier that ends before it starts"),
        ("MLX406", 9, 5, "`ZZZ` is a single key: a leg ratio or tier needs a pair of legs"),
        (
            "MLX406",
            11,
            5,
            "`RUT`'s legs overlap: this one shares months with the leg at line 10",
        ),
        ("MLX300", 12, 28, "a tier bound of `5%` is not a duration"),
    ]
