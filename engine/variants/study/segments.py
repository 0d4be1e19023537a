"""Collateral freed or required, and calls, by customer segment and by carrying firm.

Figures follow the comparison's allocation (a margin set's figures sit on its anchor
account, :mod:`marginlex.engine.variants.figures`), so every segment table adds up to the
comparison's totals to the cent. An account's segment is read from the book (its owner's
party kind, its account kind, its carrier) and from the decisions (its **eligibility path**:
the eligibility outcome of its margin set under the baseline, then under the other rulebook;
``not decided`` where a rulebook leaves it out of scope). **Freed** is minus the change in
requirement: positive where the other rulebook asks for less collateral.

Concentration of the benefit across carrying firms: each firm's net freed collateral, the
firms with a positive one sharing the total freed; the share of the top firm and of the top
three, and the Herfindahl-Hirschman index (the sum of squared percent shares, 0 to 10,000;
10,000 is one firm taking it all). The burden (firms whose net requirement rose) is measured
alike.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from marginlex.engine.book.load import Book
from marginlex.engine.variants.figures import moved_accounts


class Dimension(StrEnum):
    """What a segment table groups the accounts by."""

    PARTY_KIND = "party kind"
    ACCOUNT_KIND = "account kind"
    ELIGIBILITY_PATH = "eligibility path"
    CARRIER = "carrying firm"


NOT_DECIDED = "not decided"
_COLUMN = {
    Dimension.PARTY_KIND: "party_kind",
    Dimension.ACCOUNT_KIND: "account_kind",
    Dimension.ELIGIBILITY_PATH: "eligibility_path",
    Dimension.CARRIER: "carrier_id",
}


class SegmentRow(BaseModel):
    """One segment's figures (USD) and the changed accounts behind them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    segment: str
    accounts: int
    changed: tuple[str, ...]
    requirement_from: float
    requirement_to: float
    freed: float
    call_delta: float
    calls_created: int
    calls_removed: int


class SegmentTable(BaseModel):
    """The accounts of one comparison grouped by one dimension, largest freed first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dimension: Dimension
    rows: tuple[SegmentRow, ...]


class Concentration(BaseModel):
    """How concentrated one side (benefit or burden) is across carrying firms."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    side: str
    firms: int
    total: float
    top_firm: str | None
    top_share: float
    top3_share: float
    hhi: float


def eligibility_by_account(decisions: pd.DataFrame) -> pd.Series:
    """Per account: ``eligible`` or ``ineligible`` (its set's outcome), indexed by account id."""
    split = decisions[["account_ids", "eligible"]].assign(
        account_id=decisions["account_ids"].astype("str").str.split(";")
    )
    members = split.explode("account_id").set_index("account_id")["eligible"].astype(bool)
    return pd.Series(np.where(members, "eligible", "ineligible"), index=members.index)


def account_segments(
    book: Book, paired: pd.DataFrame, decisions_a: pd.DataFrame, decisions_b: pd.DataFrame
) -> pd.DataFrame:
    """``paired`` (one comparison's per-account frame) with each account's segments."""
    acc = book.accounts.set_index("account_id")
    kind = book.parties.set_index("party_id")["kind"].astype("str")
    ids = pd.Index(paired["account_id"].to_numpy(str))
    owner = acc["owner_id"].astype("str").reindex(ids)
    path_a = eligibility_by_account(decisions_a).reindex(ids).fillna(NOT_DECIDED)
    path_b = eligibility_by_account(decisions_b).reindex(ids).fillna(NOT_DECIDED)
    return paired.assign(
        party_kind=kind.reindex(owner.to_numpy()).fillna("unknown").to_numpy(str),
        account_kind=acc["kind"].astype("str").reindex(ids).to_numpy(str),
        carrier_id=acc["carrier_id"].astype("str").reindex(ids).to_numpy(str),
        eligibility_path=(path_a + " → " + path_b).to_numpy(str),
    )


def segment_table(frame: pd.DataFrame, dimension: Dimension) -> SegmentTable:
    """The accounts of ``frame`` (from :func:`account_segments`) grouped by ``dimension``."""
    both = frame["decided_a"] & frame["decided_b"]
    work = pd.DataFrame(
        {
            "segment": frame[_COLUMN[dimension]].to_numpy(str),
            "requirement_a": frame["requirement_a"].to_numpy(np.int64),
            "requirement_b": frame["requirement_b"].to_numpy(np.int64),
            "call_delta": frame["call_delta"].to_numpy(np.int64),
            "created": (both & (frame["call_a"] == 0) & (frame["call_b"] > 0)).to_numpy(),
            "removed": (both & (frame["call_a"] > 0) & (frame["call_b"] == 0)).to_numpy(),
            "accounts": 1,
        }
    )
    sums = work.groupby("segment", sort=True).sum()
    changed = frame.loc[moved_accounts(frame).to_numpy(), ["account_id", _COLUMN[dimension]]]
    members: dict[str, tuple[str, ...]] = {
        str(k): tuple(sorted(v))
        for k, v in changed.groupby(_COLUMN[dimension])["account_id"]  # one per segment
    }
    sums["freed"] = sums["requirement_a"] - sums["requirement_b"]
    sums = sums.sort_values("freed", ascending=False, kind="stable")
    rows = tuple(
        SegmentRow(
            segment=str(segment),
            accounts=int(r.accounts),
            changed=members.get(str(segment), ()),
            requirement_from=int(r.requirement_a) / 100,
            requirement_to=int(r.requirement_b) / 100,
            freed=int(r.freed) / 100,
            call_delta=int(r.call_delta) / 100,
            calls_created=int(r.created),
            calls_removed=int(r.removed),
        )
        for segment, r in sums.iterrows()  # one row per segment: a handful
    )
    return SegmentTable(dimension=dimension, rows=rows)


def concentration(by_firm: SegmentTable, side: str = "benefit") -> Concentration:
    """Top shares and Herfindahl index of the freed (``benefit``) or required (``burden``)
    collateral across the firms of a :data:`Dimension.CARRIER` table.

    >>> rows = tuple(
    ...     SegmentRow(segment=f, accounts=1, changed=(), requirement_from=0, requirement_to=0,
    ...                freed=x, call_delta=0, calls_created=0, calls_removed=0)
    ...     for f, x in (("F1", 600.0), ("F2", 400.0), ("F3", -50.0)))
    >>> c = concentration(SegmentTable(dimension=Dimension.CARRIER, rows=rows))
    >>> (c.firms, c.top_firm, c.top_share, c.hhi)
    (2, 'F1', 60.0, 5200.0)
    """
    sign = 1 if side == "benefit" else -1
    amounts = pd.Series({r.segment: sign * r.freed for r in by_firm.rows}, dtype="float64")
    amounts = amounts[amounts > 0].sort_values(ascending=False, kind="stable")
    total = float(amounts.sum())
    if not total:
        return Concentration(
            side=side, firms=0, total=0.0, top_firm=None, top_share=0.0, top3_share=0.0, hhi=0.0
        )
    shares = amounts.to_numpy() / total * 100
    return Concentration(
        side=side,
        firms=len(amounts),
        total=round(total, 2),
        top_firm=str(amounts.index[0]),
        top_share=round(float(shares[0]), 2),
        top3_share=round(float(shares[:3].sum()), 2),
        hhi=round(float((shares**2).sum()), 1),
    )
