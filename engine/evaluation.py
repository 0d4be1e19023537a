"""The result of evaluating one plan on one book: decisions and trace frames.

Every trace frame row names the rule (``rule_id``) and ``citation`` that produced it and
the ``margin_set_id`` it belongs to, so that the explanation of one decision is the rows
of its margin set across the frames: no re-run is needed. Column lists are in
:data:`FRAME_COLUMNS` (``docs/running.md`` describes them).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from marginlex.engine.plan.steps import Plan

TAKES_IN = "takes_in_positions_of"
"""Role of a ``sets`` row: the set takes in positions of this account (``takes in``)."""
GIVES_UP = "gives_up_positions"
"""Role of a ``sets`` row: this account's matching positions go to another regime's set
(``goes to account where``), so its own set leaves them out."""

DECISION_COLUMNS = (
    "decision_id",
    "rulebook_id",
    "margin_set_id",
    "account_ids",
    "takes_in_from",
    "eligible",
    "failed_requirements",
    "method_rule_id",
    "maintenance",
    "initial",
    "initial_rule_id",
    "equity",
    "value",
    "excess",
    "call",
    "status",
    "segregation_violations",
    "n_positions",
    "n_lots",
)

PAIRING_OFFSET_COLUMNS: tuple[str, ...] = (
    "dv01_matched",
    "first_risk_per_dv01",
    "first_credit",
    "second_risk_per_dv01",
    "second_credit",
)
"""The ``offsets`` columns only a DV01 pairing's rows fill (NaN on other offsets' rows): the
DV01 a row matched, and each leg's scanning risk per DV01 and its credit (``rate x DV01
matched x risk per DV01``)."""

SPAN_CHARGE_FIGURES = (
    "charge",
    "tier",
    "rate_id",
    "rate",
    "count",
    "long_contracts",
    "short_contracts",
    "option_contracts",
    "amount",
)
"""A SPAN charge row's own figures, as the phase computes them and the frame shows them."""

FRAME_COLUMNS: dict[str, tuple[str, ...]] = {
    "eligibility": (
        "margin_set_id",
        "account_id",
        "rule_id",
        "citation",
        "requirement",
        "applies",
        "passed",
        "tested_value",
        "reason",
        "inputs",
        "tested_values",
        "shortfall",
    ),
    "sets": ("margin_set_id", "account_id", "role", "rule_id", "citation"),
    "set_edges": ("margin_set_id", "account_a", "account_b", "reason", "rule_id", "citation"),
    "segregation": (
        "margin_set_id",
        "account_id",
        "rule_id",
        "citation",
        "constraint",
        "path",
        "detail",
    ),
    "class_groups": (
        "margin_set_id",
        "class_group",
        "rule_id",
        "citation",
        "method",
        "n_positions",
        "range_up",
        "range_down",
        "n_points",
        "worst_point",
        "worst_shock",
        "worst_vol_move",
        "worst_pnl",
        "charges",
        "loss",
        "minimum",
        "minimum_binds",
        "requirement",
        "netting_rule_id",
        # a SPAN leg's inter-commodity credit (since trace schema 1.5; NaN where credits are
        # not per leg): the scanning risk it matched, its credit (rate x matched_risk), a
        # DV01 pairing's credit, and after_credits = max(loss - credit, minimum) -
        # paired_credit
        "matched_risk",
        "credit",
        "paired_credit",
        "after_credits",
    ),
    "positions": (
        "margin_set_id",
        "account_id",
        "instrument_id",
        "quantity",
        "market_value",
        "joined_by",
        "rule_id",
        "citation",
        "evidence",
        "method",
        "class_group",
        "range_row",
        "range_up",
        "range_down",
        "pnl_at_worst",
        "minimum",
        "strategy_row",
        "requirement",
        # an option's inputs and model values per unit at its group's worst point (NaN else)
        "strike",
        "implied_vol",
        "underlying_price",
        "underlying_at_worst",
        "vol_at_worst",
        "value_now",
        "value_at_worst",
    ),
    "offsets": (
        "margin_set_id",
        "product_group",
        "rule_id",
        "citation",
        "offset_rate",
        "n_class_groups",
        "worst_point",
        "losses_at_worst",
        "gains_at_worst",
        "netted_loss",
        "class_group_requirements",
        "minimum",
        "requirement",
        "credit",
        "paired_credit",
        *PAIRING_OFFSET_COLUMNS,
    ),
    "lots": (
        "margin_set_id",
        "lot_id",
        "account_id",
        "asset",
        "market_value",
        "rule_id",
        "citation",
        "evidence",
        "schedule",
        "haircut_row",
        "haircut_rate",
        "candidates",
        "status",
        "reason",
        "value_after_haircut",
        "cap_rule_id",
        "cap_scale",
        "value",
        # the cap that cut the lot (since trace schema 1.5): cap_amount = cap_limit x
        # cap_base (the set's cap_of requirement), the set's capped_value cut to it
        "cap_of",
        "cap_limit",
        "cap_base",
        "cap_amount",
        "capped_value",
    ),
    # one row per set whose requirement a `minimum equity` statement raised
    "minimums": (
        "margin_set_id",
        "rule_id",
        "citation",
        "minimum",
        "haircuts",
        "requirement_before",
    ),
    # one row per concentrated class group a `concentration add` statement charged
    "add_ons": (
        "margin_set_id",
        "rule_id",
        "citation",
        "class_group",
        "class_group_value",
        "equity",
        "share",
        "rate",
        "add_on",
    ),
    # one row per charge a SPAN scan charged a class group (since trace schema 1.5): a tier
    # of calendar spreads or the delivery month; amount = count x rate, and a class group's
    # amounts add up to its `charges`
    "span_charges": (
        "margin_set_id",
        "class_group",
        "rule_id",
        "citation",
        "evidence",
        *SPAN_CHARGE_FIGURES,
    ),
    "clearing_split": (
        "margin_set_id",
        "rule_id",
        "citation",
        "first_house",
        "first_dv01",
        "first_requirement",
        "second_house",
        "second_dv01",
        "second_requirement",
        "dv01_paired",
        "initial",
        "carrier_requirement",
    ),
}
"""The columns of each trace frame, in order. ``class_groups`` also has ``pnl_0`` ..
``pnl_{K-1}``: the class group's P&L at each point (grids: largest fall first; scans: SPAN
scenario order 1-16, weighted), NaN past its last point."""


