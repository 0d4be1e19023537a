"""Model parts below the statements: clauses, table rows, haircut bodies, margin methods,
offset rules and segregation constraints. Re-exported by :mod:`marginlex.dsl.model.rulebook`."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from marginlex.dsl.model.expressions import Expr, FieldRef, Node, Quantity, Symbol, Value


class Status(StrEnum):
    """How sure the figure is: [V] primary text, [S] secondary source, [I] illustrative."""

    VERIFIED = "verified"
    SECONDARY = "secondary"
    ILLUSTRATIVE = "illustrative"


class Citation(Node):
    """``cites "..."``: the public source of a rule or figure."""

    text: str


class Effective(Node):
    """``effective from D [until D]``: in force on ``start <= as_of < until``."""

    start: dt.date | None = None
    until: dt.date | None = None

    def covers(self, as_of: dt.date) -> bool:
        """Whether the range is in force on ``as_of``."""
        after = self.start is None or self.start <= as_of
        before = self.until is None or as_of < self.until
        return after and before


class Acceptance(Node):
    """``accept MLX603 because "..."``: a checker finding on this statement, accepted with a
    reason (the finding is then not reported)."""

    code: str
    reason: str


class Note(Node):
    """A row note ``[secondary, cites "..."]``: per-row status and citation."""

    status: Status | None = None
    citation: Citation | None = None


# --- segregation constraints -------------------------------------------------------------


class CollateralFlow(Node):
    """``collateral of account where SRC must not reach account where DST`` (via pledged_to).

    ``other_owner`` (``... reach account of another owner where DST``): only an account of
    another owner than the lot's counts as forbidden (17 CFR 1.22: one customer's funds
    never margin another's).

    ``not_counted`` (``..., not counted there``): a lot pledged to a forbidden account (the
    account whose margin it is, ``pledged_to``) counts nothing in that account's value; a
    rule without the words counts it, as recorded rulebooks did.
    """

    node: Literal["collateral_flow"] = "collateral_flow"
    source: Expr
    target: Expr
    other_owner: bool = False
    not_counted: bool = False


class CarrierKinds(Node):
    """``account where EXPR must be carried by {kinds}``."""

    node: Literal["carrier_kinds"] = "carrier_kinds"
    accounts: Expr
    kinds: tuple[Symbol, ...]


class SingleOwner(Node):
    """``merged accounts must have one owner``: a margin set never mixes owners."""

    node: Literal["single_owner"] = "single_owner"


class MergedCarrier(Node):
    """``merged accounts must be carried by {kinds} under {agreements}``."""

    node: Literal["merged_carrier"] = "merged_carrier"
    kinds: tuple[Symbol, ...]
    agreements: tuple[Symbol, ...] = ()


Constraint = Annotated[
    CollateralFlow | CarrierKinds | SingleOwner | MergedCarrier, Field(discriminator="node")
]


# --- haircuts ----------------------------------------------------------------------------


class Rate(Node):
    """A haircut outcome: the fraction of market value taken off."""

    node: Literal["rate"] = "rate"
    value: Value


class Ineligible(Node):
    """A haircut outcome: the lot counts for nothing, for the stated reason."""

    node: Literal["ineligible"] = "ineligible"
    reason: str


Outcome = Annotated[Rate | Ineligible, Field(discriminator="node")]


class Bucket(Node):
    """``under 3 months 0.5%``: residual maturity strictly below ``upper``; ``up to 1 year
    1%``: at most ``upper`` (``inclusive``), as CME's schedule reads ("up to 1 year").

    ``upper`` is None for the ``otherwise`` row. A lot exactly on an ``under`` boundary is
    not under it, so it takes the longer bucket; on an ``up to`` boundary it takes this one.
    """

    upper: Quantity | None
    outcome: Outcome
    note: Note | None = None
    inclusive: bool = False

    @property
    def label(self) -> str:
        """The row as written: ``under 3 months``, ``up to 1 year``, ``otherwise`` (the
        explanation quotes it: it read "up to 1 years").

        >>> from marginlex.dsl.model.expressions import Unit
        >>> one = Quantity(amount=1, unit=Unit.YEARS, text="1")
        >>> Bucket(upper=one, outcome=Ineligible(reason="x"), inclusive=True).label
        'up to 1 year'
        """
        if self.upper is None:
            return "otherwise"
        word = "up to" if self.inclusive else "under"
        return f"{word} {self.upper.written}"


class MaturityBuckets(Node):
    """``by residual_maturity`` followed by ascending buckets ending with ``otherwise``."""

    node: Literal["maturity_buckets"] = "maturity_buckets"
    buckets: tuple[Bucket, ...]


class AssetRow(Node):
    """``UST_BILL 0.5%`` in a ``by asset`` table; ``asset`` None is the ``otherwise`` row."""

    asset: Symbol | None
    outcome: Outcome
    note: Note | None = None


class AssetTable(Node):
    """``by asset`` followed by one row per asset and an optional ``otherwise``."""

    node: Literal["asset_table"] = "asset_table"
    rows: tuple[AssetRow, ...]


class Flat(Node):
    """``rate 2%`` or ``ineligible because "..."`` for every matching lot."""

    node: Literal["flat"] = "flat"
    outcome: Outcome
    note: Note | None = None


class MoreConservative(Node):
    """``more conservative of a, b``: per lot, the largest haircut of the named schedules.

    Each named schedule contributes where its own ``where`` matches the lot; a lot that one
    of them makes ineligible is ineligible. Schedules named here are not applied on their own.
    ``more conservative of {a, b} and {c, d}`` groups them by regime (``regimes``: the group
    number of each schedule): a lot that no schedule of one group selects is refused by that
    regime, a 100% haircut, so it is ineligible.
    """

    node: Literal["more_conservative"] = "more_conservative"
    schedules: tuple[Symbol, ...]
    regimes: tuple[int, ...] = ()

    def groups(self) -> list[tuple[Symbol, ...]]:
        """The schedules of each regime, in order (``{a, b} and {c, d}``); empty: ungrouped."""
        out: dict[int, list[Symbol]] = {}
        for name, regime in zip(self.schedules, self.regimes, strict=False):
            out.setdefault(regime, []).append(name)
        return [tuple(v) for v in out.values()]


HaircutBody = Annotated[
    MaturityBuckets | AssetTable | Flat | MoreConservative, Field(discriminator="node")
]


class ConcentrationBase(StrEnum):
    """What a concentration limit is a fraction of."""

    REQUIREMENT = "requirement"
    INITIAL = "initial requirement"


# --- margin methods ----------------------------------------------------------------------


class OptionModel(StrEnum):
    """How options are revalued under a price shock."""

    BLACK_SCHOLES = "black_scholes"


class ContractMinimum(Node):
    """``minimum 0.375 USD per contract [times multiplier] for position where EXPR``.

    Class-group requirement = max(scenario loss, sum of the minimum over its contracts).
    """

    amount: Value
    times_multiplier: bool = True
    where: Expr | None = None
    note: Note | None = None


class SpreadTier(Node):
    """``up to 3 months V per spread [note]``, or ``otherwise V per spread`` (``upper`` None).

    A calendar spread falls in the first tier whose bound its farther leg's time to expiry
    is at most.
    """

    upper: Quantity | None
    charge: Value
    note: Note | None = None


class CalendarCase(Node):
    """``when EXPR`` and its own tiers, after a calendar clause's tiers: a class group every
    one of whose counted positions meets the instrument condition takes these tiers and
    rates instead (CME sets the intra-commodity spread charge per combined commodity)."""

    when: Expr
    tiers: tuple[SpreadTier, ...]


class CalendarSpreads(Node):
    """``calendar spreads for position where EXPR`` and its tiers: the intra-commodity
    (calendar) spread charge of a SPAN scan, USD per spread formed between expiries of one
    class group (CME SPAN's intra-commodity spread charge).

    ``cases``: tiers of their own for some class groups (``when EXPR``, the first whose
    condition every counted position of the class group meets); ``tiers`` are the rest's.
    """

    where: Expr
    tiers: tuple[SpreadTier, ...]
    cases: tuple[CalendarCase, ...] = ()

    @property
    def tables(self) -> tuple[tuple[SpreadTier, ...], ...]:
        """The tiers of the rest, then each case's, in the order written."""
        return (self.tiers, *(c.tiers for c in self.cases))

    @property
    def all_tiers(self) -> tuple[SpreadTier, ...]:
        """Every tier in table order (the charge rows' ``row`` numbers them)."""
        return tuple(t for table in self.tables for t in table)

    by_delta: bool = False
    """``calendar spreads by delta``: options count by delta (quantity x delta) at their
    underlying's expiry, as CME's intra-commodity spreads use delta-weighted positions;
    without it every selected position counts its contracts at its own expiry."""


class DeliveryCharge(Node):
    """``delivery month V per contract for position where EXPR [note]``: a charge per
    contract on positions expiring in the as-of month (CME SPAN's spot month charge)."""

    amount: Value
    where: Expr
    note: Note | None = None


class RangeRow(Node):
    """``range when EXPR up 6% down 8% [as class_group NAME]``; ``when`` None is otherwise.

    ``class_group`` regroups the matching instruments (e.g. Treasury maturity buckets).
    """

    when: Expr | None
    up: Value
    down: Value
    class_group: str | None = None
    note: Note | None = None


class ScenarioGrid(Node):
    """Revalue each class group at ``points`` equidistant moves (half up, half down)."""

    node: Literal["scenario_grid"] = "scenario_grid"
    points: int
    option_model: OptionModel = OptionModel.BLACK_SCHOLES
    rate: Value | None = None
    ranges: tuple[RangeRow, ...]
    minimum: ContractMinimum | None = None


class ScanRow(Node):
    """``range when EXPR 7%``: the price scan range for matching instruments."""

    when: Expr | None
    range: Value
    note: Note | None = None


class SpanScan(Node):
    """SPAN-style scan: moves 0, ±1/steps .. ±steps/steps of the scan range, vol up and down,
    plus two extreme moves of ``extreme_multiple`` × range counting ``extreme_cover``.

    When ``prefer_instrument_range`` the instrument's own ``scan_range`` wins over the table.
    ``volatility shift V`` moves implied volatility by V absolute points (floored at 0);
    ``volatility shift V of implied at least F`` (``vol_floor`` set) moves it by V of itself,
    implied × (1 ± V), floored at F: CME's volatility scan range, relative to implied
    volatility (issue 14's decision).
    """

    node: Literal["span_scan"] = "span_scan"
    steps: int = 3
    vol_shift: Value
    vol_floor: Value | None = None
    extreme_multiple: Value
    extreme_cover: Value
    coverage: Value | None = None
    liquidation: Value | None = None
    prefer_instrument_range: bool = True
    ranges: tuple[ScanRow, ...]
    minimum: ContractMinimum | None = None
    calendar: CalendarSpreads | None = None
    delivery: DeliveryCharge | None = None


class OfUnderlying(Node):
    """``of underlying less out of the money [at least F] [at least S per share]``: a rate
    row that charges a short option ``rate`` x its underlying's value less the
    out-of-the-money amount, at least ``floor`` x the underlying's value and at least
    ``per_share`` x the shares it delivers (SEC Rule 15c3-1's strategy-based deduction for a
    broker-dealer's own short option)."""

    floor: Value | None = None
    per_share: Value | None = None


class RateRow(Node):
    """``when EXPR 25%`` of a position's market value; ``when`` None is otherwise. With
    ``of_underlying`` the rate is of the option's underlying value instead (a ``rates``
    table's row only)."""

    when: Expr | None
    rate: Value
    of_underlying: OfUnderlying | None = None
    note: Note | None = None


class Rates(Node):
    """Requirement = sum over positions of the first matching row's rate × |notional|
    (quantity × price × multiplier: a security's market value, a future's contract value)."""

    node: Literal["rates"] = "rates"
    rows: tuple[RateRow, ...]


class StrategyLeg(StrEnum):
    """The legs the strategy-based (Reg T / FINRA 4210(c)) fallback knows."""

    LONG_STOCK = "long_stock"
    SHORT_STOCK = "short_stock"
    SHORT_EQUITY_OPTION = "short_equity_option"
    SHORT_INDEX_OPTION = "short_index_option"
    LONG_OPTION = "long_option"
    OPTION_SPREAD = "option_spread"
    SHORT_STRADDLE = "short_straddle"


class LowPriceTier(Node):
    """``under 5 USD a share 100% at least 2.50 USD per share``: a ``short_stock`` row's
    figures for a stock whose price (a share's) is below ``under``.

    Such a short is charged ``rate`` × market value, at least ``per_share`` × shares
    (FINRA Rule 4210(c): under $5.00 a share, $2.50 a share or 100%, whichever is greater).
    """

    under: Value
    rate: Value
    per_share: Value | None = None


class StrategyRow(Node):
    """``short_equity_option 20% at least 10%``.

    Stocks: ``rate`` × market value. Short options: premium + rate × underlying value
    − out-of-the-money amount, at least premium + ``floor`` × (underlying value for calls,
    strike value for puts). Long options: ``rate`` × option value.

    ``short_stock`` only (the checker says so elsewhere): ``per_share`` (``at least 5 USD per
    share``), an amount per share the short is charged at least, and ``low_price``
    (``, under 5 USD a share 100% at least 2.50 USD per share``), the rate and per-share
    amount of a stock priced below a bound. A row without them means what it always did.
    """

    leg: StrategyLeg
    rate: Value
    floor: Value | None = None
    per_share: Value | None = None
    low_price: LowPriceTier | None = None
    note: Note | None = None


class StrategyBased(Node):
    """The strategy-based fallback: one row per leg, then rate rows for everything else.

    ``others`` (``when EXPR RATE`` / ``otherwise RATE``) price the positions that no leg
    covers (government securities, futures, ...): the first matching row's rate times the
    position's absolute notional. A position no row matches takes the ``long_stock`` rate.

    ``held_in_cash`` (``strategy based held in cash``, a cash account under 12 CFR 220.8):
    each short leg's figure is the cash to be held for it (a short stock's market value at
    the stock rate; a short option's rate x the underlying value less the out-of-the-money
    amount, at least the floor rate x the underlying value (calls) or strike value (puts),
    with no premium term), and it is charged that cash less the market value the account's
    value already deducts as the short's liability, so the liability counts once: a put
    needs cash equal to its exercise price, a short stock its market value (its proceeds
    count). No straddle is paired: each leg holds its own cash.
    """

    node: Literal["strategy_based"] = "strategy_based"
    rows: tuple[StrategyRow, ...]
    others: tuple[RateRow, ...] = ()
    held_in_cash: bool = False


class InitialMultiple(Node):
    """``initial 110% of maintenance``: the initial requirement of matching accounts.

    With ``, calls restore initial`` (``calls_restore_initial``): when the set's value falls
    below its maintenance requirement, the call restores it to the initial requirement
    (call = initial - value), as the clearing houses require of futures customer accounts;
    without it the call is maintenance - value.
    """

    node: Literal["initial_multiple"] = "initial_multiple"
    multiple: Value
    calls_restore_initial: bool = False


class MinimumEquity(Node):
    """``minimum equity 25,000 USD``: the least requirement of matching accounts' sets.

    The set's requirement is raised to the amount where it is lower, so that a set whose
    value is below it gets a call for the difference (FINRA Rule 4210(f)(8)(B)(iv): a
    pattern day trader's minimum equity, "maintained in the customer's account at all
    times"). It modifies the requirement the set's margin method computed; it is no method.
    """

    node: Literal["minimum_equity"] = "minimum_equity"
    amount: Value
    note: Note | None = None


class ConcentrationAddOn(Node):
    """``concentration add 5% when class group exceeds 70% of equity``: a house add-on.

    In each set of matching accounts, a class group whose gross market value (the sum of
    its positions' absolute market values) is above ``share`` of the set's equity is
    charged ``rate`` of that gross value on top of the requirement the set's method
    computed (after offsets: a hedge does not spread a concentration). With ``for position
    where EXPR`` only the matching positions count (single names, say, not index products).
    A set whose equity is nil or negative has every class group of value above the share.
    It modifies the requirement; it is no method.
    """

    node: Literal["concentration_add_on"] = "concentration_add_on"
    rate: Value
    share: Value
    where: Expr | None = None
    note: Note | None = None


#: Margin statements that modify the requirement of the method chosen, not a method.
REQUIREMENT_MODIFIERS = (InitialMultiple, MinimumEquity, ConcentrationAddOn)


MarginMethod = Annotated[
    ScenarioGrid
    | SpanScan
    | Rates
    | StrategyBased
    | InitialMultiple
    | MinimumEquity
    | ConcentrationAddOn,
    Field(discriminator="node"),
]


#: A row of a margin method's table that a selector (``when EXPR`` / ``otherwise``) picks.
SelectorRow = RangeRow | ScanRow | RateRow


def selector_rows(
    method: ScenarioGrid
    | SpanScan
    | Rates
    | StrategyBased
    | InitialMultiple
    | MinimumEquity
    | ConcentrationAddOn,
) -> tuple[SelectorRow, ...]:
    """The rows of ``method`` chosen by a ``when`` selector, first match first.

    A grid's and a SPAN scan's ranges, a rates table's rows, a strategy-based method's rate
    rows for the positions no leg covers; none for ``initial ... of maintenance``.
    """
    if isinstance(method, ScenarioGrid | SpanScan):
        return method.ranges
    if isinstance(method, Rates):
        return method.rows
    if isinstance(method, StrategyBased):
        return method.others
    return ()


# --- offsets ------------------------------------------------------------------------------


class Netting(Node):
    """``net within class group 100%``: gains offset losses inside a class group."""

    node: Literal["netting"] = "netting"
    rate: Value
    note: Note | None = None


class Expiring(Node):
    """``expiring within 3 months`` / ``expiring after 3 months [within 1 year]``: a tier of
    a spread leg, the positions whose (underlying future's) time to expiry is above ``after``
    and at most ``within`` (CME SPAN's tiered inter-commodity legs)."""

    after: Quantity | None = None
    within: Quantity | None = None


class CreditRow(Node):
    """``high_cap_broad 90%`` (same key) or ``index_future with ust_future 30%`` (a pair).

    A pair's legs may give a ratio, the contracts of that leg one spread takes (``2 UST_2Y
    with 1 UST_10Y 30%``: CME SPAN's leg ratio; none is 1), and a tier of months
    (``SPX expiring within 3 months with NDX expiring within 3 months 50%``).
    """

    left: Symbol
    right: Symbol | None = None
    rate: Value
    note: Note | None = None
    left_ratio: Quantity | None = None
    right_ratio: Quantity | None = None
    left_tier: Expiring | None = None
    right_tier: Expiring | None = None


class ClassGroupCredit(Node):
    """``credit between class groups by FIELD``: gains of class groups keyed ``left`` offset
    losses of class groups keyed ``right`` (``left`` when no pair is given) at ``rate``.

    ``credit each leg between class groups by FIELD`` (``per_leg``): SPAN inter-commodity
    spreads, each leg of a hedge between class groups of one key credited ``rate`` times
    the scanning risk it matches; it applies to SPAN scans only.
    """

    node: Literal["class_group_credit"] = "class_group_credit"
    key: FieldRef
    rows: tuple[CreditRow, ...]
    per_leg: bool = False


class Separate(Node):
    """``sets each account alone``: every account is its own margin set."""

    node: Literal["separate"] = "separate"


class MergeAccounts(Node):
    """``sets merge account where EXPR by owner and carrier``: matching accounts of one owner
    at one carrier form one margin set."""

    node: Literal["merge_accounts"] = "merge_accounts"
    where: Expr


class TakeIn(Node):
    """``sets account where A takes in position where P by owner and carrier``: an account
    matching ``anchor`` takes in the same owner's positions matching ``positions`` held in
    other accounts at the same carrier."""

    node: Literal["take_in"] = "take_in"
    anchor: Expr
    positions: Expr


class GiveUp(Node):
    """``sets position where P goes to account where A by owner and carrier``: positions
    matching ``positions`` of an account whose owner has an account matching ``anchor`` at
    the same carrier belong to that account's set in another regime's rulebook (the CFTC
    Treasury cross-margining order's ``takes in``), so this rulebook leaves them out of its
    own sets: neither charged nor valued here. An anchor account keeps its own positions."""

    node: Literal["give_up"] = "give_up"
    positions: Expr
    anchor: Expr


class PairingBucket(Node):
    """``bucket long within 30 years`` / ``bucket long otherwise``: a maturity bucket of a
    DV01 pairing, the positions whose ``instrument.tenor`` is at most ``within`` (and above
    the bucket before); ``otherwise`` takes every tenor past the last bound."""

    name: str
    within: Quantity | None = None
    note: Note | None = None


class PairingRow(Node):
    """``short with intermediate 60%``: DV01 of the first side's bucket ``first`` paired with
    the second side's bucket ``second``, each leg credited ``rate`` times the risk matched."""

    first: Symbol
    second: Symbol
    rate: Value
    note: Note | None = None


class Dv01Pairing(Node):
    """``pair dv01 of CME position where A against FICC position where B``: a clearing-house
    cross-margining arrangement (CME-FICC) pairing one side's positions against the other's
    by DV01 within maturity buckets, in the rows' order (their priority).

    In a margin set holding both sides, each side is scanned in class groups of its own
    (``UST_10Y@CME``, ``UST_10Y@FICC``: each clearing house margins its own positions), and
    each matched leg is credited ``rate`` times the scanning risk it matches; ``1 - rate`` is
    the disallowance. SPAN scans only.
    """

    node: Literal["dv01_pairing"] = "dv01_pairing"
    first_house: Symbol
    first: Expr
    second_house: Symbol
    second: Expr
    buckets: tuple[PairingBucket, ...]
    rows: tuple[PairingRow, ...]


OffsetRule = Annotated[
    Netting | ClassGroupCredit | Separate | MergeAccounts | TakeIn | GiveUp | Dv01Pairing,
    Field(discriminator="node"),
]
