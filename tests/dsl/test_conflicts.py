"""The SMT checker (dsl/check/smt.py, conflict_pass.py): the engine's semantics, accept, placement.

The bad-input files of each finding are in ``tests/data/dsl/invalid/`` (``test_files.py``)
and their exact output in ``docs/errors.md`` (``test_errors_doc.py``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marginlex.dsl import check_text
from marginlex.dsl.check.smt import World
from marginlex.dsl.model import rulebook as m
from marginlex.engine.plan.context import RowContext
from marginlex.engine.plan.expressions import mask
from marginlex.engine.plan.steps import Plan

# ---- the solver's semantics are the engine's ------------------------------------------------

INSTRUMENT = m.Subject.INSTRUMENT
PRODUCTS = ["stock", "index_future", "ust_note", "crypto"]
CLASSES = ["high_cap_broad", "broad", "narrow"]
ENUMS = {"product": PRODUCTS, "index_class": CLASSES}
NUMBERS = {"residual_maturity": m.Unit.YEARS, "scan_range": m.Unit.PERCENT}


def _field(name: str) -> m.FieldRef:
    return m.FieldRef(subject=INSTRUMENT, name=name)


def _enum_leaf() -> st.SearchStrategy[m.Node]:
    def leaves(f: str) -> st.SearchStrategy[m.Node]:
        values = st.sampled_from(ENUMS[f])
        compare = st.builds(
            lambda op, v: m.Compare(op=op, left=_field(f), right=m.Symbol(name=v)),
            st.sampled_from([m.CmpOp.EQ, m.CmpOp.NE]),
            values,
        )
        member = st.builds(
            lambda vs, neg: m.Membership(
                item=_field(f),
                collection=m.SetOf(items=tuple(m.Symbol(name=v) for v in vs)),
                negated=neg,
            ),
            st.lists(values, min_size=1, max_size=3, unique=True),
            st.booleans(),
        )
        return st.one_of(compare, member)

    return st.sampled_from(sorted(ENUMS)).flatmap(leaves)


def _number_leaf() -> st.SearchStrategy[m.Node]:
    return st.builds(
        lambda f, op, amount: m.Compare(
            op=op,
            left=_field(f),
            right=m.Quantity(amount=amount, unit=NUMBERS[f], text=str(amount)),
        ),
        st.sampled_from(sorted(NUMBERS)),
        st.sampled_from(list(m.CmpOp)),
        st.sampled_from([0, 1, 2, 5, 10]),
    )


CONDITIONS = st.recursive(
    st.one_of(_enum_leaf(), _number_leaf()),
    lambda inner: st.one_of(
        st.builds(lambda xs: m.And(items=tuple(xs)), st.lists(inner, min_size=2, max_size=3)),
        st.builds(lambda xs: m.Or(items=tuple(xs)), st.lists(inner, min_size=2, max_size=3)),
        st.builds(lambda x: m.Not(item=x), inner),
    ),
    max_leaves=6,
)
ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "product": st.sampled_from(PRODUCTS),
            "index_class": st.sampled_from([*CLASSES, None]),
            # On the boundaries the conditions use, and blank.
            "residual_maturity": st.sampled_from([0.0, 1.0, 2.0, 3.5, None]),
            "scan_range": st.sampled_from([0.0, 0.01, 0.02, 0.1, 0.5, None]),
        }
    ),
    min_size=1,
    max_size=6,
)
PLAN = Plan(
    rulebook_id="t", title="", version="", as_of=dt.date(2026, 1, 1), parameters={}, steps=()
)


@settings(max_examples=150, deadline=None)
@given(condition=CONDITIONS, rows=ROWS)
def test_a_condition_holds_for_the_solver_exactly_where_the_engine_finds_it(
    condition: m.Node, rows: list[dict[str, object]]
) -> None:
    frame = pd.DataFrame(rows)
    for col in NUMBERS:
        frame[col] = frame[col].astype(np.float64)
    engine = mask(condition, RowContext("instrument", len(rows), {INSTRUMENT: frame}), PLAN)
    world = World(params={}, eligibilities={})
    formula = world.condition(condition)
    for row, expected in zip(rows, engine, strict=True):
        fixed = [world.assign(_field(k), v) for k, v in row.items()]  # type: ignore[arg-type]
        assert (world.solve([formula, *fixed]) is not None) == bool(expected), (row, condition)


# ---- accept -----------------------------------------------------------------------------------

SIDE_BY_SIDE = """rulebook both "SEC and CFTC side by side"
  cites "test"
  extends sec, cftc
