"""The book data contract as data: enums, column specifications and dtypes.

Everything that reads, validates, writes or hashes a book takes its column lists from
here, so that the contract in ``docs/book-format.md`` has one source in code. The
rulebook checker (``marginlex.dsl.fields``) takes its enum values from here too, so this
module must stay light: no pandas or numpy imports.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class PartyKind(StrEnum):
    """What a party is."""

    INDIVIDUAL = "individual"
    INSTITUTION = "institution"
    BROKER_DEALER = "broker_dealer"
    FCM = "fcm"
    BD_FCM = "bd_fcm"
    CLEARING_AGENCY = "clearing_agency"
    DCO = "dco"


class OptionsApproval(StrEnum):
    """The options level a customer is approved for (FINRA Rule 2360)."""

    NONE = "none"
    COVERED = "covered"
    UNCOVERED = "uncovered"


class Regime(StrEnum):
    """The regulator whose rules govern an account."""

    SEC = "SEC"
    CFTC = "CFTC"


class AccountKind(StrEnum):
    """The type of an account."""

    CASH = "cash"
    MARGIN = "margin"
    PORTFOLIO_MARGIN = "portfolio_margin"
    FUTURES = "futures"
    CLEARED_SWAPS = "cleared_swaps"
    CROSS_MARGIN = "cross_margin"


class Origin(StrEnum):
    """Whose money an account holds: a customer's or the firm's own (house)."""

    CUSTOMER = "customer"
    HOUSE = "house"


class Agreement(StrEnum):
    """Agreements an account holder may have signed."""

    PORTFOLIO_MARGIN = "portfolio_margin"
    CROSS_MARGIN = "cross_margin"
    SUBORDINATION = "subordination"


class Relation(StrEnum):
    """Relations in relations.csv: between parties (``guarantees`` may name an account) and,
    for ``rehypothecated_to``, from an account to the account its collateral is re-pledged to."""

    MEMBER_OF = "member_of"
    AFFILIATE_OF = "affiliate_of"
    GUARANTEES = "guarantees"
    REHYPOTHECATED_TO = "rehypothecated_to"


class Product(StrEnum):
    """Instrument products."""

    STOCK = "stock"
    ETF = "etf"
    EQUITY_OPTION = "equity_option"
    INDEX_OPTION = "index_option"
    INDEX_FUTURE = "index_future"
    UST_BILL = "ust_bill"
    UST_NOTE = "ust_note"
    UST_BOND = "ust_bond"
    UST_STRIP = "ust_strip"
    UST_FUTURE = "ust_future"
    CRYPTO = "crypto"
    CRYPTO_FUTURE = "crypto_future"
    SBS = "sbs"


class IndexClass(StrEnum):
    """Index class of an index product (drives the SEC scenario range)."""

    HIGH_CAP_BROAD = "high_cap_broad"
    BROAD = "broad"
    NARROW = "narrow"


class OptionType(StrEnum):
    """Call or put."""

    CALL = "call"
    PUT = "put"


class AssetClass(StrEnum):
    """Derived class of a collateral asset (column ``asset_class``)."""

    CASH = "cash"
    TREASURY = "treasury"
    EQUITY = "equity"
    MONEY_FUND = "money_fund"
    CORPORATE_BOND = "corporate_bond"
    DIGITAL_ASSET = "digital_asset"


OPTION_PRODUCTS = frozenset({Product.EQUITY_OPTION, Product.INDEX_OPTION})
FUTURE_PRODUCTS = frozenset({Product.INDEX_FUTURE, Product.UST_FUTURE, Product.CRYPTO_FUTURE})
TREASURY_PRODUCTS = frozenset(
    {Product.UST_BILL, Product.UST_NOTE, Product.UST_BOND, Product.UST_STRIP}
)
FIRM_KINDS = frozenset({PartyKind.BROKER_DEALER, PartyKind.FCM, PartyKind.BD_FCM})
CLEARING_KINDS = frozenset({PartyKind.CLEARING_AGENCY, PartyKind.DCO})

# Named collateral assets; any other ticker is a digital asset (e.g. SOL, DOGE).
ASSET_CLASSES: dict[str, AssetClass] = {
    "USD": AssetClass.CASH,
    "UST_BILL": AssetClass.TREASURY,
    "UST_NOTE": AssetClass.TREASURY,
    "UST_BOND": AssetClass.TREASURY,
    "UST_STRIP": AssetClass.TREASURY,
    "STOCK": AssetClass.EQUITY,
    "ETF": AssetClass.EQUITY,
    "MMF": AssetClass.MONEY_FUND,
    "CORP_BOND": AssetClass.CORPORATE_BOND,
    "BTC": AssetClass.DIGITAL_ASSET,
    "ETH": AssetClass.DIGITAL_ASSET,
    "USDC": AssetClass.DIGITAL_ASSET,
}
TREASURY_ASSETS = frozenset({"UST_BILL", "UST_NOTE", "UST_BOND", "UST_STRIP"})
# A digital asset ticker: 2-10 upper-case letters or digits, starting with a letter.
TICKER_PATTERN = r"^[A-Z][A-Z0-9]{1,9}$"


class ColType(StrEnum):
    """How a column's text is parsed."""

    STR = "str"
    ENUM = "enum"
    BOOL = "bool"
    FLOAT = "float"
    DATE = "date"
    TICKER = "ticker"


