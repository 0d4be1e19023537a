"""Name and type checking of expressions against the field registry (:mod:`.fields`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath

from marginlex.dsl.diagnostics import Code, Diagnostic, Severity, did_you_mean, error
from marginlex.dsl.format.expressions import expr
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.fields import (
    AGREEMENTS,
    ASSETS,
    FIELDS,
    PARTY_KINDS,
    PRODUCTS,
    FieldType,
    Kind,
)

_DIM_KIND = {
    m.Dimension.MONEY: Kind.MONEY,
    m.Dimension.FRACTION: Kind.FRACTION,
    m.Dimension.DURATION: Kind.DURATION,
    m.Dimension.MULTIPLE: Kind.MULTIPLE,
    m.Dimension.NUMBER: Kind.NUMBER,
}
_ORDERED = frozenset(
    {Kind.MONEY, Kind.FRACTION, Kind.DURATION, Kind.MULTIPLE, Kind.NUMBER, Kind.DATE}
)
_BOOL = FieldType(Kind.BOOL)
_EXAMPLE_UNIT = {
    Kind.MONEY: "100,000 USD",
    Kind.FRACTION: "15%",
    Kind.DURATION: "3 months",
    Kind.MULTIPLE: "3x",
}

DECLARE_PARAMETER = "declare it with `parameter NAME = VALUE`, or write the figure itself"
"""The hint for a parameter no name is close to."""


@dataclass
class ExprChecker:
    """Infers expression types and collects diagnostics for one rulebook file."""

    params: dict[str, m.Parameter]
    eligibilities: frozenset[str]
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def report(self, code: Code, message: str, span: m.Span, hint: str | None = None) -> None:
        """Add one error."""
        self.diagnostics.append(error(code, message, span, hint))

    def condition(self, expr: m.Expr | None, subjects: frozenset[m.Subject], about: str) -> None:
        """Check a condition (it must be true or false) over the allowed subjects."""
        if expr is None:
            return
        ty = self.infer(expr, subjects, about)
        if ty is not None and ty.kind != Kind.BOOL:
            self.report(
                Code.TYPE_MISMATCH,
                f"a condition must be true or false, not {_a(ty)}",
                expr.span,
                "compare it, e.g. `account.equity >= 100,000 USD`",
            )

    def infer(self, e: m.Expr, subjects: frozenset[m.Subject], about: str) -> FieldType | None:
        """The type of an expression, or None when it is unknown (already reported)."""
        handler = _INFER[type(e)]
        return handler(self, e, subjects, about)

    # ---- leaves -----------------------------------------------------------------------
    def quantity(self, q: m.Quantity) -> FieldType:
        """A literal's type from its unit."""
        return FieldType(_DIM_KIND[q.dimension])

    def param(self, name: str, span: m.Span) -> FieldType | None:
        """A parameter's type, or UNKNOWN_REFERENCE."""
        p = self.params.get(name)
        if p is None:
            self.report(
                Code.UNKNOWN_REFERENCE,
                f"no parameter named `{name}`",
                span,
                did_you_mean(name, self.params) or DECLARE_PARAMETER,
            )
            return None
        return self.quantity(p.value)

    def field_ref(
        self, f: m.FieldRef, subjects: frozenset[m.Subject], about: str
    ) -> FieldType | None:
        """A field's type, or UNKNOWN_FIELD with a did-you-mean."""
        if f.subject not in subjects:
            names = ", ".join(sorted(s.value for s in subjects))
            self.report(
                Code.UNKNOWN_FIELD,
                f"`{f.subject.value}` cannot be used in {about}",
                f.span,
                f"here you can use {names}",
            )
            return None
        known = FIELDS[f.subject]
        if f.name not in known:
            hint = did_you_mean(f.name, known) or (
                f"{f.subject.value} has {', '.join(sorted(known))}"
            )
            self.report(
                Code.UNKNOWN_FIELD, f"{f.subject.value} has no field `{f.name}`", f.span, hint
            )
            return None
        return known[f.name]

    def symbol_in(self, sym: m.Symbol, ty: FieldType, what: str) -> None:
        """Check an enum value against a field type's members."""
        if ty.kind not in (Kind.ENUM, Kind.SET) or sym.name in self.params:
            return
        if ty.open_enum:
            warning = unknown_asset(sym)
            if warning is not None:
                self.diagnostics.append(warning)
            return
        if sym.name not in ty.values:
            self.report(
                Code.UNKNOWN_VALUE,
                f"`{sym.name}` is not a known {what}",
                sym.span,
                did_you_mean(sym.name, ty.values) or f"use one of {', '.join(ty.values)}",
            )

    def names_in(self, names: tuple[m.Symbol, ...], values: tuple[str, ...], what: str) -> None:
        """Check a list of names (carrier kinds, agreements) against allowed values."""
        for sym in names:
            self.symbol_in(sym, FieldType(Kind.ENUM, values), what)


