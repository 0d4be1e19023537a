"""The margin decision arithmetic, vectorized over margin sets.

Per margin set (book-format conventions): ``equity`` = collateral market value + market
value of positions (futures count 0), before haircuts; ``value`` = collateral value after
haircuts and caps + market value of positions; ``excess = value - requirement``
(maintenance); ``call = max(-excess, 0)``, or, for a set with a ``restore_to`` amount (its
initial requirement, when its initial rule says ``calls restore initial``), ``restore_to -
value`` whenever the excess is negative; ``initial = initial_multiple x requirement`` when
the rulebook has one. Reported figures are rounded half up to the cent first and ``excess``
is computed from the rounded figures, so that ``value - requirement = excess`` holds to the
cent in every record. Status: ``breach`` when a segregation constraint is violated (figures
still computed), else ``call`` when the call is at least a cent, else ``ok``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from marginlex.engine.kernels.grouping import categorical
from marginlex.engine.kernels.money import round_cents
from marginlex.engine.outcomes import DecisionStatus

DECISION_INPUTS = (
    "margin_set",
    "collateral_market_value",
    "collateral_value",
    "position_value",
    "requirement",
    "breach",
)
"""Columns :func:`decide` reads, one row per margin set (and ``restore_to`` if present: the
amount a call restores the value to, NaN where the call is the shortfall from maintenance)."""


class DecisionParams(BaseModel):
    """``initial_multiple``: initial / maintenance (e.g. 1.10), or None for no initial."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    initial_multiple: float | None = Field(default=None, ge=1.0)


def decide(sets: pd.DataFrame, params: DecisionParams) -> pd.DataFrame:
    """Decide every margin set.

    Args:
        sets: one row per margin set with :data:`DECISION_INPUTS` (amounts in USD).
        params: decision parameters.

    Returns:
        Per margin set, aligned with ``sets``: ``margin_set``, ``equity``, ``value``,
        ``requirement``, ``initial`` (NaN without a multiple), ``excess``, ``call`` (all
        rounded half up to the cent) and ``status`` (categorical :class:`DecisionStatus`).

    Raises:
        ValueError: a column is missing or a requirement is negative.

    >>> sets = pd.DataFrame({"margin_set": [0, 1], "collateral_market_value": [100.0, 50.0],
    ...     "collateral_value": [90.0, 50.0], "position_value": [10.0, 0.0],
    ...     "requirement": [60.005, 75.0], "breach": [False, False]})
    >>> decide(sets, DecisionParams())[["excess", "call", "status"]].to_numpy().tolist()
    [[39.99, 0.0, 'ok'], [-25.0, 25.0, 'call']]
    """
    missing = [c for c in DECISION_INPUTS if c not in sets.columns]
    if missing:
        raise ValueError(f"decision input lacks columns: {', '.join(missing)}")
    raw_requirement = sets["requirement"].to_numpy(np.float64)
    if (raw_requirement < 0).any():
        raise ValueError("a requirement is negative; kernels floor requirements at 0")
    position_value = sets["position_value"].to_numpy(np.float64)
    equity = round_cents(sets["collateral_market_value"].to_numpy(np.float64) + position_value)
    value = round_cents(sets["collateral_value"].to_numpy(np.float64) + position_value)
    requirement = round_cents(raw_requirement)
    multiple = params.initial_multiple
    initial = (
        round_cents(raw_requirement * multiple)
        if multiple is not None
        else np.full(len(sets), np.nan)
    )
    excess = round_cents(value - requirement)
    call = np.maximum(-excess, 0.0) + 0.0
    if "restore_to" in sets.columns:
        restore = sets["restore_to"].to_numpy(np.float64)
        restoring = (excess < 0) & ~np.isnan(restore)
        call = np.where(restoring, round_cents(np.where(restoring, restore, 0.0) - value), call)
    breach = sets["breach"].to_numpy(dtype=bool)
    codes = np.where(breach, 2, np.where(call > 0, 1, 0))
    statuses = [DecisionStatus.OK.value, DecisionStatus.CALL.value, DecisionStatus.BREACH.value]
    return pd.DataFrame(
        {
            "margin_set": sets["margin_set"].to_numpy(np.int64),
            "equity": equity,
            "value": value,
            "requirement": requirement,
            "initial": initial,
            "excess": excess,
            "call": call,
            "status": categorical(codes, statuses),
        },
        index=sets.index,
    )
