"""The registry of what expressions can name: fields per subject, their types, enum values.

It follows the book format (``docs/book-format.md``); derived fields (``equity``,
``residual_maturity``, ``tenor``, ``side``, ``digital_asset``, ``products``) are computed
by the engine per row. The checks use it for unknown names (with a did-you-mean) and types.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from marginlex.dsl.model.domain import (
    ASSET_CLASSES,
    AccountKind,
    Agreement,
    IndexClass,
    OptionsApproval,
    OptionType,
    Origin,
    PartyKind,
    Product,
    Regime,
)
from marginlex.dsl.model.expressions import Subject


class Kind(StrEnum):
    """The type of a field or expression."""

    MONEY = "money"
    FRACTION = "fraction"
    DURATION = "duration"
    MULTIPLE = "multiple"
    NUMBER = "number"
    DATE = "date"
    BOOL = "bool"
    TEXT = "text"
    ENUM = "enum"
    SET = "set"
    SYMBOL = "symbol"


def _values(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(v.value for v in enum)


@dataclass(frozen=True)
class FieldType:
    """A field's type; ``values`` lists enum members (of the elements, for a set)."""

    kind: Kind
    values: tuple[str, ...] = ()
    open_enum: bool = False
    doc: str = ""


# The book's enum values come from the book contract (one source for both the loader and
# the checker); SIDES is derived by the engine from the sign of a quantity.
PARTY_KINDS = _values(PartyKind)
ACCOUNT_KINDS = _values(AccountKind)
REGIMES = _values(Regime)
ORIGINS = _values(Origin)
AGREEMENTS = _values(Agreement)
OPTIONS_APPROVAL = _values(OptionsApproval)
PRODUCTS = _values(Product)
INDEX_CLASSES = _values(IndexClass)
OPTION_TYPES = _values(OptionType)
SIDES = ("long", "short")
ASSETS = tuple(ASSET_CLASSES)

_ID = FieldType(Kind.TEXT, doc="identifier")
_PARTY = {
    "id": _ID,
    "name": FieldType(Kind.TEXT),
    "kind": FieldType(Kind.ENUM, PARTY_KINDS),
    "ecp": FieldType(Kind.BOOL, doc="eligible contract participant"),
    "options_approval": FieldType(Kind.ENUM, OPTIONS_APPROVAL),
}

FIELDS: dict[Subject, dict[str, FieldType]] = {
    Subject.ACCOUNT: {
        "id": _ID,
        "owner_id": _ID,
        "carrier_id": _ID,
        "kind": FieldType(Kind.ENUM, ACCOUNT_KINDS),
        "regime": FieldType(Kind.ENUM, REGIMES),
        "origin": FieldType(Kind.ENUM, ORIGINS),
        "hedger": FieldType(Kind.BOOL, doc="a bona fide hedger (CME: initial = maintenance)"),
        "pattern_day_trader": FieldType(
            Kind.BOOL, doc="a pattern day trader (FINRA 4210(f)(8)(B)(ii))"
        ),
        "agreements": FieldType(Kind.SET, AGREEMENTS, doc="signed agreements"),
        "products": FieldType(Kind.SET, PRODUCTS, doc="products it has positions in"),
        "owner_regimes": FieldType(
            Kind.SET,
            REGIMES,
            doc="regimes of the owner's accounts at the account's carrier, its own included",
        ),
        "merged_regimes": FieldType(
            Kind.SET,
            REGIMES,
            doc="regimes of the other accounts its margin set merges with it "
            "(eligibility requirements only)",
        ),
        "equity": FieldType(Kind.MONEY, doc="collateral plus positions' market value"),
    },
    Subject.OWNER: dict(_PARTY),
    Subject.CARRIER: dict(_PARTY),
    Subject.POSITION: {
        "account_id": _ID,
        "instrument_id": _ID,
        "quantity": FieldType(Kind.NUMBER, doc="signed; negative is short"),
        "side": FieldType(Kind.ENUM, SIDES, doc="long or short, from the sign"),
        "market_value": FieldType(Kind.MONEY, doc="quantity x price x multiplier; futures 0"),
    },
    Subject.INSTRUMENT: {
        "id": _ID,
        "product": FieldType(Kind.ENUM, PRODUCTS),
        "underlying": _ID,
        "class_group": FieldType(Kind.TEXT),
        "index_class": FieldType(Kind.ENUM, INDEX_CLASSES),
        "multiplier": FieldType(Kind.NUMBER),
        "price": FieldType(Kind.NUMBER),
        "maturity": FieldType(Kind.DATE),
        "residual_maturity": FieldType(Kind.DURATION, doc="(maturity - as-of) / 365"),
        "tenor": FieldType(
            Kind.DURATION,
            doc="residual maturity of the deliverable: the underlying's for futures and options",
        ),
        "option_type": FieldType(Kind.ENUM, OPTION_TYPES),
        "strike": FieldType(Kind.NUMBER),
        "implied_vol": FieldType(Kind.FRACTION),
        "scan_range": FieldType(Kind.FRACTION),
        "dv01": FieldType(Kind.NUMBER),
    },
    Subject.COLLATERAL: {
        "id": _ID,
        "account_id": _ID,
        "asset": FieldType(Kind.ENUM, ASSETS, open_enum=True, doc="other tickers are digital"),
        "market_value": FieldType(Kind.MONEY),
        "maturity": FieldType(Kind.DATE),
        "residual_maturity": FieldType(Kind.DURATION, doc="(maturity - as-of) / 365"),
        "pledged_to": _ID,
        "digital_asset": FieldType(
            Kind.BOOL, doc="BTC, ETH, USDC or any ticker outside the book format's list"
        ),
    },
}

#: Which subjects a condition may name, by where it appears.
ACCOUNT_SUBJECTS = frozenset({Subject.ACCOUNT, Subject.OWNER, Subject.CARRIER})
POSITION_SUBJECTS = ACCOUNT_SUBJECTS | {Subject.POSITION, Subject.INSTRUMENT}
INSTRUMENT_SUBJECTS = frozenset({Subject.INSTRUMENT})
COLLATERAL_SUBJECTS = ACCOUNT_SUBJECTS | {Subject.COLLATERAL}
