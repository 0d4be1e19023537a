"""The book data contract as data: column specifications and dtypes.

Everything that reads, validates, writes or hashes a book takes its column lists from
here, so that the contract in ``docs/book-format.md`` has one source in code. The enums the
columns hold are the domain's vocabulary, in :mod:`marginlex.dsl.model.domain`.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from marginlex.dsl.model.domain import (
    AccountKind,
    IndexClass,
    OptionsApproval,
    OptionType,
    Origin,
    PartyKind,
    Product,
    Regime,
    Relation,
)


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
        late: added to the contract after the book hash's version (``hedger``): written
            and hashed only when some row sets it, so that a book without it keeps its
            bytes and its sha256 (and recorded ledgers their book names).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: ColType
    enum: tuple[str, ...] = ()
    header_required: bool = True
    value_required: bool = True
    unique: bool = False
    late: bool = False


def _enum(name: str, values: type[StrEnum], **kw: bool) -> Column:
    return Column(name=name, type=ColType.ENUM, enum=tuple(v.value for v in values), **kw)


def _opt(name: str, type_: ColType) -> Column:
    return Column(name=name, type=type_, header_required=False, value_required=False)


def _late_flag(name: str) -> Column:
    """An optional true/false column added after the book hash's version (see ``late``)."""
    return _opt(name, ColType.BOOL).model_copy(update={"late": True})


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
        _late_flag("hedger"),
        _late_flag("pattern_day_trader"),
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
        # a STOCK or ETF lot's instrument (instruments.csv), so that it can cover a short
        # call (12 CFR 220.4(b)(4)(ii)); hashed only where set
        _opt("instrument_id", ColType.STR).model_copy(update={"late": True}),
    ),
)

FILES: tuple[FileSpec, ...] = (PARTIES, ACCOUNTS, RELATIONS, INSTRUMENTS, POSITIONS, COLLATERAL)
SPECS: dict[str, FileSpec] = {f.stem: f for f in FILES}

DATE_DTYPE = "datetime64[s]"
