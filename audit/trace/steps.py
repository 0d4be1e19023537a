"""What each step of a decision produced: the outputs of the five statement kinds.

These are parts of :class:`marginlex.audit.trace.model.DecisionTrace`; a step's ``output`` is one of
them, told apart by its ``type`` tag. Every model is frozen and rejects unknown fields.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from marginlex.audit.trace.money import Money
from marginlex.engine.outcomes import MethodKind

Scalar = bool | int | float | str | date | None
"""A traced input value: a flag, a count, a rate or price, a label or a date."""


class TraceModel(BaseModel):
    """Base of every trace model: frozen, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Evidence(StrEnum):
    """How far a rule's figures are confirmed (domain brief tags)."""

    VERIFIED = "V"
    SECONDARY = "S"
    ILLUSTRATIVE = "I"


_ROW_CITATION = Field(
    default=None,
    description="The citation of the table row that decided this line (its statement's "
    "when the row has none); null in traces before schema 1.1.",
)
_ROW_EVIDENCE = Field(
    default=None,
    description="That row's evidence status (its statement's when the row has none); null "
    "in traces before schema 1.1.",
)


class InputValue(TraceModel):
    """One rulebook value a step read, by id and value (``param.pm_min_equity`` = 100000 USD)."""

    id: str = Field(
        description="A parameter (param.NAME) or a value written in the rule (RULE_ID.SLOT)."
    )
    unit: str | None = Field(
        default=None, description="USD, fraction (0.15 is 15%), years, multiple; null if none."
    )
    value: Scalar = Field(description="The value read.")


class RequirementCheck(TraceModel):
    """One named eligibility requirement and whether it held."""

    applies: bool = Field(
        default=True, description="False when the requirement's condition does not apply."
    )
    citation: str | None = Field(
        default=None,
        description=(
            "The requirement's own citation, where it has one (a requirement an `extend "
            "eligibility` added or replaced cites the extension); null where it is its "
            "statement's, and before 1.3."
        ),
    )
    evidence: Evidence | None = Field(
        default=None,
        description="The requirement's own evidence status, where it has one (as `citation`).",
    )
    name: str = Field(description="The requirement's name in the rulebook.")
    passed: bool
    reason: str = Field(
        description="The rulebook's `because` text, each `{parameter}` written as in force."
    )
    shortfall: Money | None = Field(
        default=None,
        description="How far a failed minimum was missed (minimum less the amount); null "
        "when it passed, does not apply or is no minimum, and before schema 1.1.",
    )
    tested: tuple[InputValue, ...] = Field(
        description=(
            "Every value the requirement read, one per field, relation, holds() and eligible() "
            "of its condition, then of its `when` (their ids written `when ...`); a blank book "
            "cell is an empty text (since 1.7; before, the first field its condition named, "
            "left out when blank)."
        )
    )


class EligibilityOutput(TraceModel):
    """Output of an eligibility rule: every requirement, and the fallback if it failed."""

    eligible: bool
    fallback: str | None = Field(
        default=None, description="The method used instead when not eligible (e.g. a rule id)."
    )
    requirements: tuple[RequirementCheck, ...]
    type: Literal["eligibility"] = "eligibility"


class ScenarioPoint(TraceModel):
    """One valuation point (or scan scenario) of a class group and its total P&L."""

    label: str = Field(description="E.g. `-15%`, `up 2/3 vol down`, `extreme down`.")
    pnl: Money = Field(description="Total P&L of the class group at this point, weighted.")
    shock: float = Field(description="Price move as a fraction of the price (-0.15 = -15%).")
    vol_shift: float | None = Field(default=None, description="Volatility move, if any.")
    weight: float = Field(default=1.0, description="Fraction of the loss that counts (0.33).")


class OptionAtWorst(TraceModel):
    """What an option's P&L at its class group's worst point was computed from (since trace
    schema 1.2): P&L = quantity x multiplier x (value_at_worst - value_now), times the
    worst point's weight. Values are per unit, from the rulebook's option model."""

    expiry: date | None = Field(description="The option's expiry date.")
    implied_vol: float = Field(description="Implied volatility now (annualized, 0.2 = 20%).")
    option_type: str = Field(description="call or put.")
    strike: float
    underlying_at_worst: float = Field(description="The underlying price at the worst point.")
    underlying_price: float = Field(description="The underlying price now.")
    value_at_worst: float = Field(description="Model value per unit at the worst point.")
    value_now: float = Field(description="Model value per unit now (the base).")
    vol_at_worst: float = Field(description="Volatility at the worst point (floored at 0).")


