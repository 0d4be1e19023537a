"""Clauses the language accepts but the evaluator implements for one value only.

A SPAN scan's ``coverage C over L`` states the confidence and liquidation period its scan
ranges were calibrated for (17 CFR 39.13(g)(2): at least 99% over at least one day for
futures). The scan ranges are figures of the rulebook's table or of the book (an
instrument's own ``scan_range``), already calibrated; the evaluator does not rescale them.
So only the values they were stated for, 99% over 1 day, can be written: any other value is
refused (MLX700) rather than parsed and silently ignored. The same predicate refuses it at
compile time for a rulebook built without the checker (a mutant, a hybrid).
"""

from __future__ import annotations

from collections.abc import Iterator

from marginlex.dsl.diagnostics import Code, Diagnostic, error
from marginlex.dsl.format.expressions import quantity
from marginlex.dsl.model import rulebook as m

#: (clause, the only value the evaluator implements, that value's base units, tolerance)
SUPPORTED_SPAN_VALUES: dict[str, tuple[str, float]] = {
    "coverage": ("99%", 0.99),
    "liquidation": ("1 day", 1.0 / 365.0),
}


def _versions(value: m.Value | None, params: tuple[m.Parameter, ...]) -> Iterator[m.Quantity]:
    """The figures a clause's value can take: itself, or every version of its parameter."""
    if isinstance(value, m.Quantity):
        yield value
    elif isinstance(value, m.ParamRef):
        yield from (p.value for p in params if p.id == value.name)


def unsupported_span_values(
    statement: m.Statement, params: tuple[m.Parameter, ...]
) -> Iterator[tuple[str, m.Quantity]]:
    """(clause, figure) of a SPAN scan's ``coverage``/``over`` that is not 99% over 1 day.

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
        base = SUPPORTED_SPAN_VALUES[clause][1]
        for q in _versions(value, params):
            if abs(q.base - base) > 1e-12:
                yield clause, q


def unsupported_diagnostics(
    statements: tuple[m.Statement, ...],
    params: tuple[m.Parameter, ...],
    file: str,
) -> list[Diagnostic]:
    """MLX700 for each unsupported figure written in ``file`` (inherited ones are the base's)."""
    out: list[Diagnostic] = []
    seen: set[m.Span] = set()
    for s in statements:
        for clause, q in unsupported_span_values(s, params):
            if q.span.file != file or q.span in seen:
                continue
            seen.add(q.span)
            wanted = SUPPORTED_SPAN_VALUES[clause][0]
            out.append(
                error(
                    Code.UNSUPPORTED,
                    f"a SPAN {clause} of {quantity(q)} is not supported (rule `{s.id}`): the "
                    f"evaluator does not rescale scan ranges, which are stated for {wanted}",
                    q.span,
                    f"write {wanted}, and state the scan ranges themselves at the coverage "
                    "and liquidation period you need (17 CFR 39.13(g)(2))",
                )
            )
    return out
