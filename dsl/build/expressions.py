"""Transformer base: spans, literals, values and expressions (see :mod:`.build`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from lark import Token, Transformer, v_args

from marginlex.dsl.model import rulebook as m
from marginlex.dsl.diagnostics import BuildError, Code, did_you_mean, error
from marginlex.dsl.limits import MAX_NUMBER


@dataclass(frozen=True)
class Item:
    """One clause of a statement before assembly: its key, value and span."""

    key: str
    value: Any
    span: m.Span


SPANS = "_spans"
"""The key under which :func:`gather` keeps where each clause was written (key -> span)."""
_MULTI = frozenset({"accept", "requirement", "change", "range", "scan_row", "rate_row", "strategy_row"})

_CLAUSE_WORDS = {"citation": "cites", "option_model": "options", "applies_to": "applies to"}

_REQUIRED_WORDS = {
    "where": "`decides account where ...`",
    "body": "a body: `by residual_maturity`, `by asset`, `rate`, `ineligible` or "
    "`more conservative of`",
    "limit": "`at most N% of requirement` or `at most N% of initial requirement`",
    "method": "a method: `scenario grid`, `span scan`, `rates`, `strategy based` or `initial`",
    "rule": "a rule: `net within class group`, `credit between class groups` or `sets ...`",
    "constraint": "a constraint such as `collateral of account where ... must not reach ...`",
    "vol_shift": "`volatility shift N%`",
    "extreme": "`extreme Nx counted N%`",
    "points": "`points N`",
}


def gather(items: list[Any], head: m.Span, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Collect clause items into a dict, refusing repeats and reporting missing clauses."""
    out: dict[str, Any] = {}
    for item in items:
        if item.key in _MULTI:
            out.setdefault(item.key, []).append(item.value)
        elif item.key in out:
            word = _CLAUSE_WORDS.get(item.key, item.key.replace("_", " "))
            raise BuildError(
                error(
                    Code.DUPLICATE_CLAUSE,
                    f"`{word}` is given twice in one statement",
                    item.span,
                    "keep one; split the statement in two if both are meant",
                )
            )
        else:
            out[item.key] = item.value
        out.setdefault(SPANS, {})[item.key] = item.span
    for key in required:
        if key not in out:
            word = _REQUIRED_WORDS.get(key, key.replace("_", " "))
            raise BuildError(
                error(
                    Code.MISSING_CLAUSE,
                    f"this statement needs {word}",
                    head,
                    "add it on a line of its own, indented under the statement's first line "
                    "like its other clauses (docs/language.md lists each statement's clauses)",
                )
            )
    return out


_UNITS = {
    "USD": m.Unit.USD,
    "%": m.Unit.PERCENT,
    "bp": m.Unit.BP,
    "day": m.Unit.DAYS,
    "days": m.Unit.DAYS,
    "month": m.Unit.MONTHS,
    "months": m.Unit.MONTHS,
    "year": m.Unit.YEARS,
    "years": m.Unit.YEARS,
    "x": m.Unit.MULTIPLE,
}

_SUBJECTS = [s.value for s in m.Subject]


