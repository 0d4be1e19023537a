"""A decision and its trace rows as text: what a failing rulebook test or property shows.

:func:`render_trace` prints the decision line of one margin set and, frame by frame, the
trace rows behind it (the columns of :data:`TRACE_COLUMNS`; the rest is in ``run --out``).
"""

from __future__ import annotations

from marginlex.engine.evaluation import Evaluation

#: The trace columns shown for a failing decision, per frame (the rest is in ``run --out``).
TRACE_COLUMNS: dict[str, tuple[str, ...]] = {
    "eligibility": ("account_id", "rule_id", "requirement", "applies", "passed", "tested_value"),
    "sets": ("account_id", "role", "rule_id"),
    "set_edges": ("account_a", "account_b", "rule_id"),
    "segregation": ("account_id", "rule_id", "path", "detail"),
    "class_groups": (
        "class_group",
        "rule_id",
        "worst_shock",
        "worst_pnl",
        "loss",
        "minimum",
        "requirement",
    ),
    "positions": (
        "account_id",
        "instrument_id",
        "quantity",
        "market_value",
        "class_group",
        "pnl_at_worst",
        "strategy_row",
        "requirement",
    ),
    "offsets": (
        "product_group",
        "rule_id",
        "offset_rate",
        "losses_at_worst",
        "gains_at_worst",
        "requirement",
        "credit",
    ),
    "lots": (
        "lot_id",
        "asset",
        "market_value",
        "rule_id",
        "schedule",
        "haircut_rate",
        "status",
        "cap_scale",
        "value",
    ),
}


def render_trace(evaluation: Evaluation, margin_set_id: str) -> str:
    """The decision and its trace rows, frame by frame (only the frames with rows)."""
    d = evaluation.decisions
    row = d[d["margin_set_id"] == margin_set_id].iloc[0]
    out = [
        f"trace of {evaluation.rulebook_id}:{margin_set_id}: eligible={bool(row['eligible'])}, "
        f"method {row['method_rule_id']}, requirement {row['maintenance']:,.2f}, "
        f"value {row['value']:,.2f}, call {row['call']:,.2f}, status {row['status']}"
    ]
    for name, frame in evaluation.trace(margin_set_id).items():
        if frame.empty:
            continue
        shown = frame[[c for c in TRACE_COLUMNS.get(name, frame.columns) if c in frame.columns]]
        out.append(f"  [{name}]")
        out += ["    " + line for line in shown.to_string(index=False).splitlines()]
    return "\n".join(out)
