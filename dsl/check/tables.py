"""Checks of table values (units, 0-100%) and table shapes (buckets, repeated rows)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from marginlex.dsl.check.expressions import DECLARE_PARAMETER, locate, unknown_asset
from marginlex.dsl.diagnostics import Code, Diagnostic, did_you_mean, error
from marginlex.dsl.format.expressions import quantity, spread_leg
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.expressions import Dimension
from marginlex.dsl.model.fields import FIELDS, Kind

F, MONEY, DUR, MULT = (
    m.Dimension.FRACTION,
    m.Dimension.MONEY,
    m.Dimension.DURATION,
    m.Dimension.MULTIPLE,
)

#: (value, allowed dimensions, must lie within 0-100%, what it is)
_Slot = tuple[m.Quantity | m.ParamRef | None, frozenset[m.Dimension], bool, str]

DIMENSION_WORDS = {
    F: "a percentage",
    MONEY: "an amount in USD",
    DUR: "a duration",
    MULT: "a multiple",
    m.Dimension.NUMBER: "a plain number",
}

_UNIT_EXAMPLE = {F: "15%", MONEY: "0.375 USD", DUR: "3 months", MULT: "3x"}


def _outcome_slots(outcome: m.Outcome) -> Iterator[_Slot]:
    if isinstance(outcome, m.Rate):
        yield outcome.value, frozenset({F}), True, "a haircut"


def _haircut_slots(body: m.HaircutBody) -> Iterator[_Slot]:
    if isinstance(body, m.MaturityBuckets):
        for b in body.buckets:
            yield b.upper, frozenset({DUR}), False, "a bucket bound"
            yield from _outcome_slots(b.outcome)
    elif isinstance(body, m.AssetTable):
        for row in body.rows:
            yield from _outcome_slots(row.outcome)
    elif isinstance(body, m.Flat):
        yield from _outcome_slots(body.outcome)


def _method_slots(method: m.MarginMethod) -> Iterator[_Slot]:
    rate = frozenset({F})
    if isinstance(method, m.ScenarioGrid):
        yield method.rate, rate, True, "an interest rate"
        for r in method.ranges:
            yield r.up, rate, True, "a range"
            yield r.down, rate, True, "a range"
    elif isinstance(method, m.SpanScan):
        yield method.vol_shift, rate, True, "a volatility shift"
        yield method.vol_floor, rate, True, "a volatility floor"
        yield method.extreme_multiple, frozenset({MULT}), False, "a multiple of the range"
        yield method.extreme_cover, rate, True, "a share of the extreme loss"
        yield method.coverage, rate, True, "a coverage"
        yield method.liquidation, frozenset({DUR}), False, "a liquidation period"
        for s in method.ranges:
            yield s.range, rate, True, "a scan range"
    elif isinstance(method, m.Rates):
        for row in method.rows:
            yield row.rate, rate, True, "a rate"
            if row.of_underlying is not None:
                yield row.of_underlying.floor, rate, True, "a minimum rate"
                yield row.of_underlying.per_share, frozenset({MONEY}), False, "a minimum per share"
    elif isinstance(method, m.StrategyBased):
        yield from _strategy_slots(method)
    elif isinstance(method, m.REQUIREMENT_MODIFIERS):
        yield from _modifier_slots(method)
    if isinstance(method, m.ScenarioGrid | m.SpanScan) and method.minimum is not None:
        yield method.minimum.amount, frozenset({MONEY}), False, "a minimum per contract"
    if isinstance(method, m.SpanScan):
        yield from _span_charge_slots(method)


def _strategy_slots(method: m.StrategyBased) -> Iterator[_Slot]:
    """Each leg's rate and minimum (a rate, or an amount a share), the low-price tier, the
    rate rows."""
    rate, money = frozenset({F}), frozenset({MONEY})
    for leg in method.rows:
        yield leg.rate, rate, True, "a rate"
        yield leg.floor, rate, True, "a minimum rate"
        yield leg.per_share, money, False, "a minimum per share"
        if leg.low_price is not None:
            yield leg.low_price.under, money, False, "a price a share"
            yield leg.low_price.rate, rate, True, "a rate"
            yield leg.low_price.per_share, money, False, "a minimum per share"
    for row in method.others:
        yield row.rate, rate, True, "a rate"


def _modifier_slots(
    method: m.InitialMultiple | m.MinimumEquity | m.ConcentrationAddOn,
) -> Iterator[_Slot]:
    """The figures of a statement that modifies the requirement of a set's method."""
    if isinstance(method, m.InitialMultiple):
        yield method.multiple, frozenset({F, MULT}), False, "a multiple of maintenance"
    elif isinstance(method, m.ConcentrationAddOn):
        yield method.rate, frozenset({F}), True, "an add-on rate"
        yield method.share, frozenset({F}), False, "a share of equity"
    else:
        yield method.amount, frozenset({MONEY}), False, "a minimum equity"