def unknown_asset(sym: m.Symbol) -> Diagnostic | None:
    """A warning for an asset name outside the book format's list (it would be taken for a
    digital asset's ticker), with a suggestion when it looks like a typo."""
    if sym.name in ASSETS:
        return None
    return Diagnostic(
        code=Code.UNKNOWN_VALUE,
        message=f"`{sym.name}` is not one of the book format's assets; lots of it count as "
        "a digital asset",
        span=sym.span,
        hint=did_you_mean(sym.name, ASSETS)
        or f"the book format's assets are {', '.join(ASSETS)}; if `{sym.name}` is a digital "
        "asset's ticker, as lots of it would be taken, this warning can stay",
        severity=Severity.WARNING,
    )


KIND_WORDS = {
    Kind.MONEY: "an amount in USD",
    Kind.FRACTION: "a percentage",
    Kind.DURATION: "a duration",
    Kind.MULTIPLE: "a multiple",
    Kind.NUMBER: "a plain number",
    Kind.DATE: "a date",
    Kind.BOOL: "a true/false test",
    Kind.TEXT: "a text",
    Kind.ENUM: "a name",
    Kind.SET: "a set",
    Kind.SYMBOL: "a bare name",
}


def locate(span: m.Span, here: m.Span) -> str:
    """A place for a hint, seen from ``here``: ``line 21``, or ``sec.mlx:21`` in another file.

    >>> locate(m.Span(file="rulebooks/sec.mlx", line=21), m.Span(file="my.mlx"))
    'sec.mlx:21'
    >>> locate(m.Span(file="my.mlx", line=21), m.Span(file="my.mlx"))
    'line 21'
    """
    if span.file == here.file:
        return f"line {span.line}"
    return f"{PurePath(span.file).name}:{span.line}"


def _a(ty: FieldType) -> str:
    return KIND_WORDS[ty.kind]


def _symbol(c: ExprChecker, e: m.Symbol, s: frozenset[m.Subject], a: str) -> FieldType | None:
    if e.name in c.params:
        return c.param(e.name, e.span)
    return FieldType(Kind.SYMBOL)


def _compare(c: ExprChecker, e: m.Compare, s: frozenset[m.Subject], a: str) -> FieldType:
    left, right = c.infer(e.left, s, a), c.infer(e.right, s, a)
    if left is None or right is None:
        return _BOOL
    for one, other, node in ((left, right, e.right), (right, left, e.left)):
        if one.kind == Kind.ENUM and other.kind == Kind.SYMBOL and isinstance(node, m.Symbol):
            c.symbol_in(node, one, "value here")
            return _ordered_check(c, e, one)
    if left.kind in (Kind.TEXT, Kind.ENUM) and right.kind == Kind.SYMBOL:
        return _BOOL
    for one, other, node in ((left, right, e.right), (right, left, e.left)):
        if one.kind in _ORDERED and other.kind == Kind.SYMBOL and isinstance(node, m.Symbol):
            c.report(
                Code.UNKNOWN_REFERENCE,
                f"no parameter named `{node.name}`",
                node.span,
                did_you_mean(node.name, c.params) or DECLARE_PARAMETER,
            )
            return _BOOL
    if left.kind != right.kind:
        _mismatch(c, e, left, right)
        return _BOOL
    return _ordered_check(c, e, left)


def _ordered_check(c: ExprChecker, e: m.Compare, ty: FieldType) -> FieldType:
    if e.op not in (m.CmpOp.EQ, m.CmpOp.NE) and ty.kind not in _ORDERED:
        c.report(
            Code.TYPE_MISMATCH,
            f"`{e.op.value}` needs numbers, amounts or dates, not {_a(ty)}",
            e.span,
            "use `=` or `!=`",
        )
    return _BOOL


def _mismatch(c: ExprChecker, e: m.Compare, left: FieldType, right: FieldType) -> None:
    units = {Kind.MONEY, Kind.FRACTION, Kind.DURATION, Kind.MULTIPLE, Kind.NUMBER}
    if left.kind in units and right.kind in units:
        # Point at the side without the wanted unit: `150000 <= account.equity` is wrong on
        # the left. A parameter is fixed where it is defined, so the hint says where that is.
        wanted, wrong = (left, e.right) if left.kind != Kind.NUMBER else (right, e.left)
        example = _EXAMPLE_UNIT.get(wanted.kind)
        hint = f"write it with its unit, e.g. `{example}`" if example else None
        name = wrong.name if isinstance(wrong, m.ParamRef | m.Symbol) else ""
        if example and name in c.params:
            hint = (
                f"parameter `{name}` is set at {locate(c.params[name].span, e.span)}; "
                f"give it its unit there, e.g. `parameter {name} = {example}`"
            )
        c.report(
            Code.UNIT_MISMATCH, f"cannot compare {_a(left)} with {_a(right)}", wrong.span, hint
        )
    else:
        c.report(
            Code.TYPE_MISMATCH,
            f"cannot compare {_a(left)} with {_a(right)}",
            e.span,
            _type_hint(e, left.kind, right.kind),
        )


