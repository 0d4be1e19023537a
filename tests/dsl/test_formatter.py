"""``marginlex fmt``: idempotent, meaning-preserving, comments kept, every node handled."""

from pathlib import Path

import pytest
from dsl_helpers import without_spans
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marginlex.dsl import format_text, parse, shipped_dir
from marginlex.dsl.format.formatter import HANDLERS
from marginlex.dsl.model import rulebook as m

DATA = Path(__file__).parents[1] / "data" / "dsl" / "valid"
FILES = [*sorted(shipped_dir().glob("*.mlx")), *sorted(DATA.glob("*.mlx"))]


def test_every_model_node_type_has_a_handler() -> None:
    missing = [t.__name__ for t in (*m.NODE_TYPES, m.Comment) if t not in HANDLERS]
    assert missing == []


def roundtrip(text: str) -> None:
    once = format_text(text)
    assert format_text(once) == once
    assert without_spans(parse(once)) == without_spans(parse(text))
    # comments are kept word for word, each its own (none merged into another)
    assert _comments(parse(once)) == _comments(parse(text))


def _comments(book: m.Rulebook) -> list[str]:
    return sorted(c.text for c in book.comments)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_files_round_trip(path: Path) -> None:
    roundtrip(path.read_text())


def test_messy_layout_becomes_canonical() -> None:
    messy = (
        '# top\nrulebook r "R" cites "c"   parameter p = 5 USD status verified cites "x"'
        '  # about p\n  haircut h for collateral cites "y" by asset USD 0% STOCK   15%'
    )
    assert format_text(messy) == (
        "# top\n"
        'rulebook r "R"\n'
        '  cites "c"\n'
        "\n"
        "parameter p = 5 USD\n"
        '  cites "x"\n'
        "  status verified  # about p\n"
        "\n"
        "haircut h for collateral\n"
        '  cites "y"\n'
        "  by asset\n"
        "    USD 0%\n"
        "    STOCK 15%\n"
    )


# ---- generated rulebooks -----------------------------------------------------------------

NAMES = st.sampled_from(["alpha", "beta", "gamma", "delta_2", "x"])
FIELDS = st.sampled_from(
    ["account.equity", "account.kind", "owner.ecp", "carrier.kind", "account.agreements"]
)
QUANTITIES = st.sampled_from(
    ["5 USD", "100,000 USD", "0.5%", "15%", "25 bp", "3 months", "1 year", "2 years", "3x", "7"]
)
ATOMS = st.one_of(
    FIELDS,
    NAMES,
    QUANTITIES,
    st.just("eligible(alpha)"),
    st.just("account.holds(sbs)"),
    st.just("{cash, margin}"),
    st.just('"A-1"'),
    st.just("2026-01-31"),
    st.just("true"),
)
COMPARISONS = st.one_of(
    ATOMS,
    st.tuples(ATOMS, st.sampled_from(["=", "!=", "<", ">=", "in", "not in"]), ATOMS).map(" ".join),
    st.just("carrier member_of dco"),
)
EXPRS = st.recursive(
    COMPARISONS,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(" ".join),
        inner.map(lambda e: f"not ({e})"),
        inner.map(lambda e: f"({e})"),
    ),
    max_leaves=6,
)
CLAUSES = st.lists(
    st.sampled_from(
        ['cites "src"', "status illustrative", "effective from 2026-01-01 until 2027-01-01"]
    ),
    unique=True,
)


