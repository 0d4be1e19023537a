"""Values and expressions of the rulebook language: a small, closed AST.

Every node is a frozen pydantic model with a ``node`` tag (the discriminator of the
unions below) and a :class:`Span`. The evaluator compiles these nodes to whole-column
operations; there is no free-form string to interpret anywhere.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# re-exported: every node carries a span (the class lives alone, for light diagnostics)
from marginlex.dsl.model.span import NO_SPAN as NO_SPAN  # noqa: PLC0414
from marginlex.dsl.model.span import Span as Span  # noqa: PLC0414


class Node(BaseModel):
    """Base of every model node: frozen, no extra fields, a source span."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    span: Span = NO_SPAN


class Unit(StrEnum):
    """Unit of a literal quantity."""

    USD = "USD"
    PERCENT = "%"
    BP = "bp"
    DAYS = "days"
    MONTHS = "months"
    YEARS = "years"
    MULTIPLE = "x"
    NUMBER = ""


class Dimension(StrEnum):
    """What a unit measures; two quantities compare only within one dimension."""

    MONEY = "money"
    FRACTION = "fraction"
    DURATION = "duration"
    MULTIPLE = "multiple"
    NUMBER = "number"


UNIT_DIMENSION: dict[Unit, Dimension] = {
    Unit.USD: Dimension.MONEY,
    Unit.PERCENT: Dimension.FRACTION,
    Unit.BP: Dimension.FRACTION,
    Unit.DAYS: Dimension.DURATION,
    Unit.MONTHS: Dimension.DURATION,
    Unit.YEARS: Dimension.DURATION,
    Unit.MULTIPLE: Dimension.MULTIPLE,
    Unit.NUMBER: Dimension.NUMBER,
}

# Durations are compared in years; months are twelfths, days are 365ths (DESIGN.md).
_TO_BASE: dict[Unit, float] = {
    Unit.USD: 1.0,
    Unit.PERCENT: 0.01,
    Unit.BP: 0.0001,
    Unit.DAYS: 1.0 / 365.0,
    Unit.MONTHS: 1.0 / 12.0,
    Unit.YEARS: 1.0,
    Unit.MULTIPLE: 1.0,
    Unit.NUMBER: 1.0,
}


_UNIT_TEXT = {
    Unit.USD: " USD",
    Unit.PERCENT: "%",
    Unit.BP: " bp",
    Unit.MULTIPLE: "x",
    Unit.NUMBER: "",
}
_DURATION_WORDS = {Unit.DAYS: "day", Unit.MONTHS: "month", Unit.YEARS: "year"}


class Quantity(Node):
    """A number with a unit, as written (``100,000 USD``, ``0.5%``, ``3 months``, ``3x``).

    ``amount`` is the number as written; :attr:`base` converts it to the unit's base:
    fraction for % and bp (``0.5%`` -> 0.005), years for durations, USD for money.
    """

    node: Literal["quantity"] = "quantity"
    amount: float
    unit: Unit
    text: str = Field(description="the number exactly as written, e.g. '100,000'")

    @property
    def dimension(self) -> Dimension:
        """The dimension of the unit."""
        return UNIT_DIMENSION[self.unit]

    @property
    def written(self) -> str:
        """As the canonical text writes it: ``100,000 USD``, ``0.5%``, ``3 months``,
        ``1 year``, ``3x``.

        >>> Quantity(amount=1, unit=Unit.YEARS, text="1").written
        '1 year'
        """
        if self.unit in _DURATION_WORDS:
            word = _DURATION_WORDS[self.unit]
            return f"{self.text} {word}" if self.amount == 1 else f"{self.text} {word}s"
        return f"{self.text}{_UNIT_TEXT[self.unit]}"

    @property
    def base(self) -> float:
        """The value in base units: a fraction, years, USD, a multiple or a plain number.

        >>> Quantity(amount=0.5, unit=Unit.PERCENT, text="0.5").base
        0.005
        """
        return self.amount * _TO_BASE[self.unit]


class ParamRef(Node):
    """A reference by name to a ``parameter`` statement of the effective rulebook."""

    node: Literal["param"] = "param"
    name: str