def _type_hint(e: m.Compare, left: Kind, right: Kind) -> str | None:
    """What the writer most likely meant, for the usual mix-ups."""
    field, other = (
        (e.left, e.right) if left in (Kind.ENUM, Kind.BOOL, Kind.SET) else (e.right, e.left)
    )
    kinds = {left, right}
    if kinds == {Kind.ENUM, Kind.TEXT} and isinstance(other, m.Text):
        return f"values are written without quotes: `{expr(field)} = {other.value}`"
    if kinds == {Kind.BOOL, Kind.SYMBOL}:
        return f"a yes/no field is a condition by itself: `{expr(field)}` or `not {expr(field)}`"
    if kinds == {Kind.SET, Kind.SYMBOL} and isinstance(other, m.Symbol):
        return f"test membership with `in`: `{other.name} in {expr(field)}`"
    return None


def _membership(c: ExprChecker, e: m.Membership, s: frozenset[m.Subject], a: str) -> FieldType:
    item = c.infer(e.item, s, a)
    if isinstance(e.collection, m.SetOf):
        for x in e.collection.items:
            xt = c.infer(x, s, a)
            if item is not None and isinstance(x, m.Symbol) and xt and xt.kind == Kind.SYMBOL:
                c.symbol_in(x, item, "value here")
        return _BOOL
    coll = c.infer(e.collection, s, a)
    if coll is None:
        return _BOOL
    if coll.kind != Kind.SET:
        c.report(
            Code.TYPE_MISMATCH,
            f"`in` needs a set such as `{{a, b}}`, not {_a(coll)}",
            e.collection.span,
        )
    elif isinstance(e.item, m.Symbol):
        c.symbol_in(e.item, coll, "member of this set")
    return _BOOL


def _logic(c: ExprChecker, e: m.And | m.Or, s: frozenset[m.Subject], a: str) -> FieldType:
    for item in e.items:
        c.condition(item, s, a)
    return _BOOL


def _not(c: ExprChecker, e: m.Not, s: frozenset[m.Subject], a: str) -> FieldType:
    c.condition(e.item, s, a)
    return _BOOL


def _holds(c: ExprChecker, e: m.Holds, s: frozenset[m.Subject], a: str) -> FieldType:
    c.symbol_in(e.product, FieldType(Kind.ENUM, PRODUCTS), "product")
    return _BOOL


def _eligible(c: ExprChecker, e: m.Eligible, s: frozenset[m.Subject], a: str) -> FieldType:
    if e.rule not in c.eligibilities:
        c.report(
            Code.UNKNOWN_REFERENCE,
            f"no eligibility rule named `{e.rule}`",
            e.span,
            did_you_mean(e.rule, c.eligibilities)
            or "name an `eligibility` statement of this rulebook or of the one it extends",
        )
    return _BOOL


def _graph(c: ExprChecker, e: m.GraphPredicate, s: frozenset[m.Subject], a: str) -> FieldType:
    for subject in (e.subject, e.target_subject):
        if subject is not None and subject not in s:
            c.report(Code.UNKNOWN_FIELD, f"`{subject.value}` cannot be used in {a}", e.span)
    if e.target_kind is not None and e.target_kind not in PARTY_KINDS:
        c.report(
            Code.UNKNOWN_VALUE,
            f"`{e.target_kind}` is not a kind of party",
            _last_word(e.span, e.target_kind),
            did_you_mean(e.target_kind, PARTY_KINDS) or f"use one of {', '.join(PARTY_KINDS)}",
        )
    return _BOOL


def _last_word(span: m.Span, word: str) -> m.Span:
    """The span of ``word`` at the end of ``span`` (the node keeps no span for it)."""
    if span.line != span.end_line:
        return span
    return span.model_copy(update={"column": span.end_column - len(word)})


def _set(c: ExprChecker, e: m.SetOf, s: frozenset[m.Subject], a: str) -> FieldType:
    for x in e.items:
        c.infer(x, s, a)
    return FieldType(Kind.SET)


_Handler = Callable[[ExprChecker, m.Node, frozenset[m.Subject], str], FieldType | None]

_INFER: dict[type[m.Node], _Handler] = {
    m.Quantity: lambda c, e, s, a: c.quantity(e),  # type: ignore[arg-type]
    m.ParamRef: lambda c, e, s, a: c.param(e.name, e.span),  # type: ignore[attr-defined]
    m.Symbol: _symbol,  # type: ignore[dict-item]
    m.DateValue: lambda c, e, s, a: FieldType(Kind.DATE),
    m.BoolValue: lambda c, e, s, a: _BOOL,
    m.Text: lambda c, e, s, a: FieldType(Kind.TEXT),
    m.FieldRef: lambda c, e, s, a: c.field_ref(e, s, a),  # type: ignore[arg-type]
    m.Holds: _holds,  # type: ignore[dict-item]
    m.Eligible: _eligible,  # type: ignore[dict-item]
    m.GraphPredicate: _graph,  # type: ignore[dict-item]
    m.SetOf: _set,  # type: ignore[dict-item]
    m.Compare: _compare,  # type: ignore[dict-item]
    m.Membership: _membership,  # type: ignore[dict-item]
    m.And: _logic,  # type: ignore[dict-item]
    m.Or: _logic,  # type: ignore[dict-item]
    m.Not: _not,  # type: ignore[dict-item]
}

AGREEMENT_VALUES = AGREEMENTS
