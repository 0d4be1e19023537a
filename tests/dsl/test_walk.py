"""The model walk (``dsl/model/walk.py``) and the grammar's words (``parser.keywords``):
what the language server asks of the one model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from marginlex.dsl import parse, shipped_dir
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.walk import children, contains, nodes_at, walk
from marginlex.dsl.parser import keywords, unit_words

GRAMMAR = (Path(__file__).parents[2] / "dsl" / "grammar.lark").read_text("utf-8")
SHIPPED = sorted(shipped_dir().rglob("*.mlx"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_node_is_found_at_its_own_start(path: Path) -> None:
    """Children lie inside their parent's span, so the walk down from the root reaches
    every node written at a place (the property the language server's hover rests on)."""
    book = parse(path.read_text("utf-8"), str(path))
    nodes = [n for n in walk(book) if n.span.file == str(path)]
    assert len(nodes) > 10
    for node in nodes:
        found = nodes_at(book, node.span.line, node.span.column)
        assert found[0] is book
        assert any(n is node for n in found), node


def test_nodes_at_names_the_field_under_the_cursor() -> None:
    text = 'rulebook r "R"\neligibility e for account\n  cites "x"\n' + (
        '  require a: account.equity >= 5 USD because "y"\n'
    )
    book = parse(text, "r.mlx")
    assert [type(n).__name__ for n in nodes_at(book, 4, 20)] == [
        "Rulebook",
        "Eligibility",
        "Requirement",
        "Compare",
        "FieldRef",
    ]
    assert [type(n).__name__ for n in nodes_at(book, 4, 33)][-1] == "Quantity"
    assert [type(n).__name__ for n in nodes_at(book, 3, 4)][-1] == "Citation"
    assert nodes_at(book, 9, 1) == [book]


def test_children_follow_field_order_and_flatten_tuples() -> None:
    e = m.And(items=(m.BoolValue(value=True), m.Not(item=m.BoolValue(value=False))))
    assert [type(c).__name__ for c in children(e)] == ["BoolValue", "Not"]
    assert [type(c).__name__ for c in walk(e)] == ["And", "BoolValue", "Not", "BoolValue"]


@pytest.mark.parametrize(
    ("line", "column", "inside"),
    [(2, 3, True), (2, 8, True), (2, 2, False), (2, 9, False), (3, 1, True), (4, 5, True),
     (4, 6, False), (1, 9, False)],
)  # fmt: skip
def test_contains_includes_both_ends(line: int, column: int, inside: bool) -> None:
    one_line = m.Span(line=2, column=3, end_line=2, end_column=8)
    two_lines = m.Span(line=2, column=3, end_line=4, end_column=5)
    span = one_line if line == 2 else two_lines
    assert contains(span, line, column) is inside


def test_keywords_are_the_quoted_words_of_the_grammar_file() -> None:
    quoted = set(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', GRAMMAR))
    assert keywords() == frozenset(quoted)


def test_unit_words_are_the_unit_rule_of_the_grammar_file() -> None:
    rule = next(line for line in GRAMMAR.splitlines() if line.startswith("!unit:"))
    assert unit_words() == tuple(re.findall(r'"([^"]+)"', rule))