class PositionAtWorst(TraceModel):
    """One position of a class group, valued at the group's worst point."""

    account_id: str
    citation: str | None = _ROW_CITATION
    evidence: Evidence | None = _ROW_EVIDENCE
    instrument_id: str
    market_value: Money | None = Field(default=None, description="Current market value.")
    option: OptionAtWorst | None = Field(
        default=None,
        description="An option's inputs and model values at the worst point (since 1.2).",
    )
    pnl: Money = Field(description="P&L of this position at the worst point (0 if strategy).")
    price: float | None = Field(default=None, description="Current mark per unit.")
    quantity: float = Field(description="Signed; negative is short.")
    requirement: Money | None = Field(
        default=None, description="The position's own requirement (strategy-based method)."
    )
    shocked_price: float | None = Field(
        default=None, description="Model value per unit at the worst point."
    )
    strategy_row: str | None = Field(
        default=None, description="Strategy-based table row that priced the position."
    )


class ConcentrationTrace(TraceModel):
    """What a concentration add-on was charged from (since trace schema 1.4): the class
    group's value above ``share`` of the set's equity, charged ``rate`` of it."""

    class_group_value: Money = Field(
        description="The sum of the absolute market values of the positions the rule counts."
    )
    equity: Money = Field(description="The margin set's equity the share is of.")
    rate: InputValue = Field(description="The add-on rate, by its parameter id if named.")
    rule_id: str = Field(description="The `concentration add` rule that charged it.")
    share: InputValue = Field(
        description="The threshold: the share of equity above which a class group is charged."
    )


class SpanChargeTrace(TraceModel):
    """One charge of a SPAN class group (since trace schema 1.5): the calendar spreads of a
    tier of months, or the contracts in their delivery month, times the rule's rate.
    A class group's ``amount``s add up to its ``charges``."""

    amount: Money = Field(description="count x rate.")
    charge: Literal["calendar", "delivery"]
    citation: str | None = _ROW_CITATION
    count: float = Field(
        description="Calendar: the spreads formed in the tier (min(long, short) less the "
        "spreads of nearer tiers); delivery: the gross contracts in the delivery month."
    )
    evidence: Evidence | None = _ROW_EVIDENCE
    long_contracts: float = Field(
        description="Calendar: the long contracts of this tier and nearer ones, netted per "
        "expiry (an option by delta where the rule counts by delta); delivery: the long "
        "contracts in the month."
    )
    option_contracts: float | None = Field(
        default=None,
        description="Calendar: the options' net contracts by delta among them (quantity x "
        "delta); null for the delivery month.",
    )
    rate: InputValue = Field(description="The charge per spread or contract, by parameter id.")
    short_contracts: float = Field(description="As `long_contracts`, the short side.")
    tier: str = Field(description="`up to 3 months`, `otherwise`, or `delivery month`.")


class ClassGroupTrace(TraceModel):
    """How one class group's requirement was reached."""

    add_on: Money | None = Field(
        default=None,
        description=(
            "The concentration add-on a `concentration add` rule charged on this class group "
            "(its rate times the group's value, the group being above its share of equity), "
            "added to the requirement after offsets; null when none, and before 1.3."
        ),
    )
    after_credits: Money | None = Field(
        default=None,
        description=(
            "A SPAN leg credited per leg: its requirement after credits, max(loss - credit, "
            "minimum) - paired_credit; the set's class groups' add up to its requirement "
            "before add-ons and minimums. Null where credits are not per leg, and before 1.5."
        ),
    )
    charges: Money | None = Field(
        default=None,
        description=(
            "SPAN: the intra-commodity (calendar) spread and delivery-month charges included "
            "in `loss` (loss = the worst point's loss + charges); null for other methods, "
            "and before 1.3."
        ),
    )
    class_group: str
    concentration: ConcentrationTrace | None = Field(
        default=None,
        description="What `add_on` was charged from; null when none, and before 1.4.",
    )
    credit: Money | None = Field(
        default=None,
        description=(
            "A SPAN leg's inter-commodity spread credit: the rate times `matched_risk` (a "
            "minimum may keep part of it from the requirement); null where credits are not "
            "per leg, and before 1.5."
        ),
    )
    loss: Money = Field(
        description="Worst P&L, sign flipped, floored at 0 (plus `charges` in a SPAN scan)."
    )
    matched_risk: Money | None = Field(
        default=None,
        description=(
            "A SPAN leg: the scanning risk it matched against the other side's legs (its "
            "risk x the matched risk / its side's risk); null where credits are not per "
            "leg, and before 1.5."
        ),
    )
    method: MethodKind
    minimum: Money = Field(description="Per-contract minimum for the group.")
    paired_credit: Money | None = Field(
        default=None,
        description=(
            "A SPAN leg: the requirement a DV01 pairing took off it (0 without one); null "
            "where credits are not per leg, and before 1.5."
        ),
    )
    points: tuple[ScenarioPoint, ...] = Field(description="Every point, in grid order.")
    positions: tuple[PositionAtWorst, ...]
    range_down: float | None = Field(
        default=None, description="Largest price fall scanned, as a fraction (0.15 = -15%)."
    )
    range_up: float | None = Field(
        default=None, description="Largest price rise scanned, as a fraction (0.06 = +6%)."
    )
    requirement: Money = Field(description="max(loss, minimum).")
    span_charges: tuple[SpanChargeTrace, ...] | None = Field(
        default=None,
        description="SPAN: the charges that make up `charges`, one per tier of calendar "
        "spreads and the delivery month charged; null for other methods, and before 1.5.",
    )
    worst_point: str = Field(description="Label of the point with the lowest P&L.")


