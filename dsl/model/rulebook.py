"""The typed rulebook model: frozen pydantic nodes, each with a :class:`Span`.

A :class:`Rulebook` is what one ``.mlx`` file says. Statements are a discriminated
union on ``kind`` (:class:`StatementKind`); the bodies of haircut, margin, offset and
segregation statements are discriminated unions on ``node``. Numbers in tables are
:data:`Value` (a :class:`Quantity` or a :class:`ParamRef`); ``Quantity.base`` gives the
number in base units (fraction for % and bp, years for durations, USD for money).

Expressions and values live in :mod:`marginlex.dsl.model.expressions` and are re-exported here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from marginlex.dsl.model.bodies import (
    REQUIREMENT_MODIFIERS,
    Acceptance,
    AssetRow,
    AssetTable,
    Bucket,
    CalendarCase,
    CalendarSpreads,
    CarrierKinds,
    Citation,
    ClassGroupCredit,
    CollateralFlow,
    ConcentrationAddOn,
    ConcentrationBase,
    Constraint,
    ContractMinimum,
    CreditRow,
    DeliveryCharge,
    Dv01Pairing,
    Effective,
    Expiring,
    Flat,
    GiveUp,
    HaircutBody,
    Ineligible,
    InitialMultiple,
    LowPriceTier,
    MarginMethod,
    MaturityBuckets,
    MergeAccounts,
    MergedCarrier,
    MinimumEquity,
    MoreConservative,
    Netting,
    Note,
    OffsetRule,
    OfUnderlying,
    OptionModel,
    Outcome,
    PairingBucket,
    PairingRow,
    RangeRow,
    Rate,
    RateRow,
    Rates,
    ScanRow,
    ScenarioGrid,
    SelectorRow,
    Separate,
    SingleOwner,
    SpanScan,
    SpreadTier,
    Status,
    StrategyBased,
    StrategyLeg,
    StrategyRow,
    TakeIn,
    selector_rows,
)
from marginlex.dsl.model.expressions import (
    EXPR_TYPES,
    NO_SPAN,
    And,
    BoolValue,
    CmpOp,
    Compare,
    DateValue,
    Dimension,
    Eligible,
    Expr,
    FieldRef,
    GraphPredicate,
    Holds,
    Membership,
    Node,
    Not,
    Or,
    ParamRef,
    Quantity,
    RelationKind,
    SetOf,
    Span,
    Subject,
    Symbol,
    Text,
    Unit,
    Value,
)
from marginlex.dsl.model.span import SPAN_FIELDS


class StatementKind(StrEnum):
    """The statement kinds of the language (``remove`` is the removal of an inherited one)."""

    PARAMETER = "parameter"
    SCOPE = "scope"
    ELIGIBILITY = "eligibility"
    SEGREGATION = "segregation"
    HAIRCUT = "haircut"
    CONCENTRATION = "concentration"
    MARGIN = "margin"
    OFFSET = "offset"
    REMOVE = "remove"
    EXTEND = "extend"


class Header(Node):
    """The rulebook header: id, title, jurisdiction, version, dates, citation, extends.

    ``replaces`` is the ``replaces shipped ID`` clause: this file knowingly takes the id of a
    shipped rulebook, and is used instead of it by the rulebooks beside it.
    """

    id: str
    title: str
    jurisdiction: str | None = None
    version: str | None = None
    effective: Effective | None = None
    citation: Citation | None = None
    extends: tuple[Symbol, ...] = ()
    replaces: Symbol | None = None
    accepts: tuple[Acceptance, ...] = ()


class StatementBase(Node):
    """Fields every statement has. ``citation`` is mandatory (a check reports it missing)."""

    id: str
    override: bool = False
    citation: Citation | None = None
    effective: Effective | None = None
    status: Status | None = None
    status_span: Span | None = None  # where ``status`` was written (fmt keeps comments by it)
    accepts: tuple[Acceptance, ...] = ()


class Parameter(StatementBase):
    """``parameter pm_min_equity = 100,000 USD``: a named figure, referable as :class:`ParamRef`."""

    kind: Literal[StatementKind.PARAMETER] = StatementKind.PARAMETER
    value: Quantity


class Scope(StatementBase):
    """``scope x decides account where EXPR``: which accounts the rulebook decides (an account
    is in scope when any scope statement matches it)."""

    kind: Literal[StatementKind.SCOPE] = StatementKind.SCOPE
    where: Expr


class Requirement(Node):
    """``require name: EXPR [when EXPR] because "..."``; applies only where ``when`` holds.

    The reason may name parameters, ``{pm_min_equity}``, rendered with the value in force.
    """

    name: str
    condition: Expr
    when: Expr | None = None
    reason: str
    note: Note | None = None
    # Where the `because` string is written, for diagnostics about its `{parameter}`s.
    reason_span: Span | None = None


class Eligibility(StatementBase):
    """Named requirements over one subject (always ``account`` today); all must hold."""

    kind: Literal[StatementKind.ELIGIBILITY] = StatementKind.ELIGIBILITY
    subject: Subject = Subject.ACCOUNT
    requirements: tuple[Requirement, ...]


class Segregation(StatementBase):
    """One constraint over the account graph."""

    kind: Literal[StatementKind.SEGREGATION] = StatementKind.SEGREGATION
    constraint: Constraint


class Haircut(StatementBase):
    """A haircut schedule for the collateral lots where ``where`` holds (all if None).

    Lots take the first applicable schedule in rulebook order
    (see ``ResolvedRulebook.haircut_policy``); a lot no schedule matches is ineligible.
    """

    kind: Literal[StatementKind.HAIRCUT] = StatementKind.HAIRCUT
    where: Expr | None = None
    body: HaircutBody


class Concentration(StatementBase):
    """``at most 40% of requirement`` for the haircut value of lots where ``where`` holds;
    ``of initial requirement`` measures it against the set's initial requirement (its
    maintenance × the initial multiple, or the maintenance where no multiple applies)."""

    kind: Literal[StatementKind.CONCENTRATION] = StatementKind.CONCENTRATION
    where: Expr | None = None
    limit: Value
    of: ConcentrationBase = ConcentrationBase.REQUIREMENT


class Margin(StatementBase):
    """A margin method and the accounts it applies to (``applies to account where EXPR``).

    For each margin set, the first ``Margin`` in rulebook order whose method is not
    a requirement modifier (:data:`REQUIREMENT_MODIFIERS`) and whose ``applies_to`` holds
    (None: always) gives the maintenance requirement; :class:`MinimumEquity` statements that
    apply raise it to their amount, :class:`ConcentrationAddOn` statements add to it,
    :class:`InitialMultiple` statements give the initial.
    """

    kind: Literal[StatementKind.MARGIN] = StatementKind.MARGIN
    applies_to: Expr | None = None
    method: MarginMethod


class Offset(StatementBase):
    """One offset rule: netting, credits, or how margin sets are formed.

    Accounts that no ``sets`` rule (:class:`MergeAccounts`, :class:`TakeIn`) joins to others
    are margined alone.
    """

    kind: Literal[StatementKind.OFFSET] = StatementKind.OFFSET
    rule: OffsetRule


class Removal(StatementBase):
    """``remove KIND id cites "..."``: drop an inherited statement."""

    kind: Literal[StatementKind.REMOVE] = StatementKind.REMOVE
    target_kind: StatementKind


class RequirementEdit(StrEnum):
    """What an ``extend`` line does to one inherited requirement or table row."""

    ADD = "add"
    REPLACE = "replace"
    DROP = "drop"


class RequirementChange(Node):
    """``add require ...``, ``replace require ...`` or ``drop require NAME``."""

    edit: RequirementEdit
    name: str
    requirement: Requirement | None = None  # None for DROP


#: A row of a haircut table or of a margin method's table, as ``extend`` adds or replaces it.
TableRow = Bucket | AssetRow | RangeRow | ScanRow | RateRow


class RowChange(Node):
    """``add row ROW``, ``replace row ROW`` or ``drop row KEY`` of an ``extend haircut`` or
    ``extend margin``.

    ``key`` is the row's key as a person reads it (:func:`marginlex.dsl.model.rows.row_key`):
    the asset (``UST_BILL``), the bucket bound (``under 3 months``), the selector
    (``when instrument.class = ust``) or ``otherwise``.
    """

    edit: RequirementEdit
    key: str
    row: TableRow | None = None  # None for DROP


class Extension(StatementBase):
    """``extend eligibility ID``, ``extend haircut ID`` or ``extend margin ID``: add, replace
    or drop requirements (or table rows) of an inherited statement without restating it;
    resolution applies the changes to the base's statement.

    The extension's ``cites`` (and ``status``) is the citation of the requirements or rows
    it adds or replaces, where one carries no ``[cites ...]`` note of its own.
    """

    kind: Literal[StatementKind.EXTEND] = StatementKind.EXTEND
    target_kind: StatementKind = StatementKind.ELIGIBILITY
    changes: tuple[RequirementChange | RowChange, ...]


Statement = Annotated[
    Parameter
    | Scope
    | Eligibility
    | Segregation
    | Haircut
    | Concentration
    | Margin
    | Offset
    | Removal
    | Extension,
    Field(discriminator="kind"),
]

STATEMENT_TYPES: tuple[type[StatementBase], ...] = (
    Parameter,
    Scope,
    Eligibility,
    Segregation,
    Haircut,
    Concentration,
    Margin,
    Offset,
    Removal,
    Extension,
)


class Comment(Node):
    """A ``# ...`` comment, kept so that ``marginlex fmt`` can put it back."""

    text: str


