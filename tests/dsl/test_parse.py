"""Parsing and building: spans, units, expressions, comments, syntax errors in words."""

import datetime as dt

import pytest

from marginlex.dsl import RulebookError, parse
from marginlex.dsl.model import rulebook as m

HEAD = 'rulebook r "R"\n'


def one(text: str) -> m.Statement:
    return parse(HEAD + text, "t.mlx").statements[0]


def test_header_fields() -> None:
    book = parse(
        'rulebook sec "SEC book" jurisdiction SEC version "2026.1"\n'
        '  effective from 2026-01-01 until 2027-01-01 cites "15c3-1" extends a, b'
    )
    h = book.header
    assert (h.id, h.title, h.jurisdiction, h.version) == ("sec", "SEC book", "SEC", "2026.1")
    assert h.effective == m.Effective(
        start=dt.date(2026, 1, 1), until=dt.date(2027, 1, 1), span=h.effective.span
    )
    assert [s.name for s in h.extends] == ["a", "b"]


@pytest.mark.parametrize(
    ("literal", "amount", "unit", "base"),
    [
        ("100,000 USD", 100000.0, m.Unit.USD, 100000.0),
        ("0.5%", 0.5, m.Unit.PERCENT, 0.005),
        ("25 bp", 25.0, m.Unit.BP, 0.0025),
        ("3 months", 3.0, m.Unit.MONTHS, 0.25),
        ("1 year", 1.0, m.Unit.YEARS, 1.0),
        ("73 days", 73.0, m.Unit.DAYS, 0.2),
        ("3x", 3.0, m.Unit.MULTIPLE, 3.0),
    ],
)
def test_quantities_carry_units(literal: str, amount: float, unit: m.Unit, base: float) -> None:
    p = one(f'parameter p = {literal} cites "x"')
    assert isinstance(p, m.Parameter)
    assert (p.value.amount, p.value.unit) == (amount, unit)
    assert p.value.base == pytest.approx(base)


def test_spans_point_at_the_source() -> None:
    s = one('eligibility e for account cites "x"\n  require a: account.equity >= 5 USD because "y"')
    assert isinstance(s, m.Eligibility)
    cond = s.requirements[0].condition
    assert isinstance(cond, m.Compare)
    assert (cond.left.span.line, cond.left.span.column, cond.left.span.end_column) == (3, 14, 28)
    assert cond.left.span.file == "t.mlx"


def test_expression_tree() -> None:
    s = one(
        'scope s cites "x" decides account where not (carrier member_of dco or owner.ecp)'
        " and cross_margin in account.agreements and account.kind not in {cash, margin}"
    )
    assert isinstance(s, m.Scope)
    where = s.where
    assert isinstance(where, m.And)
    first, second, third = where.items
    assert isinstance(first, m.Not) and isinstance(first.item, m.Or)
    graph = first.item.items[0]
    assert isinstance(graph, m.GraphPredicate)
    assert (graph.subject, graph.relation, graph.target_kind) == (
        m.Subject.CARRIER,
        m.RelationKind.MEMBER_OF,
        "dco",
    )
    assert isinstance(second, m.Membership) and not second.negated
    assert isinstance(third, m.Membership) and third.negated


def test_override_and_remove() -> None:
    book = parse(HEAD + 'override parameter p = 5% cites "x"\nremove haircut h cites "y"')
    over, rem = book.statements
    assert isinstance(over, m.Parameter) and over.override
    assert isinstance(rem, m.Removal) and rem.target_kind == m.StatementKind.HAIRCUT


def test_comments_are_collected() -> None:
    book = parse('# top\nrulebook r "R"  # trailing\n')
    assert [(c.text, c.span.line) for c in book.comments] == [("# top", 1), ("# trailing", 2)]


def test_same_input_same_model() -> None:
    text = HEAD + 'parameter p = 5 USD cites "x"'
    assert parse(text) == parse(text)