def _span_charge_slots(scan: m.SpanScan) -> Iterator[_Slot]:
    """The calendar spread tiers and the delivery month charge of a SPAN scan."""
    for tier in scan.calendar.all_tiers if scan.calendar is not None else ():
        yield tier.upper, frozenset({DUR}), False, "a tier bound"
        yield tier.charge, frozenset({MONEY}), False, "a charge per spread"
    if scan.delivery is not None:
        yield scan.delivery.amount, frozenset({MONEY}), False, "a charge per contract"


def _slots(s: m.Statement) -> Iterator[_Slot]:
    if isinstance(s, m.Haircut):
        yield from _haircut_slots(s.body)
    elif isinstance(s, m.Concentration):
        yield s.limit, frozenset({F}), True, "a concentration limit"
    elif isinstance(s, m.Margin):
        yield from _method_slots(s.method)
    elif isinstance(s, m.Offset) and isinstance(s.rule, m.Netting):
        yield s.rule.rate, frozenset({F}), True, "a netting rate"
    elif isinstance(s, m.Offset) and isinstance(s.rule, m.ClassGroupCredit):
        for row in s.rule.rows:
            yield row.rate, frozenset({F}), True, "a credit rate"
    elif isinstance(s, m.Offset) and isinstance(s.rule, m.Dv01Pairing):
        for bucket in s.rule.buckets:
            if bucket.within is not None:
                yield bucket.within, frozenset({DUR}), False, "a bucket bound"
        for pair in s.rule.rows:
            yield pair.rate, frozenset({F}), True, "a pairing rate"


def value_diagnostics(
    statements: tuple[m.Statement, ...], params: dict[str, m.Parameter]
) -> list[Diagnostic]:
    """Unit mismatches and rates outside 0-100% in every table value and clause."""
    out: list[Diagnostic] = []
    seen: set[tuple[m.Span, str]] = set()
    for s in statements:
        for value, dims, is_rate, what in _slots(s):
            # `up and down 10%` is one value in two slots: check it once.
            if value is None or (value.span, what) in seen:
                continue
            seen.add((value.span, what))
            q = value if isinstance(value, m.Quantity) else _param(value, params, out)
            if q is not None:
                out.extend(
                    _value_diagnostic(value, q, dims, is_rate=is_rate, what=what, params=params)
                )
    return out


def _value_diagnostic(
    value: m.Quantity | m.ParamRef,
    q: m.Quantity,
    dims: frozenset[m.Dimension],
    *,
    is_rate: bool,
    what: str,
    params: dict[str, m.Parameter],
) -> Iterator[Diagnostic]:
    # A parameter's figure is fixed where it is defined: say where, beside the use.
    where = (
        f"parameter `{value.name}` is set at {locate(params[value.name].span, value.span)}"
        if isinstance(value, m.ParamRef)
        else None
    )
    if q.dimension not in dims:
        wanted = sorted(dims)[0]
        example = f"write it like `{_UNIT_EXAMPLE.get(wanted, '15%')}`"
        yield error(
            Code.UNIT_MISMATCH,
            f"{what} must be {DIMENSION_WORDS[wanted]}, not {DIMENSION_WORDS[q.dimension]}",
            value.span,
            f"{where}; {example} there" if where else example,
        )
    elif is_rate and not 0.0 <= q.base <= 1.0:
        share = "it is a share of a value: write one from 0% to 100%"
        yield error(
            Code.PERCENT_RANGE,
            f"{what} of {q.text}{q.unit.value} is outside 0% to 100%",
            value.span,
            f"{where}; {share}" if where else share,
        )