class Rulebook(Node):
    """One rulebook file as written: header and statements in source order."""

    header: Header
    statements: tuple[Statement, ...] = ()
    comments: tuple[Comment, ...] = Field(default=(), repr=False)

    @property
    def id(self) -> str:
        """The rulebook id from the header."""
        return self.header.id


#: Every node class of the model (the formatter test asserts each has a handler).
NODE_TYPES: tuple[type[Node], ...] = (
    *EXPR_TYPES,
    Citation,
    Effective,
    Note,
    Acceptance,
    Header,
    *STATEMENT_TYPES,
    Requirement,
    RequirementChange,
    RowChange,
    CollateralFlow,
    CarrierKinds,
    SingleOwner,
    MergedCarrier,
    Rate,
    Ineligible,
    Bucket,
    MaturityBuckets,
    AssetRow,
    AssetTable,
    Flat,
    MoreConservative,
    ContractMinimum,
    RangeRow,
    ScenarioGrid,
    ScanRow,
    SpreadTier,
    CalendarCase,
    CalendarSpreads,
    DeliveryCharge,
    SpanScan,
    OfUnderlying,
    RateRow,
    Rates,
    StrategyRow,
    LowPriceTier,
    StrategyBased,
    InitialMultiple,
    MinimumEquity,
    ConcentrationAddOn,
    Netting,
    Expiring,
    CreditRow,
    ClassGroupCredit,
    Separate,
    MergeAccounts,
    TakeIn,
    GiveUp,
    PairingBucket,
    PairingRow,
    Dv01Pairing,
    Rulebook,
)

