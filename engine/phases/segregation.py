"""Segregation steps: each constraint as a whole-column test, violations with their path.

- ``collateral of account where S must not reach account where T``: a lot of an account
  matching S that reaches an account matching T, pledged to it or re-pledged on to it
  through accounts ``rehypothecated_to`` one another (:mod:`marginlex.engine.graph.reach`).
  One violation per (lot, constraint): the first such account the lot reaches (fewest
  hops), with the whole path (``A10 -> L15 -> H_BD1``; through intermediaries
  ``A13 -> L22 -> A14 -> A15 -> H_BD1``); both ends' margin sets are in breach.
  With ``account of another owner where T``, only an account of another owner than the
  lot's account's counts (17 CFR 1.22: one customer's funds never margin another's).
- ``account where X must be carried by {kinds}``: path ``carrier -> account``.
- ``merged accounts must have one owner``: a set mixing owners; path lists the accounts.
- ``merged accounts must be carried by {kinds} under {agreements}``: a set of several
  accounts with one carried by another kind of firm or lacking an agreement.

A violation does not stop the evaluation: the figures are computed and the decision's
status is ``breach`` (:class:`marginlex.engine.outcomes.DecisionStatus`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.expressions import Subject
from marginlex.engine.book.columns import index_in, isin
from marginlex.engine.evaluation import FRAME_COLUMNS
from marginlex.engine.kernels.text import as_text
from marginlex.engine.phases.state import RunState, empty_frame, join_per_group
from marginlex.engine.plan.expressions import mask
from marginlex.engine.plan.steps import Step, StepKind

ARROW = " -> "


Found = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""Violations as columns: set code, account id, path, detail."""


def _rows(state: RunState, step: Step, found: Found) -> pd.DataFrame:
    sets, accounts, paths, detail = found
    keep = sets >= 0
    n = int(keep.sum())
    return pd.DataFrame(
        {
            "margin_set_id": state.set_column(sets[keep]),
            "account_id": accounts[keep],
            **state.step_columns(step, n),
            "constraint": np.full(n, step.statement.constraint.node, dtype=object),  # type: ignore[union-attr]
            "path": paths[keep],
            "detail": detail[keep],
        }
    )


def _flow_detail(reach: pd.DataFrame, pledged_to: pd.Series) -> np.ndarray:
    """``lot L15 pledged to H_BD1``; through re-pledges, the first pledgee and the hops."""
    lot, to, hops = reach["lot_id"], reach["reached_account_id"], reach["hops"]
    direct = "lot " + lot + " pledged to " + to
    chain = "lot " + lot + " pledged to " + pledged_to + ", re-pledged on to " + to
    chain = chain + " (" + as_text(hops) + " hops)"
    return np.where(hops == 1, direct, chain).astype(object)


def _collateral_flow(state: RunState, step: Step, rule: m.CollateralFlow) -> pd.DataFrame:
    """One violation per lot: the first forbidden account its pledge and re-pledges reach."""
    reach = state.graph.lot_reach()
    ids = state.account_ids
    src = mask(rule.source, state.ctx.accounts, state.plan)
    dst = mask(rule.target, state.ctx.accounts, state.plan)
    own = index_in(reach["account_id"], ids)
    to = index_in(reach["reached_account_id"], ids)
    hit = src[own] & dst[to]
    if rule.other_owner:  # 17 CFR 1.22: only another owner's account is forbidden
        owner = as_text(state.ctx.accounts.own[Subject.ACCOUNT]["owner_id"]).to_numpy()
        hit &= owner[own] != owner[to]
    first = ~reach["lot_id"][hit].duplicated().to_numpy()  # sorted by lot, hops, path
    found = reach[hit][first]
    own, to = own[hit][first], to[hit][first]
    lots = state.graph.lot_columns()["margined_account_id"]  # every reaching lot is pledged
    pledged = lots.reindex(found["lot_id"]).set_axis(found.index)
    path = found["path"].to_numpy(dtype=object)
    detail = _flow_detail(found, pledged)
    both = np.concatenate([state.account_set[own], state.account_set[to]])
    accounts = ids.to_numpy()[np.concatenate([own, to])]
    return _rows(
        state,
        step,
        (both, accounts, np.concatenate([path, path]), np.concatenate([detail, detail])),
    )


def _carrier_kinds(state: RunState, step: Step, rule: m.CarrierKinds) -> pd.DataFrame:
    acc = state.ctx.accounts
    kind = as_text(acc.own[Subject.CARRIER]["kind"])
    allowed = {k.name for k in rule.kinds}
    hit = mask(rule.accounts, acc, state.plan) & ~kind.isin(allowed).to_numpy(dtype=bool)
    # the texts of the accounts that break it only
    carrier = as_text(acc.own[Subject.ACCOUNT]["carrier_id"])[hit]
    path = (carrier + ARROW + state.account_ids[hit]).to_numpy(dtype=object)
    detail = (
        "carried by " + carrier + ", a " + kind[hit] + "; allowed: " + ", ".join(sorted(allowed))
    ).to_numpy(dtype=object)
    return _rows(
        state, step, (state.account_set[hit], state.account_ids.to_numpy()[hit], path, detail)
    )