@st.composite
def statements(draw: st.DrawFn) -> str:
    sid = draw(NAMES) + str(draw(st.integers(0, 99)))
    clauses = " ".join(draw(CLAUSES))
    kind = draw(st.integers(0, 11))
    e = draw(EXPRS)
    q = draw(QUANTITIES)
    if kind == 0:
        return f"parameter {sid} = {q} {clauses}"
    if kind == 1:
        return f"scope {sid} {clauses} decides account where {e}"
    if kind == 2:
        return f'eligibility {sid} for account {clauses} require r: {e} because "why"'
    if kind == 3:
        return (
            f"haircut {sid} for collateral where {e} {clauses} by residual_maturity "
            f"under 3 months {q} [secondary] otherwise 6%"
        )
    if kind == 4:
        return (
            f"margin {sid} {clauses} applies to account where {e} scenario grid points 10 "
            f"range when {e} up {q} down 8% as class_group g minimum 1 USD per contract"
        )
    if kind == 5:
        return f"offset {sid} {clauses} sets merge account where {e} by owner and carrier"
    if kind == 6:
        return (
            f"segregation {sid} {clauses} collateral of account where {e} "
            f"must not reach account where {e}"
        )
    if kind == 7:
        return f"concentration {sid} for collateral where {e} {clauses} at most {q} of requirement"
    if kind == 8:
        return (
            f"margin {sid} {clauses} span scan volatility shift {q} extreme 3x counted 33% "
            f"ignore instrument scan_range range when {e} {q} range otherwise 7%"
        )
    if kind == 9:
        return (
            f"override margin {sid} {clauses} strategy based long_stock {q} "
            f"short_equity_option 20% at least {q} [verified]"
        )
    if kind == 10:
        return (
            f"offset {sid} {clauses} credit between class groups by instrument.product "
            f'index_future {q} index_future with ust_future 10% [secondary, cites "n"]'
        )
    return f"remove haircut {sid} {clauses}"


SEPARATORS = st.sampled_from([" ", "\n", "\n\n  ", "   ", "  # note\n", "\n# line\n"])


@st.composite
def rulebooks(draw: st.DrawFn) -> str:
    parts = ['rulebook gen "Generated"', *draw(st.lists(statements(), max_size=4))]
    text = ""
    for part in parts:
        words = part.split(" ")
        for w in words:
            text += w + draw(SEPARATORS)
    return text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rulebooks())
def test_generated_rulebooks_round_trip(text: str) -> None:
    roundtrip(text)


def test_comments_stay_where_they_were_written() -> None:
    """Lines joined by the layout each keep their trailing comment (on lines of their own
    before the joined line), a comment line inside a clause goes before it, and a comment
    between two clauses stays between them."""
    text = (
        'rulebook r "R"\n'
        "parameter pdt = 25,000 USD\n"
        '  cites "y"\n'
        "margin m1\n"
        '  cites "z"  # c0\n'
        "  # between cites and status\n"
        "  status secondary\n"
        "  applies to account where account.origin = customer  # c1\n"
        "    and account.pattern_day_trader  # c2\n"
        "  minimum equity pdt\n"
        "margin m2\n"
        '  cites "z"\n'
        "  applies to account where account.origin = customer\n"
        "    # only SEC accounts\n"
        "    and account.regime = SEC\n"
        "  minimum equity pdt\n"
    )
    once = format_text(text)
    assert once.split("margin m1\n")[1] == (
        '  cites "z"  # c0\n'
        "  # between cites and status\n"
        "  status secondary\n"
        "  # c1\n"
        "  # c2\n"
        "  applies to account where account.origin = customer and account.pattern_day_trader\n"
        "  minimum equity pdt\n"
        "\n"
        "margin m2\n"
        '  cites "z"\n'
        "  # only SEC accounts\n"
        "  applies to account where account.origin = customer and account.regime = SEC\n"
        "  minimum equity pdt\n"
    )
    roundtrip(text)


def test_a_margin_statement_may_be_followed_by_a_concentration_statement() -> None:
    """After a margin's items, `concentration` begins either the margin's add-on or the next
    statement; `concentration add` is read as one word, so both parse and format back."""
    text = (
        'rulebook r "R"\n'
        'margin m cites "x"\n'
        "  concentration add 5% when class group exceeds 20% of equity\n"
        'concentration c for collateral cites "y"\n'
        "  at most 40% of initial requirement\n"
        'margin n cites "z"\n'
        "  rates\n"
        "    otherwise 10%\n"
        'concentration d for collateral cites "w"\n'
        "  at most 10% of requirement\n"
    )
    book = parse(text, "t.mlx")
    assert [(type(s).__name__, s.id) for s in book.statements] == [
        ("Margin", "m"),
        ("Concentration", "c"),
        ("Margin", "n"),
        ("Concentration", "d"),
    ]
    first = book.statements[0]
    assert isinstance(first, m.Margin) and isinstance(first.method, m.ConcentrationAddOn)
    once = format_text(text)
    assert "concentration add 5% when class group exceeds 20% of equity" in once
    assert without_spans(parse(once)) == without_spans(book)