__all__ = [
    "EXPR_TYPES",
    "NODE_TYPES",
    "NO_SPAN",
    "REQUIREMENT_MODIFIERS",
    "SPAN_FIELDS",
    "STATEMENT_TYPES",
    "Acceptance",
    "And",
    "AssetRow",
    "AssetTable",
    "BoolValue",
    "Bucket",
    "CalendarCase",
    "CalendarSpreads",
    "CarrierKinds",
    "Citation",
    "ClassGroupCredit",
    "CmpOp",
    "CollateralFlow",
    "Comment",
    "Compare",
    "Concentration",
    "ConcentrationAddOn",
    "ConcentrationBase",
    "Constraint",
    "ContractMinimum",
    "CreditRow",
    "DateValue",
    "DeliveryCharge",
    "Dimension",
    "Dv01Pairing",
    "Effective",
    "Eligibility",
    "Eligible",
    "Expiring",
    "Expr",
    "Extension",
    "FieldRef",
    "Flat",
    "GiveUp",
    "GraphPredicate",
    "Haircut",
    "HaircutBody",
    "Header",
    "Holds",
    "Ineligible",
    "InitialMultiple",
    "LowPriceTier",
    "Margin",
    "MarginMethod",
    "MaturityBuckets",
    "Membership",
    "MergeAccounts",
    "MergedCarrier",
    "MinimumEquity",
    "MoreConservative",
    "Netting",
    "Node",
    "Not",
    "Note",
    "OfUnderlying",
    "Offset",
    "OffsetRule",
    "OptionModel",
    "Or",
    "Outcome",
    "PairingBucket",
    "PairingRow",
    "ParamRef",
    "Parameter",
    "Quantity",
    "RangeRow",
    "Rate",
    "RateRow",
    "Rates",
    "RelationKind",
    "Removal",
    "Requirement",
    "RequirementChange",
    "RequirementEdit",
    "RowChange",
    "Rulebook",
    "ScanRow",
    "ScenarioGrid",
    "Scope",
    "Segregation",
    "SelectorRow",
    "Separate",
    "SetOf",
    "SingleOwner",
    "Span",
    "SpanScan",
    "SpreadTier",
    "Statement",
    "StatementBase",
    "StatementKind",
    "Status",
    "StrategyBased",
    "StrategyLeg",
    "StrategyRow",
    "Subject",
    "Symbol",
    "TableRow",
    "TakeIn",
    "Text",
    "Unit",
    "Value",
    "selector_rows",
]