def _set_members(state: RunState) -> pd.DataFrame:
    acc = state.ctx.accounts.own
    scoped = state.account_set >= 0
    return pd.DataFrame(
        {
            "set": state.account_set[scoped],
            "account_id": state.account_ids.to_numpy()[scoped],
            "owner_id": as_text(acc[Subject.ACCOUNT]["owner_id"]).to_numpy()[scoped],
            "carrier_kind": as_text(acc[Subject.CARRIER]["kind"]).to_numpy()[scoped],
            "agreements": acc[Subject.ACCOUNT]["agreements"]
            .fillna("")
            .astype("str")
            .to_numpy()[scoped],
        }
    )


def _joined(members: pd.DataFrame, bad_sets: np.ndarray) -> pd.DataFrame:
    """Members of the given sets with the set's accounts joined as a path (few rows)."""
    rows = members[np.isin(members["set"].to_numpy(), bad_sets)]
    size = int(members["set"].max()) + 1 if len(members) else 0
    joined = join_per_group(rows["set"].to_numpy(), rows["account_id"].to_numpy(), size, " + ")
    return rows.assign(path=joined[rows["set"].to_numpy()])


def _member_rows(
    state: RunState, step: Step, bad: pd.DataFrame, detail: np.ndarray
) -> pd.DataFrame:
    """Violation rows of a merge constraint: one per offending member of a set."""
    found = (
        bad["set"].to_numpy(),
        bad["account_id"].to_numpy(),
        bad["path"].to_numpy(dtype=object),
        detail,
    )
    return _rows(state, step, found)


def _single_owner(state: RunState, step: Step, rule: m.SingleOwner) -> pd.DataFrame:
    members = _set_members(state)
    owners = members.drop_duplicates(["set", "owner_id"])["set"].value_counts()
    bad = _joined(members, owners.index[owners.to_numpy() > 1].to_numpy())
    detail = ("owner " + bad["owner_id"]).to_numpy(dtype=object)
    return _member_rows(state, step, bad, detail)


def _merged_carrier(state: RunState, step: Step, rule: m.MergedCarrier) -> pd.DataFrame:
    members = _set_members(state)
    merged = members[members.groupby("set")["set"].transform("size").to_numpy() > 1]
    kinds = {k.name for k in rule.kinds}
    bad_row = ~merged["carrier_kind"].isin(kinds)
    padded = ";" + merged["agreements"].str.replace(" ", "", regex=False) + ";"
    for agreement in rule.agreements:  # the rule's agreements, a handful
        bad_row |= ~padded.str.contains(f";{agreement.name};", regex=False)
    bad = _joined(merged, merged.loc[bad_row, "set"].unique())
    bad = bad[isin(bad["account_id"], merged.loc[bad_row, "account_id"])]
    detail = (
        "carried by a " + bad["carrier_kind"] + " with agreements '" + bad["agreements"] + "'"
    ).to_numpy(dtype=object)
    return _member_rows(state, step, bad, detail)


_CONSTRAINTS: dict[type, Callable[[RunState, Step, m.Constraint], pd.DataFrame]] = {
    m.CollateralFlow: _collateral_flow,  # type: ignore[dict-item]
    m.CarrierKinds: _carrier_kinds,  # type: ignore[dict-item]
    m.SingleOwner: _single_owner,  # type: ignore[dict-item]
    m.MergedCarrier: _merged_carrier,  # type: ignore[dict-item]
}


def run_segregation(state: RunState) -> None:
    """Test every segregation constraint; record violations and breached sets."""
    frames = []
    for step in state.plan.active(StepKind.SEGREGATION):
        assert isinstance(step.statement, m.Segregation)
        constraint = step.statement.constraint
        frames.append(_CONSTRAINTS[type(constraint)](state, step, constraint))
    columns = list(FRAME_COLUMNS["segregation"])
    found = [f for f in frames if len(f)]
    frame = (
        pd.concat(found, ignore_index=True)[columns]
        if found
        else empty_frame(FRAME_COLUMNS["segregation"])
    )
    frame = (
        frame.drop_duplicates()
        .sort_values(["margin_set_id", "rule_id", "account_id"], kind="stable")
        .reset_index(drop=True)
    )
    state.frames["segregation"] = frame
    codes = np.searchsorted(state.set_ids, as_text(frame["margin_set_id"]).to_numpy(str))
    joined = join_per_group(codes, as_text(frame["rule_id"]).to_numpy(), state.n_sets)
    state.breach_rules = pd.Series(joined, dtype="str")
