"""Row checks (values, conditional requirements) and cross-file reference checks.

All checks are boolean masks over whole columns; Python only formats the messages of the
rows that fail.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from marginlex.dsl.model.domain import (
    CLEARING_KINDS,
    FIRM_KINDS,
    FUTURE_PRODUCTS,
    OPTION_PRODUCTS,
    PERPETUAL_PRODUCTS,
    TREASURY_ASSETS,
    TREASURY_PRODUCTS,
    Agreement,
    Product,
    Relation,
)
from marginlex.engine.book.columns import isin, lookup
from marginlex.engine.book.derive import CHAIN_STEPS
from marginlex.engine.book.ids import quoted
from marginlex.engine.book.parse import ColumnParser
from marginlex.engine.book.problems import Severity

_OPTION_FIELDS = ("underlying", "option_type", "strike", "implied_vol", "maturity")


def _values(s: pd.Series, mask: pd.Series) -> list[str]:
    return [repr(v) for v in s[mask]]


def _number_checks(
    df: pd.DataFrame, parser: ColumnParser, col: str, lower: float, strict: bool
) -> None:
    """At least (or above) ``lower``; missing values are left to other checks, and the
    parser said an infinity (as written: ``1e400``) and left it out."""
    v = df[col]
    low = v.notna() & ((v <= lower) if strict else (v < lower))
    word = "more than" if strict else "at least"
    parser.report(col, low, [f"must be {word} {lower:g}, got {x:g}" for x in v[low]])


def _check_instruments(df: pd.DataFrame, parser: ColumnParser) -> dict[str, pd.Series]:
    """Value checks of instruments; the columns each row needs (an option's strike)."""
    price = df["price"]
    lo = price < 0  # -inf: the parser said it, as not finite, and left it out
    parser.report("price", lo, [f"negative price {x:g} (a price is 0 or more)" for x in price[lo]])
    for col, lower, strict in (
        ("multiplier", 0.0, True),
        ("strike", 0.0, True),
        ("implied_vol", 0.0, False),
        ("scan_range", 0.0, True),
    ):
        _number_checks(df, parser, col, lower, strict)
    big = df["scan_range"] > 1
    parser.report(
        "scan_range",
        big,
        [f"must be a fraction of price (at most 1), got {x:g}" for x in df["scan_range"][big]],
    )
    product = df["product"].astype("str")
    needs = {
        "underlying": product.isin(OPTION_PRODUCTS),
        "option_type": product.isin(OPTION_PRODUCTS),
        "strike": product.isin(OPTION_PRODUCTS),
        "implied_vol": product.isin(OPTION_PRODUCTS),
        "maturity": product.isin(
            (OPTION_PRODUCTS | FUTURE_PRODUCTS | TREASURY_PRODUCTS) - PERPETUAL_PRODUCTS
        ),
    }
    for col in _OPTION_FIELDS:
        miss = needs[col] & parser.missing(df, col)
        parser.report(
            col, miss, [f"missing value (required for product {p})" for p in product[miss]]
        )
    # a row whose product did not read is not of another product: its one problem is its
    # product's (it was also "strike is for options only: ignored on this nan")
    not_option = ~product.isin(OPTION_PRODUCTS) & df["product"].notna()
    for col in ("option_type", "strike", "implied_vol"):  # an option's terms on another row
        stray = not_option & df[col].notna()
        parser.report(
            col,
            stray,
            [f"{col} is for options only: ignored on this {p}" for p in product[stray]],
            severity=Severity.WARNING,
        )
    return needs


def _check_accounts(df: pd.DataFrame, parser: ColumnParser) -> None:
    tokens = df["agreements"].fillna("").str.split(";").explode().str.strip()
    allowed = [a.value for a in Agreement]
    bad = (tokens != "") & ~tokens.isin(allowed)
    bad_tokens = tokens[bad]
    parser.report_rows(
        "agreements",
        parser.row_numbers(bad_tokens.index.to_numpy()),
        [
            f"unknown agreement {t!r} (expected any of: {', '.join(allowed)}, separated by ';')"
            for t in bad_tokens
        ],
    )


def _check_collateral(df: pd.DataFrame, parser: ColumnParser) -> None:
    asset = df["asset"].astype("str")
    neg = (df["market_value"] < 0) & (asset != "USD") & df["asset"].notna()
    parser.report(
        "market_value",
        neg,
        [
            f"negative market value {v:g} is only allowed for USD (a debit balance)"
            for v in df["market_value"][neg]
        ],
    )
    miss = asset.isin(TREASURY_ASSETS) & parser.missing(df, "maturity")
    parser.report(
        "maturity", miss, [f"missing value (required for asset {a})" for a in asset[miss]]
    )


def check_rows(stem: str, df: pd.DataFrame, parser: ColumnParser) -> None:
    """Value checks within one file."""
    needed = None
    if stem == "instruments":
        needed = _check_instruments(df, parser)
    elif stem == "accounts":
        _check_accounts(df, parser)
    elif stem == "collateral":  # a quantity is any finite number, which the parser saw to
        _check_collateral(df, parser)
    parser.report_nan_words(needed)


def matured(
    frames: dict[str, pd.DataFrame], before: date, since: date | None = None
) -> tuple[pd.Series | None, pd.Series | None]:
    """Which instruments held by a position, and which collateral lots, mature before
    ``before`` (and on or after ``since``): a mask over each frame (None: no such frame)."""
    day = np.datetime64(before, "s")
    first = None if since is None else np.datetime64(since, "s")

    def within(maturity: pd.Series) -> pd.Series:
        over = (maturity < day).fillna(False)
        return over if first is None else over & (maturity >= first).fillna(False)

    instruments, positions, lots = (
        frames.get(n) for n in ("instruments", "positions", "collateral")
    )
    held = None
    if instruments is not None and positions is not None:
        ids = instruments["instrument_id"]
        # the helper, not Series.isin: that loops in Python over an Arrow string column's
        # values (4.9 s for a million positions)
        on = pd.Series(isin(ids, positions["instrument_id"].dropna()), index=ids.index)
        held = within(instruments["maturity"]) & on
    return held, None if lots is None else within(lots["maturity"])


def _stale_treatment(product: object) -> str:
    """What the engine does with a held instrument past its expiry or maturity.

    >>> _stale_treatment("equity_option")
    'an option: not margined by a scenario grid, a SPAN scan or the strategy-based method'
    >>> _stale_treatment("index_future")
    'priced as at expiry'
    """
    if str(product) in OPTION_PRODUCTS:
        return (
            "an option: not margined by a scenario grid, a SPAN scan or the strategy-based method"
        )
    return "priced as at expiry"


def check_expired(
    frames: dict[str, pd.DataFrame], parsers: dict[str, ColumnParser], as_of: date
) -> None:
    """Warnings, not errors (the book loads): a position's instrument, or a collateral lot,
    whose maturity or expiry is before the book's as-of date. Such a row is most likely
    stale (a contract rolled, a bond redeemed, an option exercised or expired): the engine
    prices it as at expiry, except that a scenario grid, a SPAN scan and the strategy-based
    method charge an expired option nothing (docs/domain-decisions.md, rows 38 and 44), and
    puts a lot in its
    shortest maturity bucket."""
    held, lots = matured(frames, as_of)
    if held is not None:
        instruments = frames["instruments"]
        parsers["instruments"].report(
            "maturity",
            held,
            [
                f"expired or matured on {d.date().isoformat()}, before the book's as-of date "
                f"{as_of.isoformat()}, and still held by a position ({_stale_treatment(p)})"
                for d, p in zip(
                    instruments["maturity"][held], instruments["product"][held], strict=True
                )
            ],
            severity=Severity.WARNING,
        )
    collateral = frames.get("collateral")
    if collateral is not None and "collateral" in parsers:
        # a maturity only a Treasury lot has: another lot's is ignored, and said so
        # (a lot whose asset did not read is not a lot of another asset: its one problem is
        # its asset's, not also "ignored for this nan lot")
        other = (
            collateral["maturity"].notna()
            & collateral["asset"].notna()
            & ~collateral["asset"].astype("str").isin(TREASURY_ASSETS)
        )
        parsers["collateral"].report(
            "maturity",
            other,
            [
                f"a maturity is for Treasury lots only: ignored for this {a} lot"
                for a in collateral["asset"][other]
            ],
            severity=Severity.WARNING,
        )
        lots = None if lots is None else lots & ~other.to_numpy()
    if lots is not None:
        parsers["collateral"].report(
            "maturity",
            lots,
            [
                f"matured on {d.date().isoformat()}, before the book's as-of date "
                f"{as_of.isoformat()} (counted in the shortest maturity bucket)"
                for d in frames["collateral"]["maturity"][lots]
            ],
            severity=Severity.WARNING,
        )


def check_repeated_positions(
    frames: dict[str, pd.DataFrame], parsers: dict[str, ColumnParser]
) -> None:
    """Warnings, not errors (the book loads): a position row of an account and instrument an
    earlier row already holds. Each row is margined as a position of its own: the
    strategy-based method charges a long and a short row of one stock each (and the long one
    still covers calls), as do per-contract minimums."""
    positions = frames.get("positions")
    if positions is None:
        return
    keys = positions[["account_id", "instrument_id"]]
    account, _ = pd.factorize(keys["account_id"])  # a missing id: -1
    instrument, found = pd.factorize(keys["instrument_id"])
    pair = pd.Series(account.astype(np.int64) * (len(found) + 1) + instrument)
    later = pd.Series(
        pair.duplicated(keep="first").to_numpy() & (account >= 0) & (instrument >= 0),
        index=keys.index,
    )
    if not later.any():
        return
    rows = pd.Series(np.arange(len(keys)), index=keys.index)
    first = rows.groupby(pair.to_numpy()).transform("min")  # each pair's first row
    first = pd.Series(parsers["positions"].row_numbers(first.to_numpy()), index=first.index)
    parsers["positions"].report(
        "instrument_id",
        later,
        [
            f"account {quoted(a)} already holds {quoted(i)} at row {r}: each row is "
            "margined as a position of its own, so a long and a short row may each be "
            "charged; give one row per account and instrument, the quantities summed"
            for a, i, r in zip(
                keys["account_id"][later], keys["instrument_id"][later], first[later], strict=True
            )
        ],
        severity=Severity.WARNING,
    )


def _dangling(
    parser: ColumnParser, df: pd.DataFrame, col: str, ids: pd.Series, *, what: str, where: str
) -> pd.Series:
    """Report values of ``col`` not in ``ids``; returns the mask of resolved references."""
    v = df[col]
    ok = pd.Series(isin(v, ids), index=v.index)
    unreadable = parser.invalid.get(col)  # an id holding a NUL: said once, as such
    bad = v.notna() & ~ok if unreadable is None else v.notna() & ~ok & ~unreadable
    parser.report(col, bad, [f"unknown {what} {quoted(x)} (not in {where})" for x in v[bad]])
    return ok


def _kind_of(parties: pd.DataFrame, ids: pd.Series) -> pd.Series:
    """The kind (as text) of the party named by each id; NaN for unknown ids."""
    return lookup(ids, parties["party_id"], parties["kind"].astype("str"))


def check_references(
    frames: dict[str, pd.DataFrame],
    parsers: dict[str, ColumnParser],
    book_accounts: pd.Series | None = None,
    unread: dict[str, pd.Series] | None = None,
) -> None:
    """Dangling references and id clashes across files (skipped for unreadable files);
    ``book_accounts``: every account id of a partitioned book, which a relation may name
    (``frames`` holds one partition's accounts); ``unread``: per file, the ids of its rows
    that could not be read (said there; not unknown where named)."""
    ids: dict[str, pd.Series] = {
        stem: frames[stem].iloc[:, 0].dropna()
        for stem in ("parties", "accounts", "instruments", "collateral")
        if stem in frames
    }
    for stem, more in (unread or {}).items():
        if stem in ids:
            ids[stem] = pd.concat([ids[stem], more.astype(ids[stem].dtype)], ignore_index=True)
    names = {stem: p.file for stem, p in parsers.items()}
    kind = frames.get("parties")
    if "accounts" in frames:
        _check_account_refs(frames["accounts"], parsers["accounts"], ids, names, kind)
    if "relations" in frames and "parties" in ids and "accounts" in ids:
        known = ids if book_accounts is None else {**ids, "accounts": book_accounts}
        _check_relations(frames["relations"], parsers["relations"], known, names, kind)
    if "instruments" in frames:
        df, p = frames["instruments"], parsers["instruments"]
        _dangling(
            p, df, "underlying", ids["instruments"], what="instrument", where=names["instruments"]
        )
        own = df["underlying"] == df["instrument_id"]
        p.report("underlying", own, "an instrument cannot be its own underlying")
        product = df["product"].astype("str")
        under = lookup(df["underlying"], df["instrument_id"], product)  # its product
        _check_option_underlying(df, product, under, p)
        _check_perpetual_underlying(df, product, under, p)
        _check_underlying_kind(df, product, p)
        _check_underlying_chain(df, p)
    for stem, cols in (
        ("positions", ("account_id", "instrument_id")),
        ("collateral", ("account_id", "pledged_to", "instrument_id")),
    ):
        if stem not in frames:
            continue
        for col in cols:
            target = "instruments" if col == "instrument_id" else "accounts"
            if target in ids:
                _dangling(
                    parsers[stem],
                    frames[stem],
                    col,
                    ids[target],
                    what=target[:-1],
                    where=names[target],
                )
    read = [ids[s] for s in ("parties", "accounts") if s in ids]
    if "collateral" in frames and read:  # with neither file read, nothing can clash
        taken = pd.concat(read)
        _id_clash(
            parsers["collateral"], frames["collateral"]["lot_id"], taken, "a party or account"
        )


_DERIVATIVES = frozenset({*OPTION_PRODUCTS, *FUTURE_PRODUCTS, Product.SBS})
"""The products that may name an underlying (the contract: "for derivatives; empty
otherwise")."""


def _check_underlying_kind(df: pd.DataFrame, product: pd.Series, parser: ColumnParser) -> None:
    """Only a derivative names an underlying: a stock given one would be put in the
    underlying's class group and netted with it."""
    wrong = (
        df["underlying"].notna()
        & df["product"].notna()  # a product that did not read is said once, as its own
        & ~product.isin([p.value for p in _DERIVATIVES])
    )
    parser.report(
        "underlying",
        wrong,
        [
            f"a {k} has no underlying: the column is for derivatives (options, futures, "
            "swaps); leave it empty, and give class_group to group it with other instruments"
            for k in product[wrong]
        ],
    )


def _check_underlying_chain(df: pd.DataFrame, parser: ColumnParser) -> None:
    """A chain of underlyings ends: one that loops (LA on LB, LB on LA) has no price to
    move with and no class group to default to. (An instrument that is its own underlying is
    reported on its own.)"""
    ids, under = df["instrument_id"], df["underlying"]
    at = lookup(under, ids, under)  # two steps down: one step is the self-reference check
    for _ in range(CHAIN_STEPS):
        back = at == ids  # round to where it started: a loop, kept as it is
        if not (at.notna() & ~back).any():
            break
        at = lookup(at, ids, under).where(~back, ids)
    looping = at.notna() & (under != ids)  # still going after the steps any chain needs
    if not looping.any():
        return
    chains = {str(i): str(u) for i, u in zip(ids[under.notna()], under[under.notna()], strict=True)}
    parser.report(
        "underlying",
        looping,
        [f"the chain of underlyings never ends: {_chain(str(i), chains)}" for i in ids[looping]],
    )


def _chain(start: str, chains: dict[str, str]) -> str:
    """``A -> B -> A``: a chain of underlyings followed until an id repeats (a few ids).

    >>> _chain("A", {"A": "B", "B": "C", "C": "B"})
    'A -> B -> C -> B'
    """
    seen, path = {start}, [start]
    while (nxt := chains.get(path[-1])) is not None:
        path.append(nxt)
        if nxt in seen:
            break
        seen.add(nxt)
    return " -> ".join(path)


def _check_option_underlying(
    df: pd.DataFrame, product: pd.Series, under: pd.Series, parser: ColumnParser
) -> None:
    """An option's underlying is not itself an option: an option is valued from its
    underlying's price, which for an option is a premium (no compound options). ``product``:
    each instrument's, ``under``: its underlying's."""
    options = [p.value for p in OPTION_PRODUCTS]
    wrong = product.isin(options) & under.isin(options).fillna(False)
    parser.report(
        "underlying",
        wrong,
        [
            f"an option's underlying cannot be an option: {u!r} is of product {k} (an option "
            "is valued from its underlying's price; give the stock, ETF or future it is on)"
            for u, k in zip(df["underlying"][wrong], under[wrong], strict=True)
        ],
    )


def _check_perpetual_underlying(
    df: pd.DataFrame, product: pd.Series, under: pd.Series, parser: ColumnParser
) -> None:
    """A perpetual future's underlying, when given, is a crypto asset (product ``crypto``)."""
    wrong = product.isin(PERPETUAL_PRODUCTS) & under.notna() & (under != Product.CRYPTO.value)
    parser.report(
        "underlying",
        wrong,
        [
            f"the underlying of a {p} must be a crypto instrument, {u!r} is of product {k}"
            for p, u, k in zip(product[wrong], df["underlying"][wrong], under[wrong], strict=True)
        ],
    )


def _id_clash(parser: ColumnParser, col: pd.Series, taken: pd.Series, what: str) -> None:
    """Ids that another table already uses (relations could not tell them apart)."""
    clash = isin(col, taken)
    parser.report(
        str(col.name),
        clash,
        [
            f"id {quoted(x)} is also {what} id; ids must be unique across parties, accounts "
            "and lots"
            for x in col[clash]
        ],
    )


def _check_account_refs(
    df: pd.DataFrame,
    parser: ColumnParser,
    ids: dict[str, pd.Series],
    names: dict[str, str],
    kind: pd.DataFrame | None,
) -> None:
    if "parties" not in ids or kind is None:
        return
    _dangling(parser, df, "owner_id", ids["parties"], what="party", where=names["parties"])
    ok = _dangling(parser, df, "carrier_id", ids["parties"], what="party", where=names["parties"])
    carrier_kind = _kind_of(kind, df["carrier_id"])
    wrong = ok & carrier_kind.notna() & ~carrier_kind.isin(FIRM_KINDS)
    parser.report(
        "carrier_id",
        wrong,
        [
            f"carrier {c!r} is of kind {k}; accounts are carried by a broker_dealer, fcm or bd_fcm"
            for c, k in zip(df["carrier_id"][wrong], carrier_kind[wrong], strict=True)
        ],
    )
    _id_clash(parser, df["account_id"], ids["parties"], "a party")


def _check_relations(
    df: pd.DataFrame,
    parser: ColumnParser,
    ids: dict[str, pd.Series],
    names: dict[str, str],
    kind: pd.DataFrame | None,
) -> None:
    where = f"{names['parties']} or {names['accounts']}"
    known = pd.concat([ids["parties"], ids["accounts"]])
    rel = df["relation"].astype("str")
    for col in ("src", "dst"):
        ok = _dangling(parser, df, col, known, what="party or account", where=where)
        is_party = pd.Series(isin(df[col], ids["parties"]), index=df.index)
        party_only = rel.isin([Relation.MEMBER_OF, Relation.AFFILIATE_OF])
        if col == "src":
            party_only = party_only | (rel == Relation.GUARANTEES)
        acct = ok & ~is_party & party_only
        parser.report(
            col,
            acct,
            [
                f"{r} relates parties, and {quoted(x)} is an account"
                for r, x in zip(rel[acct], df[col][acct], strict=True)
            ],
        )
        party = ok & is_party & (rel == Relation.REHYPOTHECATED_TO)
        parser.report(
            col,
            party,
            [
                f"rehypothecated_to relates accounts, and {quoted(x)} is a party"
                for x in df[col][party]
            ],
        )
    same = (df["src"] == df["dst"]).fillna(False).astype("bool")
    loop = (rel == Relation.REHYPOTHECATED_TO) & same
    parser.report("dst", loop, "an account cannot be rehypothecated to itself")
    itself = same & ~loop & df["src"].notna()
    parser.report(
        "dst",
        itself,
        [
            f"{quoted(x)} {r} itself: a relation is between two parties or accounts; delete "
            "the row, or name the other one"
            for x, r in zip(df["src"][itself], rel[itself], strict=True)
        ],
        severity=Severity.WARNING,
    )
    if kind is None:
        return
    dst_kind = _kind_of(kind, df["dst"])
    wrong = (rel == Relation.MEMBER_OF) & dst_kind.notna() & ~dst_kind.isin(CLEARING_KINDS)
    parser.report(
        "dst",
        wrong,
        [
            f"member_of points to a clearing_agency or dco, and {x!r} is of kind {k}"
            for x, k in zip(df["dst"][wrong], dst_kind[wrong], strict=True)
        ],
    )