def inherited_use_diagnostics(
    inherited: tuple[m.Statement, ...], own: dict[str, m.Parameter]
) -> list[Diagnostic]:
    """This file's parameters checked where inherited statements use them.

    An overriding parameter (``override parameter pm_offset_broad = 150%``) is used by
    rules of a base rulebook, which no other pass of this file looks at; the problem is
    reported at the parameter, since that is the line to fix.
    """
    out: list[Diagnostic] = []
    for s in inherited:
        for value, dims, is_rate, what in _slots(s):
            if not isinstance(value, m.ParamRef) or value.name not in own:
                continue
            p = own[value.name]
            use = f"`{s.id}` uses it as {what} at {locate(value.span, p.span)}"
            for d in _value_diagnostic(
                p.value, p.value, dims, is_rate=is_rate, what=what, params=own
            ):
                moved = d.model_copy(update={"hint": f"{use}; {d.hint}" if d.hint else use})
                if moved not in out:
                    out.append(moved)
    return out


def _param(
    ref: m.ParamRef, params: dict[str, m.Parameter], out: list[Diagnostic]
) -> m.Quantity | None:
    p = params.get(ref.name)
    if p is None:
        out.append(
            error(
                Code.UNKNOWN_REFERENCE,
                f"no parameter named `{ref.name}`",
                ref.span,
                did_you_mean(ref.name, params) or DECLARE_PARAMETER,
            )
        )
        return None
    return p.value


def _bucket_order(
    buckets: list[tuple[str, m.Quantity | None, m.Span]],
    *,
    end: str,
    measure: str,
    counts: Callable[[m.Quantity], bool] = lambda q: True,
) -> Iterator[Diagnostic]:
    """Buckets (label, upper bound or None for ``otherwise``, span) from the shortest
    ``measure`` up, ``otherwise`` last; bounds ``counts`` refuses are not compared."""
    previous: float | None = None
    for i, (label, upper, span) in enumerate(buckets):
        if upper is None and i != len(buckets) - 1:
            yield error(
                Code.BUCKET_ORDER,
                "`otherwise` must be the last bucket",
                span,
                f"move it to the end of the {end}",
            )
        if upper is not None and counts(upper):
            if previous is not None and upper.base <= previous:
                yield error(
                    Code.BUCKET_ORDER,
                    f"bucket `{label}` overlaps the one before it",
                    span,
                    f"list buckets from the shortest to the longest {measure}",
                )
            previous = upper.base


def _bucket_diagnostics(body: m.MaturityBuckets) -> Iterator[Diagnostic]:
    yield from _bucket_order(
        [(b.label, b.upper, b.span) for b in body.buckets], end="table", measure="maturity"
    )
    if body.buckets and body.buckets[-1].upper is not None:
        yield error(
            Code.BUCKET_GAP,
            "maturities beyond the last bucket have no haircut",
            body.buckets[-1].span,
            "end the table with an `otherwise` row",
        )


def _repeats(keys: list[tuple[str, m.Span]], what: str) -> Iterator[Diagnostic]:
    """A repeated key, pointed at the repeat and naming the line of the first row."""
    first: dict[str, m.Span] = {}
    for key, span in keys:
        if key in first:
            yield error(
                Code.DUPLICATE_ROW,
                f"{what} `{key}` has two rows: the first is at line {first[key].line}",
                span,
                f"keep one row per key: delete this one or the row at line {first[key].line}",
            )
        first.setdefault(key, span)


def _statement_tables(s: m.Statement, haircuts: set[str]) -> Iterator[Diagnostic]:
    if isinstance(s, m.Haircut) and isinstance(s.body, m.MaturityBuckets):
        yield from _bucket_diagnostics(s.body)
    elif isinstance(s, m.Haircut) and isinstance(s.body, m.AssetTable):
        keys = [(r.asset.name if r.asset else "otherwise", r.span) for r in s.body.rows]
        yield from _repeats(keys, "asset")
        for row in s.body.rows:
            warning = unknown_asset(row.asset) if row.asset is not None else None
            if warning is not None:
                yield warning
    elif isinstance(s, m.Haircut) and isinstance(s.body, m.MoreConservative):
        for name in s.body.schedules:
            if name.name not in haircuts or name.name == s.id:
                yield error(
                    Code.UNKNOWN_REFERENCE,
                    f"no other haircut schedule named `{name.name}`",
                    name.span,
                    did_you_mean(name.name, haircuts - {s.id})
                    or _listed("the other haircut schedules", haircuts - {s.id}),
                )
    elif isinstance(s, m.Margin) and isinstance(s.method, m.StrategyBased):
        yield from _strategy_diagnostics(s.method)
    elif isinstance(s, m.Margin) and isinstance(s.method, m.ScenarioGrid):
        if s.method.points < 2 or s.method.points % 2:
            yield error(
                Code.BAD_LITERAL,
                f"{s.method.points} points cannot be split evenly up and down",
                s.method.span,
                "use an even number such as 10",
            )
    elif isinstance(s, m.Offset) and isinstance(s.rule, m.ClassGroupCredit):
        yield from _credit_diagnostics(s.rule)
    elif isinstance(s, m.Offset) and isinstance(s.rule, m.Dv01Pairing):
        yield from _pairing_diagnostics(s.rule)