class Column(BaseModel):
    """One column of the contract.

    Attributes:
        name: column name in the file.
        type: how values are parsed.
        enum: the allowed values, for ``ColType.ENUM``.
        header_required: the column must be present in the file.
        value_required: every row must have a value.
        unique: values must be unique within the file.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: ColType
    enum: tuple[str, ...] = ()
    header_required: bool = True
    value_required: bool = True
    unique: bool = False


def _enum(name: str, values: type[StrEnum], **kw: bool) -> Column:
    return Column(name=name, type=ColType.ENUM, enum=tuple(v.value for v in values), **kw)


def _opt(name: str, type_: ColType) -> Column:
    return Column(name=name, type=type_, header_required=False, value_required=False)


class FileSpec(BaseModel):
    """One file of a book: its stem (``parties`` for parties.csv) and columns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stem: str
    columns: tuple[Column, ...]
    required: bool = True
    sort_by: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in contract order."""
        return tuple(c.name for c in self.columns)


PARTIES = FileSpec(
    stem="parties",
    sort_by=("party_id",),
    columns=(
        Column(name="party_id", type=ColType.STR, unique=True),
        Column(name="name", type=ColType.STR),
        _enum("kind", PartyKind),
        Column(name="ecp", type=ColType.BOOL),
        _enum("options_approval", OptionsApproval),
    ),
)
ACCOUNTS = FileSpec(
    stem="accounts",
    sort_by=("account_id",),
    columns=(
        Column(name="account_id", type=ColType.STR, unique=True),
        Column(name="owner_id", type=ColType.STR),
        Column(name="carrier_id", type=ColType.STR),
        _enum("regime", Regime),
        _enum("kind", AccountKind),
        _enum("origin", Origin),
        Column(name="agreements", type=ColType.STR, value_required=False),
    ),
)
RELATIONS = FileSpec(
    stem="relations",
    required=False,
    sort_by=("src", "relation", "dst"),
    columns=(
        Column(name="src", type=ColType.STR),
        Column(name="dst", type=ColType.STR),
        _enum("relation", Relation),
    ),
)
INSTRUMENTS = FileSpec(
    stem="instruments",
    sort_by=("instrument_id",),
    columns=(
        Column(name="instrument_id", type=ColType.STR, unique=True),
        _enum("product", Product),
        _opt("underlying", ColType.STR),
        _opt("class_group", ColType.STR),
        _enum("index_class", IndexClass, header_required=False, value_required=False),
        _opt("multiplier", ColType.FLOAT),
        Column(name="price", type=ColType.FLOAT),
        _opt("maturity", ColType.DATE),
        _enum("option_type", OptionType, header_required=False, value_required=False),
        _opt("strike", ColType.FLOAT),
        _opt("implied_vol", ColType.FLOAT),
        _opt("scan_range", ColType.FLOAT),
        _opt("dv01", ColType.FLOAT),
    ),
)
POSITIONS = FileSpec(
    stem="positions",
    sort_by=("account_id", "instrument_id", "quantity"),
    columns=(
        Column(name="account_id", type=ColType.STR),
        Column(name="instrument_id", type=ColType.STR),
        Column(name="quantity", type=ColType.FLOAT),
    ),
)
COLLATERAL = FileSpec(
    stem="collateral",
    sort_by=("lot_id",),
    columns=(
        Column(name="lot_id", type=ColType.STR, unique=True),
        Column(name="account_id", type=ColType.STR),
        Column(name="asset", type=ColType.TICKER),
        Column(name="market_value", type=ColType.FLOAT),
        _opt("maturity", ColType.DATE),
        _opt("pledged_to", ColType.STR),
    ),
)

FILES: tuple[FileSpec, ...] = (PARTIES, ACCOUNTS, RELATIONS, INSTRUMENTS, POSITIONS, COLLATERAL)
SPECS: dict[str, FileSpec] = {f.stem: f for f in FILES}

DATE_DTYPE = "datetime64[s]"
