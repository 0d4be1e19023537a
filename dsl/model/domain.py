"""The domain's vocabulary: the enums of the book contract that rules name.

Parties, accounts, relations, products, asset classes and the sets of them that rules and
the engine share (``docs/book-format.md``). The language's field registry
(:mod:`marginlex.dsl.model.fields`) and the engine's book schema
(:mod:`marginlex.engine.book.schema`) both take their values from here, so that the contract
has one source in code and the language never imports the engine.
"""

from __future__ import annotations

from enum import StrEnum


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
    CRYPTO_PERPETUAL = "crypto_perpetual"
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
FUTURE_PRODUCTS = frozenset(
    {Product.INDEX_FUTURE, Product.UST_FUTURE, Product.CRYPTO_FUTURE, Product.CRYPTO_PERPETUAL}
)
# A perpetual (or perpetual-style) future: settled daily like any future, with no expiry or
# one years away, so its `maturity` is optional (a perpetual-style contract gives its own).
PERPETUAL_PRODUCTS = frozenset({Product.CRYPTO_PERPETUAL})
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
    # A tokenized Treasury: a Treasury recorded on a blockchain as a token (CFTC staff
    # guidance, Dec 2025: treated like its underlying asset); it has a maturity.
    "UST_TOKEN": AssetClass.TREASURY,
    "BTC": AssetClass.DIGITAL_ASSET,
    "ETH": AssetClass.DIGITAL_ASSET,
    "USDC": AssetClass.DIGITAL_ASSET,
}
TREASURY_ASSETS = frozenset({"UST_BILL", "UST_NOTE", "UST_BOND", "UST_STRIP", "UST_TOKEN"})
# A digital asset ticker: 2-10 upper-case letters or digits, starting with a letter.
TICKER_PATTERN = r"^[A-Z][A-Z0-9]{1,9}$"