def _strategy_diagnostics(method: m.StrategyBased) -> Iterator[Diagnostic]:
    yield from _repeats([(r.leg.value, r.span) for r in method.rows], "leg")
    for leg in method.rows:
        yield from _per_share_diagnostics(leg, held_in_cash=method.held_in_cash)
    for row in method.others:
        if row.of_underlying is not None:
            yield error(
                Code.PER_SHARE_LEG,
                "a `strategy based` rate row takes no `of underlying less out of the money`: "
                "its rate is of the position's notional; a short option is charged by its "
                "`short_equity_option` or `short_index_option` leg",
                row.of_underlying.span,
                "write the option's figures on its leg, or the row in a `rates` table",
            )


def _per_share_diagnostics(row: m.StrategyRow, *, held_in_cash: bool) -> Iterator[Diagnostic]:
    """A per-share minimum and a low-price tier belong to ``short_stock`` in a margin account
    (FINRA Rule 4210(c)): an option leg is charged by its contracts, and a cash account holds a
    short sale's market value in cash (12 CFR 220.8), neither a share's minimum."""
    clauses = [
        (row.per_share, "minimum per share (`at least ... per share`)"),
        (row.low_price, "low-price tier (`, under ... a share ...`)"),
    ]
    for node, what in clauses:
        if node is None:
            continue
        if row.leg != m.StrategyLeg.SHORT_STOCK:
            yield error(
                Code.PER_SHARE_LEG,
                f"`{row.leg.value}` takes no {what}: only `short_stock` is charged by the share",
                node.span,
                "move it to the `short_stock` row, or write the leg's minimum as a rate "
                "(`short_equity_option 20% at least 10%`)",
            )
        elif held_in_cash:
            yield error(
                Code.PER_SHARE_LEG,
                f"`short_stock` in `strategy based held in cash` takes no {what}: a cash "
                "account holds a short sale's market value in cash (12 CFR 220.8)",
                node.span,
                "write `short_stock 100%` there, and the per-share figures in the margin "
                "account's `strategy based`",
            )


def _pairing_diagnostics(rule: m.Dv01Pairing) -> Iterator[Diagnostic]:
    """Two clearing houses; buckets from the shortest tenor, `otherwise` last; each row
    names a bucket of the table, and each pair of buckets once."""
    if rule.first_house.name == rule.second_house.name:
        yield error(
            Code.PAIRING,
            f"both sides of the pairing are `{rule.first_house.name}`'s",
            rule.second_house.span,
            "a pairing is between two clearing houses: name the other side's, e.g. "
            "`against FICC position where ...`",
        )
    yield from _repeats([(b.name, b.span) for b in rule.buckets], "bucket")
    yield from _bucket_order(
        [(b.name, b.within, b.span) for b in rule.buckets],
        end="buckets",
        measure="tenor",
        counts=lambda q: q.dimension is Dimension.DURATION,  # others are MLX300
    )
    names = [b.name for b in rule.buckets]
    for row in rule.rows:
        for sym in (row.first, row.second):
            if sym.name not in names:
                yield error(
                    Code.PAIRING,
                    f"`{sym.name}` is not a bucket of this pairing",
                    sym.span,
                    did_you_mean(sym.name, names) or f"name one of: {', '.join(names)}",
                )
    keys = [(f"{r.first.name} with {r.second.name}", r.span) for r in rule.rows]
    yield from _repeats(keys, "bucket pair")