def test_a_control_character_is_refused_even_in_a_text_or_comment() -> None:
    """A NUL in a citation or a comment was checked clean, and a PostgreSQL ledger then
    refused the rulebook's text mid-run; each is now MLX102 where it stands."""
    text = HEAD + '# a note\x00\nparameter p = 5 USD cites "x\x01y" status verified'
    with pytest.raises(RulebookError) as info:
        parse(text, "t.mlx")
    found = [(d.code.value, d.span.line, d.span.column, d.message) for d in info.value.diagnostics]
    line = HEAD.count("\n") + 1
    assert found == [
        (
            "MLX102",
            line,
            9,
            "the control character \\x00 cannot appear in a rulebook, not even in a text or "
            "comment",
        ),
        (
            "MLX102",
            line + 1,
            29,
            "the control character \\x01 cannot appear in a rulebook, not even in a text or "
            "comment",
        ),
    ]


@pytest.mark.parametrize(
    ("char", "where", "said"),
    [
        ("\u202e", "a citation", "the bidirectional control U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("\u2067", "a comment", "the bidirectional control U+2067 (RIGHT-TO-LEFT ISOLATE)"),
        ("\u2028", "a comment", "the line separator U+2028 (LINE SEPARATOR)"),
        ("\x9b", "a citation", "the control character \\x9b"),  # CSI on some terminals
    ],
)
def test_what_a_reader_would_not_see_as_parsed_is_refused(char: str, where: str, said: str) -> None:
    """Trojan Source: a bidirectional control shows a citation or a commented line in
    another order than the parser reads it; at a line separator an editor starts a new line
    (what looks like a rule is the end of a comment). Each was checked clean."""
    body = 'parameter p = 5 USD cites "x{c}y" status verified'
    if where == "a comment":
        body = '# note{c}parameter q = 0 USD\nparameter p = 5 USD cites "x" status verified'
    text = HEAD + body.format(c=char)
    with pytest.raises(RulebookError) as info:
        parse(text, "t.mlx")
    (found,) = info.value.diagnostics
    line = HEAD.count("\n") + 1
    column = body.index("{c}") + 1
    assert (found.code.value, found.span.line, found.span.column) == ("MLX102", line, column)
    assert found.message.startswith(f"{said} cannot appear in a rulebook, not even in a text")


@pytest.mark.parametrize("char", ["\ud800", "\udfff"])
def test_a_lone_surrogate_is_refused_not_a_serialization_error(char: str) -> None:
    """A language server client may send a text holding half of a UTF-16 pair (JSON's
    ``"\\ud800"``): the checker stopped with pydantic's "surrogates not allowed" instead of
    a diagnostic, and the editor got none. MLX102 at it: line 2 (``HEAD`` is one line),
    column 29 (``parameter p = 5 USD cites "x`` is 9+2+2+2+4+6+2+1 = 28 characters)."""
    from marginlex.dsl import Library, check_text  # noqa: PLC0415

    text = HEAD + f'parameter p = 5 USD cites "x{char}y" status verified'
    found = check_text(text, "t.mlx", Library(None))
    line = HEAD.count("\n") + 1
    assert [(d.code.value, d.span.line, d.span.column) for d in found] == [("MLX102", line, 29)]
    assert found[0].message == (
        f"U+{ord(char):04X} is half of a UTF-16 surrogate pair, not a character: it cannot "
        "appear in a rulebook, not even in a text or comment"
    )
    # a rulebook clean but for it (the checker's every pass ran, and one raised)
    clean = (
        'rulebook r "R"\n  cites "c"\n\nparameter p = 5 USD\n  cites "x{c}y"\n'
        '  status illustrative\n  accept MLX215 because "x"\n'
    )
    assert check_text(clean.format(c=""), "t.mlx", Library(None)) == []
    found = check_text(clean.format(c=char), "t.mlx", Library(None))
    # `  cites "x` is 2+5+1+1+1 = 10 characters: the surrogate is column 11 of line 5
    assert [(d.code.value, d.span.line, d.span.column) for d in found] == [("MLX102", 5, 11)]


def test_a_diagnostic_shows_no_control_character_and_points_at_the_right_line() -> None:
    """The source line under an error was printed as it stood: ESC [2J cleared the terminal
    of whoever ran check on a hostile file. It is shown one visible character per control
    (the caret still under it), and lines are counted at line feeds only, as the parser
    counts them (a form feed had moved every later line one down)."""
    text = HEAD + '# \x0c\nparameter p = 5 USD cites "a\x1b[2Jb\u202ec" status verified'
    with pytest.raises(RulebookError) as info:
        parse(text, "t.mlx")
    shown = [d.render(text) for d in info.value.diagnostics]
    assert len(shown) == 3
    assert all(s.isprintable() for d in shown for s in d.splitlines()), shown
    line = HEAD.count("\n") + 2
    source, caret = shown[1].splitlines()[1:3]
    assert source == f'{line:>5} | parameter p = 5 USD cites "a␛[2Jb�c" status verified'
    assert caret.index("^") == source.index("␛")
    source, caret = shown[2].splitlines()[1:3]
    assert caret.index("^") == source.index("�")


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        (
            "parameter p = 5 USD cites \u201cx\u201d",
            "`\u201c` U+201C (LEFT DOUBLE QUOTATION MARK) is a curly quote, as a word processor "
            "writes it",
            'texts go in straight double quotes `"`',
        ),
        (
            'parameter\u00a0p = 5 USD cites "x"',
            "an invisible character here, U+00A0 (NO-BREAK SPACE), as text pasted from a web "
            "page or a word processor brings",
            "retype the space here as an ordinary one",
        ),
        (
            'parameter p\u200b = 5 USD cites "x"',
            "an invisible character here, U+200B (ZERO WIDTH SPACE)",
            "delete it if none is meant",
        ),
        (
            'parameter p\u2013q = 5 USD cites "x"',
            "`\u2013` U+2013 (EN DASH) is a dash, not a hyphen",
            "names join words with _",
        ),
        (
            'parameter p\u00e9 = 5 USD cites "x"',
            "the character `\u00e9` U+00E9 (LATIN SMALL LETTER E WITH ACUTE) cannot appear here",
            "names use ASCII letters, digits and _",
        ),
    ],
)
def test_pasted_look_alikes_are_named_with_what_to_type(text: str, message: str, hint: str) -> None:
    """Text pasted from a word processor or a web page brings curly quotes, dashes and
    invisible spaces: each is named by its code point (an invisible one showed as ``` ` ` ```)
    with what to type instead."""
    with pytest.raises(RulebookError) as info:
        parse(HEAD + text, "t.mlx")
    d = info.value.diagnostics[0]
    assert d.code.value == "MLX102"
    assert d.message.startswith(message)
    assert hint in (d.hint or "")


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ('eligibility e for account cites "x" require a: owner.ecp = true', "MLX101", "`because`"),
        ('parameter p = 5 USD cites "x" status sure', "MLX100", "`verified`"),
        ('haircutt h for collateral cites "x" rate 5%', "MLX100", "did you mean `haircut`?"),
        ('parameter p = 5 USD cites "x', "MLX102", "no closing"),
        ("parameter p = 5 USD cites 'x'", "MLX102", "cannot appear here"),
        ('haircut h for collateral cites "x" rate 5% rate 6%', "MLX105", "given twice"),
        ('margin m cites "x" strategy based long_stok 5%', "MLX106", "`long_stock`"),
        ('parameter p = 10,0000 USD cites "x"', "MLX100", "`10,0000` is not a number"),
        ('parameter p = 1.000,50 USD cites "x"', "MLX100", "`1.000,50` is not a number"),
        ('parameter p = 1,00 USD cites "x"', "MLX100", "groups the digits in threes"),
    ],
)
def test_syntax_errors_in_words(text: str, code: str, words: str) -> None:
    with pytest.raises(RulebookError) as info:
        parse(HEAD + text, "t.mlx")
    d = info.value.diagnostics[0]
    assert d.code.value == code
    assert words in d.message + (d.hint or "")
    # never lark's terminal names
    assert "NAME" not in d.message and "LBRACE" not in d.message
