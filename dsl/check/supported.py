"""A SPAN scan's ``coverage C over L``: the floors 17 CFR 39.13(g)(2) sets, and what scales.

The evaluator scales every price scan range by sqrt(L / 1 day) x z(C) / z(99%)
(:mod:`marginlex.engine.kernels.span_horizon`), so any horizon at or above the regulatory
minimum can be written. Two things are refused where the figure is written, in the clause or
in any version of the parameter the clause names:

* below the floor (MLX303): a coverage under 99% (39.13(g)(2)(iii): "an established
  confidence level of at least 99 percent") or a liquidation period under one day, the
  minimum for futures and options (39.13(g)(2)(ii)(A)); swaps other than agricultural,
  energy and metals swaps need five days ((ii)(C)), but a SPAN scan here margins futures and
  options only;
* what cannot be scaled (MLX700): a coverage of 100% or more has no normal quantile.

The same predicate refuses them at compile time for a rulebook built without the checker
(a mutant, a hybrid).
"""

from __future__ import annotations

from collections.abc import Iterator

from marginlex.dsl.diagnostics import Code, Diagnostic, error
from marginlex.dsl.format.expressions import quantity
from marginlex.dsl.model import rulebook as m

#: clause: (its regulatory floor as written, the floor in base units, the paragraph)
SPAN_FLOORS: dict[str, tuple[str, float, str]] = {
    "coverage": ("99%", 0.99, "17 CFR 39.13(g)(2)(iii)"),
    "liquidation": ("1 day", 1.0 / 365.0, "17 CFR 39.13(g)(2)(ii)(A)"),
}


def _versions(value: m.Value | None, params: tuple[m.Parameter, ...]) -> Iterator[m.Quantity]:
    """The figures a clause's value can take: itself, or every version of its parameter."""
    if isinstance(value, m.Quantity):
        yield value
    elif isinstance(value, m.ParamRef):
        yield from (p.value for p in params if p.id == value.name)


def unsupported_span_values(
    statement: m.Statement, params: tuple[m.Parameter, ...]
) -> Iterator[tuple[str, m.Quantity, Code]]:
    """(clause, figure, code) of each refused ``coverage``/``over`` figure of a SPAN scan.

    >>> from marginlex.dsl.loader import load_rulebook
    >>> cftc = load_rulebook("cftc")
    >>> span = next(s for s in cftc.statements if s.id == "cftc_span")
    >>> list(unsupported_span_values(span, cftc.of_kind(m.Parameter)))
    []
    """
    if not isinstance(statement, m.Margin) or not isinstance(statement.method, m.SpanScan):
        return
    scan = statement.method
    for clause, value in (("coverage", scan.coverage), ("liquidation", scan.liquidation)):
        floor = SPAN_FLOORS[clause][1]
        for q in _versions(value, params):
            if q.base < floor - 1e-12:
                yield clause, q, Code.BELOW_FLOOR
            elif clause == "coverage" and q.base >= 1.0:
                yield clause, q, Code.UNSUPPORTED


def refusal(clause: str, q: m.Quantity, code: Code) -> tuple[str, str]:
    """(what is wrong, the hint) for one refused figure."""
    written, _, paragraph = SPAN_FLOORS[clause]
    if code is Code.UNSUPPORTED:
        return (
            f"a SPAN coverage of {quantity(q)} cannot be scaled to: no normal quantile "
            "exists at 100% or more",
            "write a coverage under 100% (e.g. 99.5%); the scan ranges are scaled by "
            "z(coverage) / z(99%)",
        )
    hint = f"write at least {written}; the scan ranges are scaled to the horizon written"
    if clause == "liquidation":
        hint += " (swaps other than agricultural, energy and metals swaps need 5 days, "
        hint += "17 CFR 39.13(g)(2)(ii)(C))"
    return f"a SPAN {clause} of {quantity(q)} is below the minimum {written} of {paragraph}", hint


def unsupported_diagnostics(
    statements: tuple[m.Statement, ...],
    params: tuple[m.Parameter, ...],
    file: str,
) -> list[Diagnostic]:
    """MLX303/MLX700 for each refused figure written in ``file`` (inherited: the base's)."""
    out: list[Diagnostic] = []
    seen: set[m.Span] = set()
    for s in statements:
        for clause, q, code in unsupported_span_values(s, params):
            if q.span.file != file or q.span in seen:
                continue
            seen.add(q.span)
            message, hint = refusal(clause, q, code)
            out.append(error(code, f"{message} (rule `{s.id}`)", q.span, hint))
    return out