SHORT_STOCK = (
    'rulebook r "R"\n  cites "c"\n\nmargin m\n  cites "c"\n  strategy based\n'
    "    short_stock 30% at least 5 USD per share, under 5 USD a share 100% at least 2.50 USD"
    " per share\n"
)


def test_a_short_stock_row_s_per_share_figures_parse_and_round_trip() -> None:
    """FINRA 4210(c) in a row: the typed fields, the canonical layout (the tier kept whole
    on its own line), and the same meaning after formatting."""
    book = parse(SHORT_STOCK)
    (row,) = book.statements[0].method.rows  # type: ignore[union-attr]
    assert row.floor is None
    assert (row.per_share.amount, row.per_share.unit) == (5.0, m.Unit.USD)
    tier = row.low_price
    assert (tier.under.amount, tier.rate.amount, tier.per_share.amount) == (5.0, 100.0, 2.5)
    assert format_text(SHORT_STOCK).endswith(
        "    short_stock 30% at least 5 USD per share,\n"
        "      under 5 USD a share 100% at least 2.50 USD per share\n"
    )
    roundtrip(SHORT_STOCK)
    # a row written as before has neither
    plain = parse(SHORT_STOCK.replace(", under 5 USD a share 100% at least 2.50 USD per share", ""))
    (row,) = plain.statements[0].method.rows  # type: ignore[union-attr]
    assert row.low_price is None and row.per_share is not None


BACKSLASH_AND_TAB = (
    'rulebook r "R"\n  cites "C:\\rules\\house.pdf"\n\nparameter p = 5 USD\n'
    '  cites "policy\t7 \\ section 2"\n\neligibility e for account\n  cites "c"\n'
    '  require k: account.kind = "a\\b" because "tab\there"\n'
)


def test_a_backslash_or_a_tab_in_a_text_is_kept_as_written(tmp_path: Path) -> None:
    """The language has no escapes: ``fmt`` wrote texts as JSON strings, so each run doubled
    a citation's backslashes (``C:\\rules`` became ``C:\\\\rules``, then ``C:\\\\\\\\rules``)
    and a tab became the two characters ``\\t``: the citation and the rulebook's sha256
    changed, and ``fmt --check`` never passed."""
    once = format_text(BACKSLASH_AND_TAB)
    assert 'cites "C:\\rules\\house.pdf"' in once  # one backslash each, as written
    assert 'cites "policy\t7 \\ section 2"' in once  # the tab itself, not `\t`
    assert 'account.kind = "a\\b" because "tab\there"' in once
    roundtrip(BACKSLASH_AND_TAB)
    book = parse(once)
    assert book.header.citation is not None
    assert book.header.citation.text == "C:\\rules\\house.pdf"  # 18 characters, 2 backslashes
    # through the command: a second `fmt` changes nothing
    from typer.testing import CliRunner  # noqa: PLC0415

    from marginlex.cli import app  # noqa: PLC0415

    path = tmp_path / "r.mlx"
    path.write_text(BACKSLASH_AND_TAB, encoding="utf-8")
    assert CliRunner().invoke(app, ["fmt", str(path)]).exit_code == 0
    assert path.read_text(encoding="utf-8") == once
    assert CliRunner().invoke(app, ["fmt", "--check", str(path)]).exit_code == 0


def test_a_lone_carriage_return_in_a_text_is_a_line_end_as_in_a_file() -> None:
    """Text given in memory (not read from a file, where it is a line end): a carriage
    return inside a quoted text was written back as the two characters ``\\r``."""
    from marginlex.dsl.diagnostics import RulebookError  # noqa: PLC0415

    with pytest.raises(RulebookError) as caught:
        format_text('rulebook r "R"\n  cites "a\rb"\n')
    (found,) = caught.value.diagnostics
    assert (found.code, found.span.line, found.span.column) == ("MLX102", 2, 9)
    assert 'no closing `"` on its line' in found.message