def _credit_diagnostics(rule: m.ClassGroupCredit) -> Iterator[Diagnostic]:
    known = FIELDS.get(rule.key.subject, {})
    ty = known.get(rule.key.name)
    if ty is None:
        yield error(
            Code.UNKNOWN_FIELD,
            f"{rule.key.subject.value} has no field `{rule.key.name}`",
            rule.key.span,
            did_you_mean(rule.key.name, known) or _listed("its fields", known),
        )
        return
    keys = []
    for row in rule.rows:
        legs = [(row.left, row.left_tier), (row.right or row.left, row.right_tier)]
        pair = sorted(spread_leg(None, key, tier) for key, tier in legs)
        keys.append((" with ".join(pair), row.span))
        yield from _leg_diagnostics(row)
        for sym in (row.left, row.right):
            if sym is not None and ty.kind == Kind.ENUM and sym.name not in ty.values:
                yield error(
                    Code.UNKNOWN_VALUE,
                    f"`{sym.name}` is not a known {rule.key.name}",
                    sym.span,
                    did_you_mean(sym.name, ty.values) or _listed("the known ones", ty.values),
                )
    yield from _repeats(keys, "class-group pair")
    yield from _tier_overlaps(rule)


def _leg_diagnostics(row: m.CreditRow) -> Iterator[Diagnostic]:
    """A leg's ratio (a positive number of contracts) and tier (durations, ``after`` below
    ``within``); both only in a pair (``a with b``)."""
    sides = ((row.left_ratio, row.left_tier), (row.right_ratio, row.right_tier))
    if row.right is None and (row.left_ratio is not None or row.left_tier is not None):
        yield error(
            Code.SPREAD_LEG,
            f"`{row.left.name}` is a single key: a leg ratio or tier needs a pair of legs",
            row.span,
            f"write the spread's two legs, e.g. `{row.left.name} with OTHER 50%`, or drop "
            "the ratio and tier",
        )
        return
    for ratio, tier in sides:
        if ratio is not None and (ratio.amount <= 0 or ratio.amount > 1000):
            yield error(
                Code.SPREAD_LEG,
                f"a leg ratio of {ratio.text} contracts per spread",
                ratio.span,
                "a ratio is the leg's contracts in one spread: a positive number such as 1, "
                "2 or 3 (at most 1,000)",
            )
        bounds = [] if tier is None else [q for q in (tier.after, tier.within) if q]
        for q in bounds:
            if q.dimension is not Dimension.DURATION:
                yield error(
                    Code.UNIT_MISMATCH,
                    f"a tier bound of `{quantity(q)}` is not a duration",
                    q.span,
                    "tiers are times to expiry: write `3 months`, `1 year` or `90 days`",
                )
        if len(bounds) == 2 and bounds[0].base >= bounds[1].base:
            yield error(
                Code.SPREAD_LEG,
                "a tier that ends before it starts",
                bounds[1].span,
                "write `expiring after 3 months within 1 year`: `within` past `after`",
            )


def _tier_overlaps(rule: m.ClassGroupCredit) -> Iterator[Diagnostic]:
    """One key's tiers never overlap (a contract belongs to one leg of a key): a whole-key
    leg and a tier of the same key, or two tiers sharing months, are refused."""
    seen: dict[str, list[tuple[float, float, m.Span]]] = {}
    for row in rule.rows:
        if row.right is None:
            continue
        for key, tier in ((row.left, row.left_tier), (row.right, row.right_tier)):
            low = tier.after.base if tier and tier.after else 0.0
            high = tier.within.base if tier and tier.within else float("inf")
            if low >= high:
                continue  # refused by _leg_diagnostics
            windows = seen.setdefault(key.name, [])
            clash = next(
                (w for w in windows if (w[0], w[1]) != (low, high) and low < w[1] and w[0] < high),
                None,
            )
            if clash is not None:
                yield error(
                    Code.SPREAD_LEG,
                    f"`{key.name}`'s legs overlap: this one shares months with the leg at "
                    f"line {clash[2].line}",
                    key.span,
                    "give each leg of one key its own months (`expiring within 3 months`, "
                    "`expiring after 3 months`), or none on any of its legs",
                )
            windows.append((low, high, key.span))


def table_diagnostics(statements: tuple[m.Statement, ...], haircuts: set[str]) -> list[Diagnostic]:
    """Bucket order and gaps, repeated rows, grid points, schedule references."""
    return [d for s in statements for d in _statement_tables(s, haircuts)]


def _listed(what: str, names: Iterable[str]) -> str:
    """A hint naming every choice there is (when no name is close to the one written).

    >>> _listed("its fields", ["kind", "agreements"]), _listed("the others", [])
    ('its fields are agreements, kind', 'the others: there are none')
    """
    found = sorted(names)
    return f"{what} are {', '.join(found)}" if found else f"{what}: there are none"
