"""Statements that state no evidence status (MLX222).

A rulebook that marks the evidence behind its figures (``status verified``, ``secondary``,
``illustrative``) marks it on every statement: one left without reads as unmarked in every
trace (``evidence`` null), and an auditor cannot tell an oversight from an illustration. A
file that states no status anywhere is a draft (its statements all show no evidence) and is
not flagged statement by statement. ``remove`` and ``extend`` statements carry no figures of
their own kind and are not counted.
"""

from __future__ import annotations

from marginlex.dsl.diagnostics import Code, Diagnostic, settle, warning
from marginlex.dsl.model import rulebook as m

HINT = (
    "add `status verified`, `status secondary` or `status illustrative` (what was read), "
    'or `accept MLX222 because "..."` if it is meant'
)


def missing_status_diagnostics(own: tuple[m.Statement, ...]) -> list[Diagnostic]:
    """A warning for each statement without ``status`` in a file whose others state one."""
    counted = [s for s in own if not isinstance(s, m.Removal | m.Extension)]
    stated = sum(s.status is not None for s in counted)
    if not stated:
        return []
    return [
        d
        for s in counted
        for d in settle(Code.MISSING_STATUS, _missing(s, stated), s.accepts, s.span)
    ]


def _missing(s: m.Statement, stated: int) -> Diagnostic | None:
    if s.status is not None:
        return None
    return warning(
        Code.MISSING_STATUS,
        f"{s.kind.value} `{s.id}` states no `status`: its figures show no evidence "
        f"({stated} other statement(s) of this file state one)",
        s.span,
        HINT,
    )