class ClassGroupsOutput(TraceModel):
    """Output of a margin method rule: each class group it priced."""

    groups: tuple[ClassGroupTrace, ...]
    total: Money = Field(description="Sum of the class-group requirements before offsets.")
    type: Literal["class_groups"] = "class_groups"


def _absent(value: object) -> bool:
    """Whether an optional field is left out of the JSON (not written as null)."""
    return value is None


class OffsetTrace(TraceModel):
    """A credit between class groups: a fraction of gains offsetting losses."""

    class_group_requirements: Money | None = Field(
        default=None,
        description=(
            "The joined class groups' requirements before credits (a DV01 pairing's row: the "
            "risk its legs had left after the credits of the set's earlier rows); null "
            "before 1.4."
        ),
    )
    credit: Money = Field(description="Amount taken off the requirement.")
    dv01_matched: float | None = Field(
        default=None,
        exclude_if=_absent,
        description=(
            "A DV01 pairing's row: the DV01 it matched between its two legs (USD per basis "
            "point); absent on other offsets."
        ),
    )
    first_credit: Money | None = Field(
        default=None,
        exclude_if=_absent,
        description=(
            "A DV01 pairing's row: its first leg's credit, rate x `dv01_matched` x "
            "`first_risk_per_dv01` (before any class group's minimum); absent on other offsets."
        ),
    )
    first_risk_per_dv01: float | None = Field(
        default=None,
        exclude_if=_absent,
        description=(
            "A DV01 pairing's row: its first leg's scanning risk per DV01 (its class group's "
            "SPAN scanning risk / its net DV01; weighted by DV01 over several class groups); "
            "absent on other offsets."
        ),
    )
    gains: Money | None = Field(
        default=None,
        description="Gains at the worst point (a SPAN credit per leg: the risk matched).",
    )
    groups: tuple[str, ...] = Field(description="The class groups the offset joined.")
    losses: Money | None = Field(
        default=None,
        description=(
            "Losses at the worst point (a SPAN credit per leg: the legs' risk, what a DV01 "
            "pairing left unmatched)."
        ),
    )
    paired_credit: Money | None = Field(
        default=None,
        description=(
            "The credit a DV01 pairing (a step of its own) gave these class groups before "
            "this credit; null when none, and before 1.4."
        ),
    )
    product_group: str | None = Field(default=None, description="E.g. `high_cap_broad`.")
    rate: float = Field(description="Fraction of the offsetting amount credited (0.9 = 90%).")
    requirement: Money | None = Field(
        default=None,
        description=(
            "The class groups' requirement after this credit and `paired_credit` "
            "(class_group_requirements - paired_credit - credit, unless a minimum binds); "
            "null before 1.4."
        ),
    )
    second_credit: Money | None = Field(
        default=None,
        exclude_if=_absent,
        description="A DV01 pairing's row: its second leg's credit (as `first_credit`).",
    )
    second_risk_per_dv01: float | None = Field(
        default=None,
        exclude_if=_absent,
        description=(
            "A DV01 pairing's row: its second leg's scanning risk per DV01 (as "
            "`first_risk_per_dv01`)."
        ),
    )
    worst_point: str | None = Field(default=None, description="The point the offset used.")


class ClearingHouseShare(TraceModel):
    """One clearing house's side of a DV01-paired margin set."""

    dv01: float = Field(description="The net DV01 of its positions (USD per basis point).")
    house: str = Field(description="The clearing house, as the pairing rule names it.")
    requirement: Money = Field(description="Its class groups' requirements after credits.")


class ClearingSplit(TraceModel):
    """Who holds what of a cross-margined requirement (since trace schema 1.4): each
    clearing house its own side's requirement, the carrying firm the rest of the initial."""

    carrier_requirement: Money = Field(
        description="The initial requirement less both houses' requirements."
    )
    dv01_paired: float = Field(description="The DV01 the pairing matched across the houses.")
    houses: tuple[ClearingHouseShare, ...] = Field(description="The pairing's first side first.")
    initial: Money = Field(description="The margin set's initial requirement.")


