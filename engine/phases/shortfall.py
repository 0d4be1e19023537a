"""By how much a failed requirement missed: ``equity 248,260.00, short 51,740.00``.

A requirement that compares an amount with a minimum (``account.equity >= pm_min_equity``,
or the same written the other way round) misses by the minimum less the amount. The gap is
computed for every account at once; other requirements have none (NaN).
"""

from __future__ import annotations

import numpy as np

from marginlex.dsl.model import expressions as e
from marginlex.dsl.model.fields import FIELDS, Kind
from marginlex.engine.phases.state import FloatArray
from marginlex.engine.plan.context import RowContext
from marginlex.engine.plan.expressions import Env, evaluate_expr
from marginlex.engine.plan.steps import Plan

# A minimum written on the right (`x >= m`) or on the left (`m <= x`).
_AT_LEAST = {e.CmpOp.GE: False, e.CmpOp.GT: False, e.CmpOp.LE: True, e.CmpOp.LT: True}


def _amount_and_minimum(cond: e.Node) -> tuple[e.FieldRef, e.Quantity | e.ParamRef] | None:
    """The money field and the minimum it must reach, when that is what ``cond`` says."""
    if not isinstance(cond, e.Compare) or cond.op not in _AT_LEAST:
        return None
    field, minimum = (cond.right, cond.left) if _AT_LEAST[cond.op] else (cond.left, cond.right)
    if not isinstance(field, e.FieldRef) or not isinstance(minimum, e.Quantity | e.ParamRef):
        return None
    kind = FIELDS.get(field.subject, {}).get(field.name)
    return (field, minimum) if kind is not None and kind.kind is Kind.MONEY else None


def shortfall(cond: e.Node, ctx: RowContext, plan: Plan) -> FloatArray:
    """Per row, the minimum less the amount where the amount is below it (NaN elsewhere).

    >>> import datetime as dt, pandas as pd
    >>> from marginlex.dsl.model.expressions import CmpOp, Compare, FieldRef, ParamRef, Subject
    >>> ctx = RowContext("account", 2, {Subject.ACCOUNT: pd.DataFrame(
    ...     {"equity": [248260.0, 400000.0]})})
    >>> plan = Plan(rulebook_id="x", title="", version="", as_of=dt.date(2026, 1, 1),
    ...             parameters={"m": 300000.0}, steps=())
    >>> cond = Compare(op=CmpOp.GE, left=FieldRef(subject=Subject.ACCOUNT, name="equity"),
    ...                right=ParamRef(name="m"))
    >>> shortfall(cond, ctx, plan).tolist()
    [51740.0, nan]
    """
    found = _amount_and_minimum(cond)
    if found is None:
        return np.full(ctx.n, np.nan)
    field, minimum = found
    if isinstance(minimum, e.ParamRef) and minimum.name not in plan.parameters:
        return np.full(ctx.n, np.nan)
    amount = np.asarray(evaluate_expr(field, Env(ctx, plan)), dtype=np.float64)
    gap = plan.value(minimum) - amount
    return np.where(gap > 0, gap, np.nan)