"""


def _codes(text: str) -> list[tuple[str, int, int]]:
    return [(d.code.value, d.span.line, d.span.column) for d in check_text(text, "both.mlx")]


def test_side_by_side_bases_are_reported_at_extends_with_their_files() -> None:
    found = check_text(SIDE_BY_SIDE, "both.mlx")
    assert [(d.code.value, d.span.line, d.span.column) for d in found] == [
        ("MLX602", 3, 16),
        ("MLX607", 3, 16),
    ]
    messages = [d.message for d in found]
    assert messages[0].startswith("`cftc_treasuries` (cftc.mlx:217) never applies: a collateral")
    assert "takes `sec_treasuries` (sec.mlx:353)" in messages[0]
    # Since SEC methods apply to customer accounts only (house accounts take 15c3-1 haircuts),
    # a house CFTC account reaches `cftc_span`: the finding is an overlap, no longer "never".
    assert messages[1] == (
        "an account with regime CFTC, origin customer and eligible(portfolio_margin) matches both"
        " `cftc_span` (cftc.mlx:147) and `sec_portfolio_margin` (sec.mlx:90), which comes first"
        " and wins"
    )
    # No MLX609: `cftc_spread_credits` credits each leg (SPAN scans), a kind of its own.


def test_findings_at_extends_are_accepted_in_the_header() -> None:
    accepted = SIDE_BY_SIDE + (
        '  accept MLX602 because "SEC haircuts first"\n'
        '  accept MLX607 because "a study of SEC methods only"\n'
    )
    assert _codes(accepted) == []


def test_a_per_leg_credit_rule_and_a_netting_one_do_not_conflict() -> None:
    # One credit rule of each kind is used (per leg: SPAN scans; point by point: the grid);
    # a second rule of one kind is never used (MLX609).
    text = (
        'rulebook two_credits "Two kinds of credit"\n  cites "test"\n'
        'offset grid_credits\n  cites "test"\n'
        "  credit between class groups by instrument.index_class\n    high_cap_broad 90%\n"
        'offset span_credits\n  cites "test"\n'
        "  credit each leg between class groups by instrument.product\n    index_future 50%\n"
    )
    assert _codes(text) == []
    again = text + (
        'offset more_span_credits\n  cites "test"\n'
        "  credit each leg between class groups by instrument.product\n    ust_future 30%\n"
    )
    assert _codes(again) == [("MLX609", 11, 1)]


def test_an_accept_on_another_statement_accepts_nothing_and_says_so() -> None:
    text = SIDE_BY_SIDE + (
        'parameter house_minimum = 1 USD\n  cites "test"\n  accept MLX607 because "misplaced"\n'
    )
    found = _codes(text)
    assert ("MLX607", 3, 16) in found
    assert ("MLX610", 6, 3) in found


def test_a_removal_that_leaves_accounts_without_a_method_is_reported_at_extends() -> None:
    text = (
        'rulebook no_reg_t "SEC without Reg T"\n  cites "t"\n  extends sec\n'
        'remove margin sec_strategy_based\n  cites "t"\n'
    )
    found = check_text(text, "no_reg_t.mlx")
    assert [(d.code.value, d.span.line, d.span.column) for d in found] == [("MLX608", 3, 11)]
    # the solver's witness may be of any kind but cash (sec_cash_account still applies to it)
    witness = re.match(
        r"an account with regime SEC, origin customer, kind (\w+) and not"
        r" eligible\(portfolio_margin\) is in scope but no margin method applies to it",
        found[0].message,
    )
    assert witness is not None and witness.group(1) != "cash", found[0].message


def test_a_finding_a_base_accepts_is_not_reported_again_in_its_variants() -> None:
    # harmonized accepts its grid's overlapping rows (MLX603); a variant changing a
    # parameter inherits the statement and its accept.
    text = (
        'rulebook v "Variant"\n  cites "t"\n  extends harmonized\n'
        'override parameter pm_offset_broad = 80%\n  cites "t"\n'
    )
    assert _codes(text) == []


def test_a_scope_of_this_file_is_where_a_method_it_starves_is_reported() -> None:
    # The scope is part of why customer CFTC accounts take an SEC method (MLX607 since SEC
    # methods apply to customer accounts only): the finding is reported there, and accepted there.
    scope = (
        'scope everyone\n  cites "test"\n  decides account where account.regime in {SEC, CFTC}\n'
    )
    assert ("MLX607", 4, 1) in _codes(SIDE_BY_SIDE + scope)
    accepted = SIDE_BY_SIDE + scope + '  accept MLX607 because "SEC methods only"\n'
    assert "MLX607" not in [code for code, _, _ in _codes(accepted)]


def test_only_findings_can_be_accepted() -> None:
    text = 'rulebook r "R"\n  cites "t"\n  accept MLX300 because "units"\n'
    found = check_text(text, "r.mlx")
    assert [(d.code.value, d.span.line, d.span.column) for d in found] == [("MLX106", 3, 10)]
    assert found[0].hint == (
        "`accept` takes a checker warning (MLX214, MLX215, MLX600 to MLX609); errors must be fixed"
    )


def test_an_accept_needs_a_reason() -> None:
    text = 'rulebook r "R"\n  cites "t"\n  accept MLX600 because " "\n'
    assert [d.code.value for d in check_text(text, "r.mlx")] == ["MLX104"]


# ---- what is compared -------------------------------------------------------------------------

GRIDS = """rulebook r "Dated methods"
  effective from 2026-01-01
  cites "test"