class Symbol(Node):
    """A bare name used as a value: an enum member (``portfolio_margin``, ``UST_BILL``)."""

    node: Literal["symbol"] = "symbol"
    name: str


class DateValue(Node):
    """A calendar date literal ``YYYY-MM-DD``."""

    node: Literal["date"] = "date"
    value: dt.date


class BoolValue(Node):
    """``true`` or ``false``."""

    node: Literal["bool"] = "bool"
    value: bool


class Text(Node):
    """A quoted string used as a value (e.g. an account id)."""

    node: Literal["text"] = "text"
    value: str


#: A number in a table cell or clause: a literal quantity or a parameter reference.
Value = Annotated[Quantity | ParamRef, Field(discriminator="node")]


class Subject(StrEnum):
    """What an expression talks about; each has a registry of fields (:mod:`.fields`)."""

    ACCOUNT = "account"
    OWNER = "owner"
    CARRIER = "carrier"
    POSITION = "position"
    INSTRUMENT = "instrument"
    COLLATERAL = "collateral"


class RelationKind(StrEnum):
    """Edges of the account graph that a graph predicate can test."""

    MEMBER_OF = "member_of"
    AFFILIATE_OF = "affiliate_of"
    GUARANTEES = "guarantees"


class CmpOp(StrEnum):
    """Comparison operators."""

    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


class FieldRef(Node):
    """``subject.name``, e.g. ``account.equity`` or ``collateral.residual_maturity``."""

    node: Literal["field"] = "field"
    subject: Subject
    name: str


class Holds(Node):
    """``account.holds(sbs)``: true when the account has a position in that product."""

    node: Literal["holds"] = "holds"
    subject: Subject
    product: Symbol


class Eligible(Node):
    """``eligible(rule_id)``: the outcome of another eligibility rule for the same account."""

    node: Literal["eligible"] = "eligible"
    rule: str


class GraphPredicate(Node):
    """``carrier member_of dco``, ``carrier member_of "FICC"`` or ``owner affiliate_of carrier``.

    Exactly one of ``target_subject`` (another subject of the same row), ``target_kind``
    (a party kind such as ``dco``) and ``target_party`` (one party of the book, named by its
    id in quotes, such as ``"FICC"``) is set.
    """

    node: Literal["graph"] = "graph"
    subject: Subject
    relation: RelationKind
    target_subject: Subject | None = None
    target_kind: str | None = None
    target_party: str | None = None


class SetOf(Node):
    """A set literal ``{a, b, c}``."""

    node: Literal["set"] = "set"
    items: tuple[Expr, ...]


class Compare(Node):
    """``left op right``."""

    node: Literal["compare"] = "compare"
    op: CmpOp
    left: Expr
    right: Expr


class Membership(Node):
    """``item in collection`` (``not in`` when ``negated``); a set literal or a set field."""

    node: Literal["in"] = "in"
    item: Expr
    collection: Expr
    negated: bool = False


class And(Node):
    """All items hold."""

    node: Literal["and"] = "and"
    items: tuple[Expr, ...]


class Or(Node):
    """At least one item holds."""

    node: Literal["or"] = "or"
    items: tuple[Expr, ...]


class Not(Node):
    """The item does not hold."""

    node: Literal["not"] = "not"
    item: Expr


#: Every expression node. Closed: the evaluator has one handler per member.
Expr = Annotated[
    Quantity
    | ParamRef
    | Symbol
    | DateValue
    | BoolValue
    | Text
    | FieldRef
    | Holds
    | Eligible
    | GraphPredicate
    | SetOf
    | Compare
    | Membership
    | And
    | Or
    | Not,
    Field(discriminator="node"),
]

EXPR_TYPES: tuple[type[Node], ...] = (
    Quantity,
    ParamRef,
    Symbol,
    DateValue,
    BoolValue,
    Text,
    FieldRef,
    Holds,
    Eligible,
    GraphPredicate,
    SetOf,
    Compare,
    Membership,
    And,
    Or,
    Not,
)

for _cls in (SetOf, Compare, Membership, And, Or, Not):
    _cls.model_rebuild()
