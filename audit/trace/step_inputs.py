"""The rulebook figures a trace step read: its ``inputs``, by id and value.

A step's inputs come from the rulebook, not the book, so they are the same for every
decision (the book values a step tested are in its output, e.g. an eligibility
requirement's ``tested``). :func:`step_inputs` lists, in the order the statement writes
them:

* every **parameter** the statement names, once, as ``param.<name>`` with the value
  :meth:`~marginlex.engine.plan.steps.Plan.value` resolves (an overriding variant's value);
* every **number written inline** (and date, in a condition), as ``<rule_id>.<slot>``:
  ``sec_portfolio_margin.range[1].up``, ``sec_strategy_based.others[otherwise].rate``,
  ``portfolio_margin.min_equity.when``. Table rows are numbered from 1 as written; an
  ``otherwise`` row is ``[otherwise]``; several numbers in one condition are ``.1``, ``.2``;
* a few settings that are not numbers but decide the result: ``<rule>.points`` of a
  scenario grid, ``<rule>.prefer_instrument_range`` of a SPAN scan, ``<rule>.by`` of a
  credit table, ``<rule>.schedule`` of a haircut (its identity: the table kind and row
  count, or the schedules a ``more conservative of`` compares; the rows are not listed,
  as each lot's output names its row and rate, but a parameter in a row is), and the
  carrier kinds and agreements of a segregation constraint.

Values are in base units, as the evaluator reads them: ``unit`` is ``fraction`` (0.15 is
15%), ``USD``, ``years``, ``multiple`` or null (a count, a flag, a label, a date). A
parameter's unit comes from where it is used (a range is a fraction, a contract minimum
USD; in a condition, the unit of the field it is compared with). A SPAN scan's ``steps 3``
is not listed (its scan always has 3 steps); its ``coverage ... over ...`` is listed
(``<rule>.coverage``, ``<rule>.liquidation``) only where it scales the scan ranges, i.e. is
not 99% over 1 day (factor 1), so ledgers recorded before it was read still replay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

from pydantic import TypeAdapter

from marginlex.audit.trace.steps import InputValue
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.fields import FIELDS, Kind
from marginlex.engine.kernels.span_horizon import horizon_factor
from marginlex.engine.plan.steps import Plan, Step

FRACTION: Final = "fraction"
USD: Final = "USD"
YEARS: Final = "years"
MULTIPLE: Final = "multiple"

_DIMENSION_UNIT: dict[m.Dimension, str | None] = {
    m.Dimension.MONEY: USD,
    m.Dimension.FRACTION: FRACTION,
    m.Dimension.DURATION: YEARS,
    m.Dimension.MULTIPLE: MULTIPLE,
    m.Dimension.NUMBER: None,
}
_KIND_UNIT: dict[Kind, str] = {
    Kind.MONEY: USD,
    Kind.FRACTION: FRACTION,
    Kind.DURATION: YEARS,
    Kind.MULTIPLE: MULTIPLE,
}
_INPUTS: TypeAdapter[tuple[InputValue, ...]] = TypeAdapter(tuple[InputValue, ...])

_Leaf = m.Quantity | m.ParamRef | m.DateValue


def step_inputs(step: Step, plan: Plan) -> tuple[InputValue, ...]:
    """The rulebook figures a step read, in the order its statement writes them.

    A parameter used twice is listed once, where it is first used.

    Args:
        step: a step of ``plan``.
        plan: the compiled rulebook (it resolves parameters).

    Returns:
        The inputs, constant for every decision the step takes part in.

    Raises:
        KeyError: the statement names a parameter not in force on the plan's date.
    """
    reader = _READERS.get(type(step.statement))
    if reader is None:  # parameters and removals are not steps
        return ()
    seen: dict[str, InputValue] = {}
    for value in reader(step.statement, plan):
        seen.setdefault(value.id, value)
    return tuple(seen.values())


def step_inputs_json(step: Step, plan: Plan) -> str:
    """The step's inputs as the compact JSON list a :class:`DecisionTrace` holds.

    >>> import datetime as dt
    >>> from marginlex.dsl.loader import load_rulebook
    >>> from marginlex.engine.plan.compile import compile_plan
    >>> plan = compile_plan(load_rulebook("cftc"), dt.date(2026, 6, 30))
    >>> step_inputs_json(next(s for s in plan.steps if s.rule_id == "cftc_digital_cap"), plan)
    '[{"id":"cftc_digital_cap.limit","unit":"fraction","value":0.4}]'
    """
    return _INPUTS.dump_json(step_inputs(step, plan)).decode("utf-8")


def add_on_inputs_json(step: Step, plan: Plan) -> tuple[str, str]:
    """A ``concentration add`` rule's rate and share of equity as trace inputs (JSON), by
    parameter id when the rulebook names one.

    >>> import datetime as dt
    >>> from marginlex.dsl.loader import load_rulebook
    >>> from marginlex.engine.plan.compile import compile_plan
    >>> plan = compile_plan(load_rulebook("sec"), dt.date(2026, 6, 30))
    >>> add_on_inputs_json(next(s for s in plan.steps if s.rule_id == "sec_pm_concentration"),
    ...     plan)[0]
    '{"id":"param.pm_concentration_rate","unit":"fraction","value":0.05}'
    """
    assert isinstance(step.statement, m.Margin)
    method = step.statement.method
    assert isinstance(method, m.ConcentrationAddOn)
    rule = step.statement.id
    rate = next(_value(plan, f"{rule}.add_on_rate", method.rate, FRACTION))
    share = next(_value(plan, f"{rule}.share_of_equity", method.share, FRACTION))
    return rate.model_dump_json(), share.model_dump_json()


# ---- values and conditions ---------------------------------------------------------------


def _value(
    plan: Plan, slot: str, value: m.Quantity | m.ParamRef | None, unit: str | None
) -> Iterator[InputValue]:
    """One table value or clause: by parameter id, or by its slot when written inline."""
    if isinstance(value, m.ParamRef):
        yield InputValue(id=f"param.{value.name}", unit=unit, value=plan.value(value))
    elif value is not None:
        yield InputValue(id=slot, unit=unit, value=value.base)


def _condition(plan: Plan, slot: str, expr: m.Expr | None) -> Iterator[InputValue]:
    """The parameters, numbers and dates a condition compares with."""
    if expr is None:
        return
    found = list(_literals(expr, None))
    inline = sum(not isinstance(node, m.ParamRef) for node, _ in found)
    number = 0
    for node, unit in found:
        if isinstance(node, m.ParamRef):
            yield from _value(plan, slot, node, unit)
            continue
        number += 1
        name = slot if inline == 1 else f"{slot}.{number}"
        if isinstance(node, m.DateValue):
            yield InputValue(id=name, unit=None, value=node.value)
        else:
            yield InputValue(id=name, unit=_DIMENSION_UNIT[node.dimension], value=node.base)


def _literals(expr: m.Node, unit: str | None) -> Iterator[tuple[_Leaf, str | None]]:
    """Parameters, quantities and dates in written order, each with its unit if known."""
    if isinstance(expr, m.Quantity):
        yield expr, _DIMENSION_UNIT[expr.dimension]
    elif isinstance(expr, m.ParamRef | m.DateValue):
        yield expr, unit
    elif isinstance(expr, m.Compare):
        yield from _literals(expr.left, _unit_of(expr.right))
        yield from _literals(expr.right, _unit_of(expr.left))
    elif isinstance(expr, m.Membership):
        yield from _literals(expr.item, None)
        yield from _literals(expr.collection, _unit_of(expr.item))
    elif isinstance(expr, m.And | m.Or | m.SetOf):
        for item in expr.items:
            yield from _literals(item, unit)
    elif isinstance(expr, m.Not):
        yield from _literals(expr.item, unit)


def _unit_of(expr: m.Node) -> str | None:
    """The unit of what a parameter is compared with: a field's, or a number's."""
    if isinstance(expr, m.FieldRef):
        field = FIELDS.get(expr.subject, {}).get(expr.name)
        return _KIND_UNIT.get(field.kind) if field is not None else None
    if isinstance(expr, m.Quantity):
        return _DIMENSION_UNIT[expr.dimension]
    return None


def _rows(rows: Iterable[Any]) -> Iterator[tuple[str, Any]]:
    """Table rows with their label: the 1-based row number, or ``otherwise``."""
    for number, row in enumerate(rows, start=1):
        yield ("otherwise" if row.when is None else str(number)), row


def _setting(slot: str, value: bool | int | str) -> InputValue:
    return InputValue(id=slot, unit=None, value=value)


# ---- statements --------------------------------------------------------------------------


def _scope(s: m.Scope, plan: Plan) -> Iterator[InputValue]:
    yield from _condition(plan, f"{s.id}.where", s.where)


def _eligibility(s: m.Eligibility, plan: Plan) -> Iterator[InputValue]:
    for r in s.requirements:
        yield from _condition(plan, f"{s.id}.{r.name}", r.condition)
        yield from _condition(plan, f"{s.id}.{r.name}.when", r.when)


def _segregation(s: m.Segregation, plan: Plan) -> Iterator[InputValue]:
    c = s.constraint
    if isinstance(c, m.CollateralFlow):
        yield from _condition(plan, f"{s.id}.source", c.source)
        yield from _condition(plan, f"{s.id}.target", c.target)
    elif isinstance(c, m.CarrierKinds):
        yield from _condition(plan, f"{s.id}.accounts", c.accounts)
        yield _setting(f"{s.id}.carrier_kinds", _names(c.kinds))
    elif isinstance(c, m.MergedCarrier):
        yield _setting(f"{s.id}.carrier_kinds", _names(c.kinds))
        if c.agreements:
            yield _setting(f"{s.id}.agreements", _names(c.agreements))


def _names(symbols: tuple[m.Symbol, ...]) -> str:
    """A name set as the rulebook writes it: ``{broker_dealer, bd_fcm}``."""
    return "{" + ", ".join(sym.name for sym in symbols) + "}"


def _haircut(s: m.Haircut, plan: Plan) -> Iterator[InputValue]:
    yield from _condition(plan, f"{s.id}.where", s.where)
    body = s.body
    outcomes: list[m.Outcome] = []
    if isinstance(body, m.MaturityBuckets):
        schedule = f"by residual_maturity, {len(body.buckets)} rows"
        outcomes = [b.outcome for b in body.buckets]
    elif isinstance(body, m.AssetTable):
        schedule = f"by asset, {len(body.rows)} rows"
        outcomes = [r.outcome for r in body.rows]
    elif isinstance(body, m.MoreConservative):
        groups = [_names(g) for g in body.groups()] if body.regimes else []
        names = ", ".join(x.name for x in body.schedules)
        schedule = f"more conservative of {' and '.join(groups) if groups else names}"
    elif isinstance(body.outcome, m.Rate):
        schedule = "flat rate"
    else:
        schedule = "ineligible"
    yield _setting(f"{s.id}.schedule", schedule)
    if isinstance(body, m.Flat) and isinstance(body.outcome, m.Rate):
        yield from _value(plan, f"{s.id}.rate", body.outcome.value, FRACTION)
    for outcome in outcomes:  # only parameters: each lot's output has its row and rate
        if isinstance(outcome, m.Rate) and isinstance(outcome.value, m.ParamRef):
            yield from _value(plan, "", outcome.value, FRACTION)


def _concentration(s: m.Concentration, plan: Plan) -> Iterator[InputValue]:
    yield from _condition(plan, f"{s.id}.where", s.where)
    yield from _value(plan, f"{s.id}.limit", s.limit, FRACTION)


def _margin(s: m.Margin, plan: Plan) -> Iterator[InputValue]:
    yield from _condition(plan, f"{s.id}.applies_to", s.applies_to)
    method = s.method
    if isinstance(method, m.ScenarioGrid):
        yield from _grid(s.id, method, plan)
    elif isinstance(method, m.SpanScan):
        yield from _span(s.id, method, plan)
    elif isinstance(method, m.Rates):
        for label, row in _rows(method.rows):
            yield from _condition(plan, f"{s.id}.row[{label}].when", row.when)
            yield from _value(plan, f"{s.id}.row[{label}].rate", row.rate, FRACTION)
    elif isinstance(method, m.StrategyBased):
        yield from _strategy(s.id, method, plan)
    elif isinstance(method, m.MinimumEquity):
        yield from _value(plan, f"{s.id}.minimum_equity", method.amount, USD)
    elif isinstance(method, m.ConcentrationAddOn):
        yield from _value(plan, f"{s.id}.add_on_rate", method.rate, FRACTION)
        yield from _value(plan, f"{s.id}.share_of_equity", method.share, FRACTION)
        yield from _condition(plan, f"{s.id}.counted", method.where)
    else:
        yield from _value(plan, f"{s.id}.multiple", method.multiple, MULTIPLE)


def _grid(rule: str, grid: m.ScenarioGrid, plan: Plan) -> Iterator[InputValue]:
    yield _setting(f"{rule}.points", grid.points)
    yield from _value(plan, f"{rule}.rate", grid.rate, FRACTION)
    for label, row in _rows(grid.ranges):
        yield from _condition(plan, f"{rule}.range[{label}].when", row.when)
        yield from _value(plan, f"{rule}.range[{label}].up", row.up, FRACTION)
        yield from _value(plan, f"{rule}.range[{label}].down", row.down, FRACTION)
    yield from _minimum(rule, grid.minimum, plan)


def _span(rule: str, scan: m.SpanScan, plan: Plan) -> Iterator[InputValue]:
    yield from _value(plan, f"{rule}.vol_shift", scan.vol_shift, FRACTION)
    if scan.vol_floor is not None:
        yield from _value(plan, f"{rule}.vol_floor", scan.vol_floor, FRACTION)
    yield from _value(plan, f"{rule}.extreme_multiple", scan.extreme_multiple, MULTIPLE)
    yield from _value(plan, f"{rule}.extreme_cover", scan.extreme_cover, FRACTION)
    yield from _horizon(rule, scan, plan)
    yield _setting(f"{rule}.prefer_instrument_range", scan.prefer_instrument_range)
    for label, row in _rows(scan.ranges):
        yield from _condition(plan, f"{rule}.range[{label}].when", row.when)
        yield from _value(plan, f"{rule}.range[{label}]", row.range, FRACTION)
    yield from _minimum(rule, scan.minimum, plan)


def _horizon(rule: str, scan: m.SpanScan, plan: Plan) -> Iterator[InputValue]:
    """``coverage C over L``, an input only where it scales the scan ranges (not 99% over
    1 day: the factor is then exactly 1, and ledgers recorded before it was read replay)."""
    cover = plan.value(scan.coverage) if scan.coverage is not None else None
    days = plan.value(scan.liquidation) if scan.liquidation is not None else None
    if horizon_factor(cover, days) == 1.0:
        return
    if scan.coverage is not None:
        yield from _value(plan, f"{rule}.coverage", scan.coverage, FRACTION)
    if scan.liquidation is not None:
        yield from _value(plan, f"{rule}.liquidation", scan.liquidation, YEARS)


def _minimum(rule: str, minimum: m.ContractMinimum | None, plan: Plan) -> Iterator[InputValue]:
    if minimum is not None:
        yield from _value(plan, f"{rule}.minimum", minimum.amount, USD)
        yield from _condition(plan, f"{rule}.minimum.where", minimum.where)


def _strategy(rule: str, method: m.StrategyBased, plan: Plan) -> Iterator[InputValue]:
    if method.held_in_cash:  # listed only where set: a margin account's inputs are as before
        yield _setting(f"{rule}.held_in_cash", True)
    for leg in method.rows:
        yield from _value(plan, f"{rule}.{leg.leg.value}.rate", leg.rate, FRACTION)
        yield from _value(plan, f"{rule}.{leg.leg.value}.floor", leg.floor, FRACTION)
        # listed only where written: a row without them has the inputs it always had
        yield from _value(plan, f"{rule}.{leg.leg.value}.per_share", leg.per_share, USD)
        if leg.low_price is not None:
            low = f"{rule}.{leg.leg.value}.under"
            yield from _value(plan, low, leg.low_price.under, USD)
            yield from _value(plan, f"{low}.rate", leg.low_price.rate, FRACTION)
            yield from _value(plan, f"{low}.per_share", leg.low_price.per_share, USD)
    for label, row in _rows(method.others):
        yield from _condition(plan, f"{rule}.others[{label}].when", row.when)
        yield from _value(plan, f"{rule}.others[{label}].rate", row.rate, FRACTION)


def _offset(s: m.Offset, plan: Plan) -> Iterator[InputValue]:
    rule = s.rule
    if isinstance(rule, m.Netting):
        yield from _value(plan, f"{s.id}.rate", rule.rate, FRACTION)
    elif isinstance(rule, m.ClassGroupCredit):
        yield _setting(f"{s.id}.by", f"{rule.key.subject.value}.{rule.key.name}")
        for row in rule.rows:
            key = row.left.name if row.right is None else f"{row.left.name}/{row.right.name}"
            yield from _value(plan, f"{s.id}.{key}", row.rate, FRACTION)
    elif isinstance(rule, m.MergeAccounts):
        yield from _condition(plan, f"{s.id}.where", rule.where)
    elif isinstance(rule, m.TakeIn | m.GiveUp):
        yield from _condition(plan, f"{s.id}.anchor", rule.anchor)
        yield from _condition(plan, f"{s.id}.positions", rule.positions)
    elif isinstance(rule, m.Dv01Pairing):
        yield from _condition(plan, f"{s.id}.{rule.first_house.name}", rule.first)
        yield from _condition(plan, f"{s.id}.{rule.second_house.name}", rule.second)
        for bucket in rule.buckets:
            if bucket.within is not None:
                yield from _value(plan, f"{s.id}.bucket[{bucket.name}]", bucket.within, YEARS)
        for pair in rule.rows:
            label = f"{pair.first.name}/{pair.second.name}"
            yield from _value(plan, f"{s.id}.{label}", pair.rate, FRACTION)


_READERS: dict[type, Callable[[Any, Plan], Iterator[InputValue]]] = {
    m.Scope: _scope,
    m.Eligibility: _eligibility,
    m.Segregation: _segregation,
    m.Haircut: _haircut,
    m.Concentration: _concentration,
    m.Margin: _margin,
    m.Offset: _offset,
}

__all__ = ["FRACTION", "MULTIPLE", "USD", "YEARS", "step_inputs", "step_inputs_json"]
