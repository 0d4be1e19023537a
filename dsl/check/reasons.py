"""``because`` texts that stay true: ``{parameter}`` placeholders, and figures gone stale.

A requirement's reason may name parameters, ``because "equity of at least {pm_min_equity}"``;
the engine renders it with the value in force (:func:`render`), written as the rulebook
writes quantities (``300,000 USD``, ``85%``). Two check passes keep the texts honest:
an unknown name in braces is an error (MLX204, with a did-you-mean), and a figure spelt out
in a reason that a parameter the requirement tests no longer has is a warning (MLX224).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from marginlex.dsl.diagnostics import Code, Diagnostic, Severity, did_you_mean, error
from marginlex.dsl.format.expressions import quantity
from marginlex.dsl.model import rulebook as m

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Figures as a reason spells them: `$100,000`, `100,000 USD`, `15%`, `0.5 %`.
_MONEY = re.compile(r"\$\s?(\d[\d,]*(?:\.\d+)?)|(\d[\d,]*(?:\.\d+)?)\s?USD\b")
_PERCENT = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s?%")


def placeholders(text: str) -> list[str]:
    """The parameter names a reason writes in braces, in order.

    >>> placeholders("equity of at least {pm_min_equity} ({pm_min_equity_unlisted} with sbs)")
    ['pm_min_equity', 'pm_min_equity_unlisted']
    """
    return PLACEHOLDER.findall(text)


def render(text: str, values: Mapping[str, m.Quantity]) -> str:
    """A reason with each ``{name}`` replaced by that parameter's value as written.

    A name with no value is left as written (check reports it: MLX204).

    >>> q = m.Quantity(amount=300000, unit=m.Unit.USD, text="300,000")
    >>> render("equity of at least {pm_min_equity}, {other}", {"pm_min_equity": q})
    'equity of at least 300,000 USD, {other}'
    """

    def value(match: re.Match[str]) -> str:
        found = values.get(match.group(1))
        return quantity(found) if found is not None else match.group(0)

    return PLACEHOLDER.sub(value, text)


def figures(text: str, unit: m.Unit) -> set[float]:
    """The figures of one unit a reason spells out (outside ``{...}``), in base units.

    >>> sorted(figures("at least $100,000 (or 5,000,000 USD); {p}", m.Unit.USD))
    [100000.0, 5000000.0]
    >>> figures("a 15% haircut", m.Unit.PERCENT)
    {0.15}
    """
    bare = PLACEHOLDER.sub("", text)
    if unit is m.Unit.USD:
        found = [a or b for a, b in _MONEY.findall(bare)]
        return {float(f.replace(",", "")) for f in found}
    if unit is m.Unit.PERCENT:
        return {round(float(f.replace(",", "")) / 100, 12) for f in _PERCENT.findall(bare)}
    return set()


@dataclass(frozen=True)
class _Reason:
    """One requirement of an eligibility statement, with the statement that holds it."""

    statement: m.Eligibility
    requirement: m.Requirement


def _reasons(statements: tuple[m.Statement, ...]) -> Iterator[_Reason]:
    for s in statements:
        if isinstance(s, m.Eligibility):
            yield from (_Reason(s, r) for r in s.requirements)


def _where(req: m.Requirement) -> m.Span:
    return req.reason_span or req.span


def unknown_parameters(
    own: tuple[m.Statement, ...], params: Mapping[str, m.Parameter]
) -> list[Diagnostic]:
    """MLX204: a ``{name}`` in a reason that names no parameter."""
    return [
        error(
            Code.UNKNOWN_REASON_PARAMETER,
            f"the reason of `{r.requirement.name}` names `{{{name}}}`, which is no parameter",
            _where(r.requirement),
            did_you_mean(name, params) or "write the name of a parameter, e.g. `{pm_min_equity}`",
        )
        for r in _reasons(own)
        for name in dict.fromkeys(placeholders(r.requirement.reason))
        if name not in params
    ]


def _tested(expr: object) -> Iterator[str]:
    """Parameter names an expression reads, depth first."""
    if isinstance(expr, m.ParamRef):
        yield expr.name
        return
    items = expr if isinstance(expr, tuple) else ()
    if isinstance(expr, m.Node):
        items = tuple(getattr(expr, name) for name in type(expr).model_fields)
    for item in items:
        yield from _tested(item)


def stale_figures(
    own: tuple[m.Statement, ...],
    resolved: tuple[m.Statement, ...],
    file: str,
) -> list[Diagnostic]:
    """MLX224 (warning): a reason spells out a figure that a parameter it tests no longer has.

    Reported where this file is responsible: at the reason when the requirement is written
    here, else at the version of the parameter written here that changed the figure.
    """
    versions: dict[str, list[m.Parameter]] = {}
    for s in resolved:
        if isinstance(s, m.Parameter):
            versions.setdefault(s.id, []).append(s)
    own_ids = {id(s) for s in own}
    out: list[Diagnostic] = []
    for r in _reasons(resolved):
        req = r.requirement
        for name in dict.fromkeys(_tested((req.condition, req.when))):
            for p in versions.get(name, []):
                spelt = figures(req.reason, p.value.unit)
                if not spelt or round(p.value.base, 12) in spelt:
                    continue
                mine = id(r.statement) in own_ids or req.span.file == file
                if not (mine or p.span.file == file):
                    continue
                out.append(_stale(req, p, mine))
    return out


def _spelt(text: str, unit: m.Unit) -> str:
    """The figures of one unit as the reason writes them: ``"$100,000"``."""
    pattern = _MONEY if unit is m.Unit.USD else _PERCENT
    return ", ".join(f'"{x.group(0).strip()}"' for x in pattern.finditer(PLACEHOLDER.sub("", text)))


def _stale(req: m.Requirement, p: m.Parameter, at_reason: bool) -> Diagnostic:
    since = f" from {p.effective.start}" if p.effective and p.effective.start else ""
    return Diagnostic(
        code=Code.STALE_REASON_FIGURE,
        message=(
            f"the reason of `{req.name}` says {_spelt(req.reason, p.value.unit)}, but "
            f"`{p.id}`, which it tests, is {quantity(p.value)}{since}"
        ),
        span=_where(req) if at_reason else p.span,
        hint=f"write `{{{p.id}}}` in the `because` text (line {_where(req).line} of "
        f"{_where(req).file.rsplit('/', 1)[-1]}) so that it shows the value in force",
        severity=Severity.WARNING,
    )
