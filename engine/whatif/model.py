"""The typed result of a what-if search: one line per verified change."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class ChangeKind(StrEnum):
    """What a counterfactual changes in the book."""

    DEPOSIT = "deposit"
    REDUCE = "reduce"
    REPLACE_CAPPED = "replace_capped"
    SET_FIELD = "set_field"
    SIGN_AGREEMENT = "sign_agreement"
    ADD_RELATION = "add_relation"
    REMOVE_EDGE = "remove_edge"
    MOVE_ACCOUNT = "move_account"  # to a carrier of a kind a segregation rule allows
    NO_FIX = "no_fix"


class Outcome(BaseModel):
    """The decision of the margin set (the one holding its anchor account) after a change."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    margin_set_id: str
    status: str
    eligible: bool
    requirement: float
    call: float
    failed_requirements: tuple[str, ...]
    segregation_violations: int


class Counterfactual(BaseModel):
    """One change, the rule and citation it answers, and the decision it was verified to give.

    Attributes:
        kind: what changes.
        rule_id: the rule the change answers (a failed requirement's eligibility rule, the
            margin method of a call, the cap, the segregation constraint).
        citation: that rule's citation.
        target: what it answers: a requirement name, ``call``, a lot cap, a breach path.
        change: the change in words (``deposit 12,400.00 USD in A02_BOB_PM``).
        amount: the amount of money or the fraction the change is made of, when it has one.
        clears: whether the re-evaluated decision no longer has what the change answers.
        outcome: the re-evaluated decision.
        exposes: failures the changed book has that the original did not (a fix that
            exposes another failure says so).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ChangeKind
    rule_id: str
    citation: str
    target: str
    change: str
    amount: float | None = None
    clears: bool
    outcome: Outcome | None
    exposes: tuple[str, ...] = ()


class WhatIf(BaseModel):
    """Every counterfactual found for one decision."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rulebook_id: str
    margin_set_id: str
    before: Outcome
    lines: tuple[Counterfactual, ...]
    evaluations: int