class Summary(BaseModel):
    """One rulebook's run in figures (the ``marginlex run`` summary table)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rulebook_id: str
    margin_sets: int
    out_of_scope: int
    eligible: int
    calls: int
    total_requirement: float
    total_call: float
    segregation_breaches: int = Field(description="Margin sets in breach (one violation or more).")
    segregation_violations: int = Field(
        description="Segregation violations, each counted once: a (lot, constraint) whose path "
        "reaches a forbidden account, or an account or set that fails another constraint."
    )


class Evaluation(BaseModel):
    """Decisions of one rulebook on one book as of one date, with their trace frames.

    Attributes:
        plan: the plan that ran.
        as_of: the as-of date.
        book_name: the book's name.
        book_sha256: the book's content hash.
        n_accounts: accounts in the book.
        out_of_scope: accounts the rulebook does not decide.
        decisions: one row per margin set, :data:`DECISION_COLUMNS`.
        frames: the trace frames by name, :data:`FRAME_COLUMNS`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    plan: Plan
    as_of: dt.date
    book_name: str
    book_sha256: str
    n_accounts: int
    out_of_scope: int
    decisions: pd.DataFrame
    frames: dict[str, pd.DataFrame]

    @property
    def rulebook_id(self) -> str:
        """The rulebook's id."""
        return self.plan.rulebook_id

    def summary(self) -> Summary:
        """Counts and totals over the decisions."""
        d = self.decisions
        return Summary(
            rulebook_id=self.rulebook_id,
            margin_sets=len(d),
            out_of_scope=self.out_of_scope,
            eligible=int(d["eligible"].sum()),
            calls=int((d["call"] > 0).sum()),
            total_requirement=round(float(d["maintenance"].sum()), 2),
            total_call=round(float(d["call"].sum()), 2),
            segregation_breaches=int((d["segregation_violations"] != "").sum()),
            segregation_violations=count_violations(self.frames["segregation"]),
        )

    def trace(self, margin_set_id: str) -> dict[str, pd.DataFrame]:
        """Every trace frame cut to one margin set's rows."""
        return {
            name: frame[frame["margin_set_id"] == margin_set_id].reset_index(drop=True)
            for name, frame in self.frames.items()
        }

    def records(self) -> list[dict[str, Any]]:
        """Every decision as a JSON-ready dict (``marginlex run --json``).

        Besides the figures, each record names the rules that produced them
        (``method_rule_id``, ``initial_rule_id``) and every segregation violation with its
        graph path (``segregation_paths``), so that a reader need not open the trace.
        """
        d = self.decisions
        has_initial = bool(d["initial"].notna().any())
        paths = self._violation_paths()
        out: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = d.to_dict("records")  # type: ignore[assignment]
        for row in rows:  # rendering only, after evaluation
            record: dict[str, Any] = {
                "id": row["decision_id"],
                "margin_set_id": row["margin_set_id"],
                "account_ids": row["account_ids"].split(";"),
                "eligible": bool(row["eligible"]),
                "failed_requirements": _split(row["failed_requirements"]),
                "method_rule_id": str(row["method_rule_id"]),
                "requirement": float(row["maintenance"]),
            }
            if has_initial:
                initial = float(row["initial"])
                record["initial"] = None if math.isnan(initial) else initial
                record["initial_rule_id"] = str(row["initial_rule_id"]) or None
            record.update(
                equity=float(row["equity"]),
                value=float(row["value"]),
                excess=float(row["excess"]),
                call=float(row["call"]),
                status=str(row["status"]),
                segregation_violations=_split(row["segregation_violations"]),
                segregation_paths=paths.get(str(row["margin_set_id"]), []),
            )
            if row["takes_in_from"]:
                record["takes_in_from"] = _split(row["takes_in_from"])
            out.append(record)
        return out

    def _violation_paths(self) -> dict[str, list[dict[str, str]]]:
        """Per margin set id, its segregation violations: rule, account, path, detail."""
        frame = self.frames["segregation"]
        out: dict[str, list[dict[str, str]]] = {}
        columns = ("margin_set_id", "rule_id", "account_id", "path", "detail")
        rows = zip(*(frame[c].astype("str") for c in columns), strict=True)
        for set_id, rule_id, account_id, path, detail in rows:  # violations only
            out.setdefault(set_id, []).append(
                {"rule_id": rule_id, "account_id": account_id, "path": path, "detail": detail}
            )
        return out


def _split(text: str) -> list[str]:
    return [x for x in str(text).split(";") if x]


def count_violations(segregation: pd.DataFrame) -> int:
    """Distinct violations in a segregation frame: one per (rule, path). A lot whose pledge
    reaches a forbidden account is one violation, though the frame lists it under the margin
    sets at both ends of its path."""
    return len(segregation[["rule_id", "path"]].drop_duplicates())
