"""What a scenario does to one rulebook's decisions: calls created and grown, eligibility lost.

Scenario decisions are paired with the baseline's by margin set id (a set the scenario
forms anew, or one it no longer forms, pairs with zero figures). Figures are compared in
integer cents, as :mod:`marginlex.engine.variants.compare` does, so that deltas add up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from marginlex.engine.variants.figures import cents

TOP_N = 10


class SetChange(BaseModel):
    """One margin set's figures before and under a scenario (USD)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    margin_set_id: str
    account_ids: tuple[str, ...]
    requirement_from: float
    requirement_to: float
    call_from: float
    call_to: float
    eligible_from: bool
    eligible_to: bool

    @property
    def call_delta(self) -> float:
        """How much the call grew (negative: shrank)."""
        return round(self.call_to - self.call_from, 2)


class Totals(BaseModel):
    """One rulebook's decisions in figures (USD)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    margin_sets: int
    eligible: int
    calls: int
    total_requirement: float
    total_value: float
    total_call: float


class Impact(BaseModel):
    """One scenario under one rulebook, against the unshocked book."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scenario: str
    rulebook_id: str
    totals: Totals
    calls_created: int
    calls_grown: int
    calls_cleared: int
    eligibility_lost: tuple[str, ...]
    requirement_delta: float
    value_delta: float
    call_delta: float
    most_affected: tuple[SetChange, ...]


def totals(decisions: pd.DataFrame) -> Totals:
    """Counts and totals of a decisions frame (sums in cents, so they add up exactly)."""
    call = cents(decisions["call"])
    return Totals(
        margin_sets=len(decisions),
        eligible=int(decisions["eligible"].sum()),
        calls=int((call > 0).sum()),
        total_requirement=int(cents(decisions["maintenance"]).sum()) / 100,
        total_value=int(cents(decisions["value"]).sum()) / 100,
        total_call=int(call.sum()) / 100,
    )


def _figures(decisions: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_ids": decisions["account_ids"].astype("str").to_numpy(),
            "requirement": cents(decisions["maintenance"]),
            "value": cents(decisions["value"]),
            "call": cents(decisions["call"]),
            "eligible": decisions["eligible"].to_numpy(bool),
        },
        index=pd.Index(decisions["margin_set_id"].astype("str"), name="margin_set_id"),
    )


def paired(base: pd.DataFrame, shocked: pd.DataFrame) -> pd.DataFrame:
    """Per margin set (either side), ``*_from`` and ``*_to`` figures in cents; 0 where absent."""
    both = _figures(base).merge(
        _figures(shocked), how="outer", left_index=True, right_index=True, suffixes=("_from", "_to")
    )
    for col in ("requirement", "value", "call"):
        for side in ("_from", "_to"):
            both[col + side] = both[col + side].fillna(0).astype("int64")
    for side in ("_from", "_to"):
        both["eligible" + side] = both["eligible" + side].fillna(False).astype(bool)
    both["account_ids"] = both["account_ids_to"].fillna(both["account_ids_from"])
    return both.reset_index()


def lost_eligibility(base: pd.DataFrame, shocked: pd.DataFrame) -> tuple[str, ...]:
    """Accounts in an eligible set before the shock and in an ineligible one under it."""

    def accounts(d: pd.DataFrame, eligible: bool) -> pd.Index:
        """The accounts of the sets whose eligibility is ``eligible`` (only those are split)."""
        sets = d.loc[d["eligible"].to_numpy(bool) == eligible, "account_ids"].astype("str")
        out: pd.Index = pd.Index(sets.str.split(";").explode().to_numpy(), dtype="str")
        return out

    lost = accounts(base, True).intersection(accounts(shocked, False))
    return tuple(sorted(lost.astype("str")))


def _change(row: pd.Series) -> SetChange:
    return SetChange(
        margin_set_id=str(row["margin_set_id"]),
        account_ids=tuple(str(row["account_ids"]).split(";")),
        requirement_from=int(row["requirement_from"]) / 100,
        requirement_to=int(row["requirement_to"]) / 100,
        call_from=int(row["call_from"]) / 100,
        call_to=int(row["call_to"]) / 100,
        eligible_from=bool(row["eligible_from"]),
        eligible_to=bool(row["eligible_to"]),
    )


def impact(scenario: str, rulebook_id: str, base: pd.DataFrame, shocked: pd.DataFrame) -> Impact:
    """Compare one scenario's decisions with the baseline's under one rulebook."""
    p = paired(base, shocked)
    before, after = p["call_from"].to_numpy(), p["call_to"].to_numpy()
    p["call_delta"] = after - before
    p["requirement_delta"] = p["requirement_to"] - p["requirement_from"]
    moved = p[(p["call_delta"] != 0) | (p["requirement_delta"] != 0)]
    top = moved.sort_values(
        ["call_delta", "requirement_delta", "margin_set_id"], ascending=[False, False, True]
    ).head(TOP_N)
    return Impact(
        scenario=scenario,
        rulebook_id=rulebook_id,
        totals=totals(shocked),
        calls_created=int(((after > 0) & (before == 0)).sum()),
        calls_grown=int(((before > 0) & (after > before)).sum()),
        calls_cleared=int(((before > 0) & (after == 0)).sum()),
        eligibility_lost=lost_eligibility(base, shocked),
        requirement_delta=int(p["requirement_delta"].sum()) / 100,
        value_delta=int((p["value_to"] - p["value_from"]).sum()) / 100,
        call_delta=int(np.sum(after - before)) / 100,
        most_affected=tuple(_change(row) for _, row in top.iterrows()),  # at most TOP_N rows
    )