margin old_rates
  cites "test"
  effective until 2027-01-01
  applies to account where account.regime = SEC
  rates otherwise 10%
margin new_rates
  cites "test"
  effective from {start}
  applies to account where account.kind = margin
  rates otherwise 12%
margin rest
  cites "test"
  rates otherwise 25%
"""


@pytest.mark.parametrize(
    ("start", "expected"),
    [("2027-01-01", []), ("2026-07-01", [("MLX607", 9, 1)])],
)
def test_dated_versions_conflict_only_when_in_force_together(
    start: str, expected: list[tuple[str, int, int]]
) -> None:
    assert _codes(GRIDS.format(start=start)) == expected


def test_a_specific_row_before_a_general_one_is_the_first_match_idiom() -> None:
    text = """rulebook r "Ladder"
  cites "test"
margin strategy
  cites "test"
  rates
    when instrument.product = ust_note and instrument.residual_maturity < 1 year 1%
    when instrument.product = ust_note 2%
    otherwise 25%
"""
    assert _codes(text) == []


def test_blank_fields_are_a_gap_unless_the_instrument_range_is_preferred() -> None:
    scan = """rulebook r "Scan"
  cites "test"
margin scan
  cites "test"
  span scan
    volatility shift 25%
    extreme 3x counted 33%
    {prefer}
    range when instrument.index_class in {{high_cap_broad, broad}} 7%
    range when not instrument.index_class in {{high_cap_broad, broad}} 9%
