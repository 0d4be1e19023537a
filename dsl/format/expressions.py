"""Canonical text of values and expressions (used by :mod:`.formatter`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marginlex.dsl.model import rulebook as m

# Binding strength: a child binding more loosely than its parent needs parentheses.
_OR, _AND, _NOT, _CMP, _ATOM = range(5)


def quantity(q: m.Quantity) -> str:
    """``100,000 USD``, ``0.5%``, ``3 months``, ``1 year``, ``3x``."""
    return q.written


def value(v: m.Quantity | m.ParamRef) -> str:
    """A table value: a literal or a parameter name."""
    return quantity(v) if isinstance(v, m.Quantity) else v.name


def spread_leg(ratio: m.Quantity | None, key: m.Symbol, tier: m.Expiring | None) -> str:
    """One leg of a credit row: ``2 UST_2Y``, ``SPX expiring within 3 months``.

    >>> months = m.Quantity(amount=3, unit=m.Unit.MONTHS, text="3")
    >>> spread_leg(None, m.Symbol(name="SPX"), m.Expiring(after=months))
    'SPX expiring after 3 months'
    """
    text = key.name if ratio is None else f"{ratio.text} {key.name}"
    if tier is not None:
        text += " expiring"
        text += f" after {quantity(tier.after)}" if tier.after is not None else ""
        text += f" within {quantity(tier.within)}" if tier.within is not None else ""
    return text


def credit_pair(row: m.CreditRow) -> str:
    """A credit row's key or pair of legs, as written: ``2 UST_2Y with 1 UST_10Y``."""
    text = spread_leg(row.left_ratio, row.left, row.left_tier)
    if row.right is not None:
        text += " with " + spread_leg(row.right_ratio, row.right, row.right_tier)
    return text


def string(text: str) -> str:
    r"""A quoted string, its text as written: the language has no escapes (quotes never
    occur inside), so a backslash or a tab is text. Written as JSON escapes, each ``fmt``
    doubled a citation's backslashes and turned its tab into ``\t``.

    >>> print(string(r"see C:\rules\a.pdf"))
    "see C:\rules\a.pdf"
    """
    return f'"{text}"'


def _level(e: m.Node) -> int:
    if isinstance(e, m.Or):
        return _OR
    if isinstance(e, m.And):
        return _AND
    if isinstance(e, m.Not):
        return _NOT
    if isinstance(e, m.Compare | m.Membership | m.GraphPredicate):
        return _CMP
    return _ATOM


def _child(e: m.Node, above: int) -> str:
    """Print a child; parenthesize when it binds no tighter than ``above`` allows."""
    text = expr(e)
    return f"({text})" if _level(e) <= above else text


def _logic(e: m.And | m.Or) -> str:
    return " ".join(split(e))


def _operand(x: m.Node, parent: m.And | m.Or) -> str:
    # `and` inside `or` needs no parentheses, but a reader should not have to know that
    if isinstance(parent, m.Or) and isinstance(x, m.And):
        return f"({expr(x)})"
    return _child(x, _AND if isinstance(parent, m.And) else _OR)


def split(e: m.Node) -> list[str]:
    """An expression cut before each top-level ``and``/``or``, for wrapping long lines."""
    if not isinstance(e, m.And | m.Or):
        return [expr(e)]
    word = "and" if isinstance(e, m.And) else "or"
    first, *rest = (_operand(x, e) for x in e.items)
    return [first, *(f"{word} {x}" for x in rest)]


def _compare(e: m.Compare) -> str:
    return f"{_child(e.left, _CMP)} {e.op.value} {_child(e.right, _CMP)}"


def _membership(e: m.Membership) -> str:
    word = " not in " if e.negated else " in "
    return f"{_child(e.item, _CMP)}{word}{_child(e.collection, _CMP)}"


def _graph(e: m.GraphPredicate) -> str:
    if e.target_party is not None:
        return f'{e.subject.value} {e.relation.value} "{e.target_party}"'
    target = e.target_subject.value if e.target_subject is not None else e.target_kind
    return f"{e.subject.value} {e.relation.value} {target}"


def _not(e: m.Not) -> str:
    return f"not {_child(e.item, _NOT - 1)}"


EXPR_HANDLERS: dict[type[m.Node], Callable[[Any], str]] = {
    m.Quantity: quantity,
    m.ParamRef: lambda e: e.name,
    m.Symbol: lambda e: e.name,
    m.DateValue: lambda e: e.value.isoformat(),
    m.BoolValue: lambda e: "true" if e.value else "false",
    m.Text: lambda e: string(e.value),
    m.FieldRef: lambda e: f"{e.subject.value}.{e.name}",
    m.Holds: lambda e: f"{e.subject.value}.holds({e.product.name})",
    m.Eligible: lambda e: f"eligible({e.rule})",
    m.GraphPredicate: _graph,
    m.SetOf: lambda e: "{" + ", ".join(expr(x) for x in e.items) + "}",
    m.Compare: _compare,
    m.Membership: _membership,
    m.And: _logic,
    m.Or: _logic,
    m.Not: _not,
}


def expr(e: m.Node) -> str:
    """The canonical text of an expression.

    >>> from marginlex.dsl.parser import parse
    >>> book = parse('rulebook r "R" scope s decides account where not (a or b) and c')
    >>> expr(book.statements[0].where)
    'not (a or b) and c'
    """
    return EXPR_HANDLERS[type(e)](e)