@v_args(meta=True)
class ExprBuilder(Transformer[Token, Any]):
    """Spans, literals and the expression sub-language."""

    def __init__(self, file: str) -> None:
        super().__init__(visit_tokens=False)
        self.file = file

    # ---- helpers (not grammar rules) -----------------------------------------------------
    def span(self, meta: Any) -> m.Span:
        """The span of a rule match (lark meta)."""
        if getattr(meta, "empty", True):
            return m.Span(file=self.file)
        return m.Span(
            file=self.file,
            line=meta.line,
            column=meta.column,
            end_line=meta.end_line,
            end_column=meta.end_column,
        )

    def tok_span(self, tok: Token) -> m.Span:
        """The span of one token."""
        return m.Span(
            file=self.file,
            line=tok.line or 1,
            column=tok.column or 1,
            end_line=tok.end_line or tok.line or 1,
            end_column=tok.end_column or tok.column or 1,
        )

    @staticmethod
    def string(tok: Token) -> str:
        """A STRING token without its quotes."""
        return str(tok)[1:-1]

    def integer(self, tok: Token) -> int:
        """A NUMBER token that must be a whole number."""
        text = str(tok).replace(",", "")
        if not text.isdigit():
            raise BuildError(
                error(
                    Code.BAD_LITERAL,
                    f"`{tok}` must be a whole number",
                    self.tok_span(tok),
                    "write it without a decimal point or a unit, e.g. `10`",
                )
            )
        self.check_magnitude(tok, text)
        return int(text)

    def check_magnitude(self, tok: Token, text: str) -> None:
        """A BAD_LITERAL error for a figure over :data:`~marginlex.dsl.limits.MAX_NUMBER`
        (``9`` written 400 times would be infinity in float64)."""
        if float(text) <= MAX_NUMBER:
            return
        shown = str(tok) if len(str(tok)) <= 24 else f"{str(tok)[:20]}…"
        raise BuildError(
            error(
                Code.BAD_LITERAL,
                f"`{shown}` is over the largest figure a rulebook may hold, {MAX_NUMBER:,.0f}",
                self.tok_span(tok),
                "check the figure: amounts are in USD, rates in % or bp",
            )
        )

    def subject(self, tok: Token) -> m.Subject:
        """A subject word (account, owner, ...) or an UNKNOWN_FIELD error with a suggestion."""
        if str(tok) in _SUBJECTS:
            return m.Subject(str(tok))
        raise BuildError(
            error(
                Code.UNKNOWN_FIELD,
                f"`{tok}` is not something a rule can talk about",
                self.tok_span(tok),
                did_you_mean(str(tok), _SUBJECTS) or f"use one of {', '.join(_SUBJECTS)}",
            )
        )

    # ---- values ------------------------------------------------------------------------
    def quantity(self, meta: Any, c: list[Any]) -> m.Quantity:
        number, unit = c
        self.check_magnitude(number, str(number).replace(",", ""))
        return m.Quantity(
            amount=float(str(number).replace(",", "")),
            unit=unit if unit is not None else m.Unit.NUMBER,
            text=str(number),
            span=self.span(meta),
        )

    def unit(self, meta: Any, c: list[Any]) -> m.Unit:
        return _UNITS[str(c[0])]

    def param(self, meta: Any, c: list[Any]) -> m.ParamRef:
        return m.ParamRef(name=str(c[0]), span=self.span(meta))

    # ---- expressions -------------------------------------------------------------------
    def or_(self, meta: Any, c: list[Any]) -> m.Or:
        return m.Or(items=tuple(c), span=self.span(meta))

    def and_(self, meta: Any, c: list[Any]) -> m.And:
        return m.And(items=tuple(c), span=self.span(meta))

    def not_(self, meta: Any, c: list[Any]) -> m.Not:
        return m.Not(item=c[0], span=self.span(meta))

    def compare(self, meta: Any, c: list[Any]) -> m.Compare:
        return m.Compare(op=m.CmpOp(str(c[1])), left=c[0], right=c[2], span=self.span(meta))

    def cmp_op(self, meta: Any, c: list[Any]) -> str:
        return str(c[0])

    def relation(self, meta: Any, c: list[Any]) -> m.RelationKind:
        return m.RelationKind(str(c[0]))

    def member(self, meta: Any, c: list[Any]) -> m.Membership:
        return m.Membership(item=c[0], collection=c[1], span=self.span(meta))

    def not_member(self, meta: Any, c: list[Any]) -> m.Membership:
        return m.Membership(item=c[0], collection=c[1], negated=True, span=self.span(meta))

    def graph(self, meta: Any, c: list[Any]) -> m.GraphPredicate:
        left, relation, right = c
        if not isinstance(left, m.Symbol) or not isinstance(right, m.Symbol | m.Text):
            raise BuildError(
                error(
                    Code.TYPE_MISMATCH,
                    f"`{relation.value}` relates two parties, e.g. `carrier member_of dco`",
                    self.span(meta),
                    "put a party on each side (`owner`, `carrier`, or a party kind such as `dco`)",
                )
            )
        subject = self.subject(
            Token(
                "NAME",
                left.name,
                line=left.span.line,
                column=left.span.column,
                end_line=left.span.end_line,
                end_column=left.span.end_column,
            )
        )
        if isinstance(right, m.Text):
            return m.GraphPredicate(
                subject=subject, relation=relation, target_party=right.value, span=self.span(meta)
            )
        if right.name in _SUBJECTS:
            return m.GraphPredicate(
                subject=subject,
                relation=relation,
                target_subject=m.Subject(right.name),
                span=self.span(meta),
            )
        return m.GraphPredicate(
            subject=subject, relation=relation, target_kind=right.name, span=self.span(meta)
        )

    def field(self, meta: Any, c: list[Any]) -> m.FieldRef:
        return m.FieldRef(subject=self.subject(c[0]), name=str(c[1]), span=self.span(meta))

    def call(self, meta: Any, c: list[Any]) -> m.Holds:
        subject, method, arg = c
        if str(method) != "holds":
            raise BuildError(
                error(
                    Code.UNKNOWN_WORD,
                    f"`{method}(...)` is not a known test",
                    self.tok_span(method),
                    did_you_mean(str(method), ["holds"]) or "the only test is `account.holds(X)`",
                )
            )
        return m.Holds(
            subject=self.subject(subject),
            product=m.Symbol(name=str(arg), span=self.tok_span(arg)),
            span=self.span(meta),
        )

    def eligible(self, meta: Any, c: list[Any]) -> m.Eligible:
        return m.Eligible(rule=str(c[0]), span=self.span(meta))

    def set(self, meta: Any, c: list[Any]) -> m.SetOf:
        items = tuple(x for x in c if x is not None)
        return m.SetOf(items=items, span=self.span(meta))

    def date(self, meta: Any, c: list[Any]) -> m.DateValue:
        return m.DateValue(value=self.parse_date(c[0]), span=self.span(meta))

    def parse_date(self, tok: Token) -> dt.date:
        """A DATE token as a date, or a BAD_LITERAL error."""
        try:
            return dt.date.fromisoformat(str(tok))
        except ValueError:
            raise BuildError(
                error(
                    Code.BAD_LITERAL,
                    f"`{tok}` is not a calendar date",
                    self.tok_span(tok),
                    "write dates as YYYY-MM-DD, e.g. 2026-01-31",
                )
            ) from None

    def text(self, meta: Any, c: list[Any]) -> m.Text:
        return m.Text(value=self.string(c[0]), span=self.span(meta))

    def true(self, meta: Any, c: list[Any]) -> m.BoolValue:
        return m.BoolValue(value=True, span=self.span(meta))

    def false(self, meta: Any, c: list[Any]) -> m.BoolValue:
        return m.BoolValue(value=False, span=self.span(meta))

    def symbol(self, meta: Any, c: list[Any]) -> m.Symbol:
        return m.Symbol(name=str(c[0]), span=self.span(meta))