"""
    # `not (x in S)` holds for a blank x, so these two rows cover every instrument ...
    assert _codes(scan.format(prefer="ignore instrument scan_range")) == []
    gap = scan.replace("when not instrument.index_class in", "when instrument.index_class not in")
    # ... but `x not in S` is false for a blank x: an instrument without index_class has no row,
    assert _codes(gap.format(prefer="ignore instrument scan_range")) == [("MLX605", 10, 5)]
    # unless it has a scan_range of its own and the scan prefers it: the gap is then only
    # for instruments with neither.
    found = check_text(gap.format(prefer="prefer instrument scan_range"), "r.mlx")
    assert found[0].message.startswith(
        "an instrument with no index_class and no scan_range of its own matches no range row"
    )


def test_a_rate_table_with_a_gap_would_charge_nothing() -> None:
    text = """rulebook r "Rates"
  cites "test"
margin house_rates
  cites "test"
  rates
    when instrument.product in {index_future, ust_future} 5%
"""
    found = check_text(text, "r.mlx")
    assert [(d.code.value, d.span.line, d.span.column) for d in found] == [("MLX605", 6, 5)]
    assert found[0].message == (
        "a position with instrument.product index_option matches no rate row of `house_rates`:"
        " its rate would be 0%"
    )


def test_a_rulebook_without_conditions_does_not_load_the_solver() -> None:
    code = (
        "import sys; from marginlex.dsl import check_text; "
        'check_text(\'rulebook r "R" cites "t" parameter p = 5 USD cites "t"\'); '
        "print('z3' in sys.modules); "
        "from marginlex.dsl import load_rulebook; load_rulebook('sec'); print('z3' in sys.modules)"
    )
    # the conflict pass's kept answers off (MARGINLEX_CACHE_DIR empty): sec is proved here
    env = {**os.environ, "MARGINLEX_CACHE_DIR": ""}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert done.stdout.split() == ["False", "True"]


def test_a_scope_deciding_no_account_is_not_blamed_on_an_eligibility_rule() -> None:
    text = """rulebook r "R"
  cites "t"
scope nobody
  cites "t"
  decides account where account.regime = SEC and account.regime = CFTC
eligibility e for account
  cites "t"
  require a: account.kind = margin because "x"
"""
    assert "MLX601" not in [code for code, _, _ in _codes(text)]


def test_a_long_rate_table_is_checked_in_queries_of_constant_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each row of a table is checked against the rows before it. Those were written out per
    # row (row j: j negated conditions, 500 rows ~125,000 terms built and 4 s of CPU, the
    # fuzzer's 499-row mutant near its guard); now "no earlier row matches" grows by one term
    # a row, so a row's queries hold three formulas whatever its place, and the findings are
    # the same: each copy of a row is unreachable behind the first (MLX604), nothing else.
    monkeypatch.setenv("MARGINLEX_CACHE_DIR", "")  # the conflict pass runs, not a kept answer
    path = os.path.join(os.path.dirname(m.__file__), "..", "..", "rulebooks", "sec.mlx")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    row = "    when instrument.product in {ust_bill, ust_note, ust_bond, ust_strip}\n"
    row += "      and instrument.residual_maturity < 3 months 0%\n"
    assert text.count(row) == 1
    sizes: list[int] = []
    real = World._check

    def counted(self: World, formulas: list[object], *, model: bool) -> object:
        sizes.append(len(formulas))
        return real(self, formulas, model=model)  # type: ignore[arg-type]

    monkeypatch.setattr(World, "_check", counted)
    plain = [d.code.value for d in check_text(text, "sec.mlx")]
    sizes.clear()
    found = check_text(text.replace(row, row * 121), "sec.mlx")
    # the only queries over five formulas: the table's gap query (one negated row each)
    big = [n for n in sizes if n > 5]
    assert len(big) <= 2 and max(big) < 200, sorted(big)
    codes = [d.code.value for d in found]
    assert codes.count("MLX604") == plain.count("MLX604") + 120
    assert sorted(c for c in codes if c != "MLX604") == sorted(c for c in plain if c != "MLX604")