class OffsetsOutput(TraceModel):
    """Output of an offset rule."""

    clearing_split: ClearingSplit | None = Field(
        default=None,
        description=(
            "A DV01 pairing's split of the requirement between the clearing houses and the "
            "carrying firm; null for other offsets and sets it did not pair, and before 1.4."
        ),
    )
    offsets: tuple[OffsetTrace, ...]
    total_credit: Money
    type: Literal["offsets"] = "offsets"


class HaircutCandidate(TraceModel):
    """A schedule's answer for a lot, when a combinator compared several."""

    rate: float
    row: str = Field(description="The decision-table row label that matched.")
    rule_id: str


class LotTrace(TraceModel):
    """One collateral lot: its haircut row, any concentration cap, and its value."""

    account_id: str
    asset: str
    candidates: tuple[HaircutCandidate, ...] = Field(
        default=(), description="Every schedule compared by a more-conservative combinator."
    )
    cap_amount: Money | None = Field(
        default=None,
        description="The cap that cut the lot: cap_limit x cap_base (since 1.5; null if none).",
    )
    cap_applied: bool = False
    cap_base: Money | None = Field(
        default=None, description="The set's requirement the limit is of (since 1.5)."
    )
    cap_limit: float | None = Field(
        default=None, description="The limit, a fraction of `cap_base` (since 1.5)."
    )
    cap_of: Literal["initial", "maintenance"] | None = Field(
        default=None, description="Which requirement `cap_base` is (since 1.5)."
    )
    cap_rule_id: str | None = Field(default=None, description="Concentration rule, if capped.")
    cap_scale: float | None = Field(
        default=None,
        description="Fraction of the post-haircut value the cap kept (0..1): cap_amount / "
        "capped_value.",
    )
    capped_value: Money | None = Field(
        default=None,
        description="The value after haircuts of every lot of the set the cap counts, which "
        "the cap cut to `cap_amount` (since 1.5).",
    )
    citation: str | None = _ROW_CITATION
    eligible: bool = True
    evidence: Evidence | None = _ROW_EVIDENCE
    haircut_rate: float | None = Field(description="Haircut as a fraction (0.005 = 0.5%).")
    haircut_row: str | None = Field(description="Row label that matched, e.g. `under 6 months`.")
    ineligible_reason: str | None = None
    lot_id: str
    market_value: Money
    maturity: date | None = None
    schedule_rule_id: str | None = Field(
        default=None, description="The schedule that won when several were compared."
    )
    value: Money = Field(description="Value after haircut and cap.")
    value_after_haircut: Money | None = Field(
        default=None, description="Value after the haircut, before any cap."
    )


class CollateralOutput(TraceModel):
    """Output of a haircut (or concentration) rule: every lot of the margin set."""

    lots: tuple[LotTrace, ...]
    total_value: Money
    type: Literal["collateral"] = "collateral"


class SegregationViolation(TraceModel):
    """A segregation constraint broken, with the graph path that breaks it."""

    citation: str
    constraint_id: str
    message: str
    path: tuple[str, ...] = Field(description="Node ids from the source to where it must not go.")


class SegregationOutput(TraceModel):
    """Output of a segregation rule (no violations is a pass)."""

    type: Literal["segregation"] = "segregation"
    violations: tuple[SegregationViolation, ...]


StepOutput = Annotated[
    EligibilityOutput | ClassGroupsOutput | OffsetsOutput | CollateralOutput | SegregationOutput,
    Field(discriminator="type"),
]


class RuleKind(StrEnum):
    """The statement kind a step comes from.

    The step-making subset of :class:`marginlex.dsl.model.rulebook.StatementKind`, with the same
    values (``RuleKind(kind.value)`` converts). It is its own closed enum so that the
    versioned trace schema does not change when the language gains statement kinds.
    """

    ELIGIBILITY = "eligibility"
    SEGREGATION = "segregation"
    HAIRCUT = "haircut"
    CONCENTRATION = "concentration"
    MARGIN = "margin"
    OFFSET = "offset"


OUTPUT_OF_KIND: dict[RuleKind, str] = {
    RuleKind.ELIGIBILITY: "eligibility",
    RuleKind.SEGREGATION: "segregation",
    RuleKind.HAIRCUT: "collateral",
    RuleKind.CONCENTRATION: "collateral",
    RuleKind.MARGIN: "class_groups",
    RuleKind.OFFSET: "offsets",
}
"""Which output type each rule kind writes (checked when a step is built)."""
