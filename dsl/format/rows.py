"""The key of a table row as a person reads it: what ``extend ... drop row KEY`` names, what
MLX214 lists as dropped and what ``compare`` attributes a delta to."""

from __future__ import annotations

from marginlex.dsl.format.expressions import expr, value
from marginlex.dsl.model import rulebook as m

OTHERWISE = "otherwise"


def bucket_key(upper: m.Quantity | None, inclusive: bool = False) -> str:
    """``under 3 months``, ``up to 1 year`` or ``otherwise``."""
    if upper is None:
        return OTHERWISE
    return f"{'up to' if inclusive else 'under'} {value(upper)}"


def selector_key(when: m.Expr | None) -> str:
    """``when instrument.class = ust`` or ``otherwise``."""
    return OTHERWISE if when is None else f"when {expr(when)}"


def row_key(row: m.TableRow) -> str:
    """The key of any table row: its asset, its bucket bound or its selector."""
    if isinstance(row, m.Bucket):
        return bucket_key(row.upper, row.inclusive)
    if isinstance(row, m.AssetRow):
        return OTHERWISE if row.asset is None else row.asset.name
    return selector_key(row.when)
