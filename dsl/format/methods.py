"""Canonical text of margin methods (used by :mod:`.formatter`)."""

from __future__ import annotations

from marginlex.dsl.format.expressions import value
from marginlex.dsl.format.lines import Line, lead, note, pack, same
from marginlex.dsl.model import rulebook as m


def _selector(prefix: str, when: m.Expr | None) -> list[str]:
    return lead(f"{prefix}when ", when) if when is not None else [f"{prefix}otherwise"]


def minimum(n: m.ContractMinimum) -> list[Line]:
    """``minimum V per contract [times multiplier] [for position where E] [note]``."""
    parts = [f"minimum {value(n.amount)} per contract"]
    if n.times_multiplier:
        parts[0] += " times multiplier"
    if n.where is not None:
        parts += lead("for position where ", n.where)
    return pack(2, parts + note(n.note), n)


def range_row(r: m.RangeRow) -> list[Line]:
    """``range when E up U down D [as class_group G] [note]``."""
    spec = (
        f"up and down {value(r.up)}"
        if same(r.up, r.down)
        else (f"up {value(r.up)} down {value(r.down)}")
    )
    parts = [*_selector("range ", r.when), spec]
    if r.class_group is not None:
        parts.append(f"as class_group {r.class_group}")
    return pack(2, parts + note(r.note), r)


def scan_row(r: m.ScanRow) -> list[Line]:
    """``range when E V [note]``."""
    return pack(2, [*_selector("range ", r.when), value(r.range), *note(r.note)], r)


def _grid(g: m.ScenarioGrid) -> list[Line]:
    lines = [Line(1, "scenario grid", g.span.line), Line(2, f"points {g.points}")]
    rate = f" rate {value(g.rate)}" if g.rate is not None else ""
    lines.append(Line(2, f"options {g.option_model.value}{rate}"))
    for r in g.ranges:
        lines += range_row(r)
    if g.minimum is not None:
        lines += minimum(g.minimum)
    return lines


def _vol_floor(s: m.SpanScan) -> str:
    """`` of implied at least F`` where the shift is relative to implied volatility."""
    return f" of implied at least {value(s.vol_floor)}" if s.vol_floor is not None else ""


def _span(s: m.SpanScan) -> list[Line]:
    lines = [
        Line(1, "span scan", s.span.line),
        Line(2, f"steps {s.steps}"),
        Line(2, f"volatility shift {value(s.vol_shift)}{_vol_floor(s)}"),
        Line(2, f"extreme {value(s.extreme_multiple)} counted {value(s.extreme_cover)}"),
    ]
    if s.coverage is not None:
        over = f" over {value(s.liquidation)}" if s.liquidation is not None else ""
        lines.append(Line(2, f"coverage {value(s.coverage)}{over}"))
    word = "prefer" if s.prefer_instrument_range else "ignore"
    lines.append(Line(2, f"{word} instrument scan_range"))
    for r in s.ranges:
        lines += scan_row(r)
    if s.minimum is not None:
        lines += minimum(s.minimum)
    if s.calendar is not None:
        lines += calendar_spreads(s.calendar)
    if s.delivery is not None:
        lines += delivery_charge(s.delivery)
    return lines


def spread_tier(t: m.SpreadTier, depth: int = 3) -> list[Line]:
    """``up to D V per spread [note]`` or ``otherwise V per spread [note]``."""
    head = f"up to {value(t.upper)}" if t.upper is not None else "otherwise"
    return pack(depth, [head, f"{value(t.charge)} per spread", *note(t.note)], t)


def calendar_spreads(c: m.CalendarSpreads) -> list[Line]:
    """``calendar spreads for position where E`` and its tiers."""
    head = "calendar spreads by delta" if c.by_delta else "calendar spreads"
    lines = pack(2, [head, *lead("for position where ", c.where)], c)
    for t in c.tiers:
        lines += spread_tier(t)
    for case in c.cases:
        lines += calendar_case(case)
    return lines


def calendar_case(c: m.CalendarCase) -> list[Line]:
    """``when E`` and its own tiers, one step further in."""
    lines = pack(3, lead("when ", c.when), c)
    for t in c.tiers:
        lines += spread_tier(t, depth=4)
    return lines


def delivery_charge(d: m.DeliveryCharge) -> list[Line]:
    """``delivery month V per contract for position where E [note]``."""
    parts = [f"delivery month {value(d.amount)} per contract"]
    return pack(2, [*parts, *lead("for position where ", d.where), *note(d.note)], d)


def rate_row(r: m.RateRow) -> list[Line]:
    """``when E V [of underlying less out of the money ...] [note]`` or ``otherwise V``."""
    rate = [value(r.rate)]
    if r.of_underlying is not None:  # the rate and its basis on one line
        rate = of_underlying_parts(value(r.rate), r.of_underlying)
    return pack(2, [*_selector("", r.when), *rate, *note(r.note)], r)


def of_underlying_parts(rate: str, b: m.OfUnderlying) -> list[str]:
    """``RATE of underlying less out of the money [at least F] [at least S per share]``."""
    parts = [f"{rate} of underlying less out of the money".lstrip()]
    if b.floor is not None:
        parts.append(f"at least {value(b.floor)}")
    if b.per_share is not None:
        parts.append(f"at least {value(b.per_share)} per share")
    return parts


def strategy_row(r: m.StrategyRow) -> list[Line]:
    """``leg V [at least V [per share]] [, under V a share V [at least V per share]] [note]``."""
    parts = [f"{r.leg.value} {value(r.rate)}"]
    if r.floor is not None:
        parts.append(f"at least {value(r.floor)}")
    if r.per_share is not None:
        parts.append(f"at least {value(r.per_share)} per share")
    if r.low_price is not None:
        parts[-1] += ","
        parts += low_price_parts(r.low_price)
    return pack(2, parts + note(r.note), r)


def low_price_parts(t: m.LowPriceTier) -> list[str]:
    """``under V a share V [at least V per share]``: a row's low-price tier, one part (so a
    wrapped row keeps the tier on one line)."""
    text = f"under {value(t.under)} a share {value(t.rate)}"
    if t.per_share is not None:
        text += f" at least {value(t.per_share)} per share"
    return [text]


def method(x: m.MarginMethod) -> list[Line]:
    """The lines of one margin method."""
    if isinstance(x, m.ScenarioGrid):
        return _grid(x)
    if isinstance(x, m.SpanScan):
        return _span(x)
    if isinstance(x, m.Rates):
        lines = [Line(1, "rates", x.span.line)]
        for row in x.rows:
            lines += rate_row(row)
        return lines
    if isinstance(x, m.StrategyBased):
        head = "strategy based held in cash" if x.held_in_cash else "strategy based"
        lines = [Line(1, head, x.span.line)]
        for leg in x.rows:
            lines += strategy_row(leg)
        for row in x.others:
            lines += rate_row(row)
        return lines
    if isinstance(x, m.MinimumEquity):
        return pack(1, [f"minimum equity {value(x.amount)}", *note(x.note)], x)
    if isinstance(x, m.ConcentrationAddOn):
        text = f"concentration add {value(x.rate)} when class group exceeds {value(x.share)}"
        parts = [f"{text} of equity"]
        if x.where is not None:
            parts += lead("for position where ", x.where)
        return pack(1, parts + note(x.note), x)
    restores = ", calls restore initial" if x.calls_restore_initial else ""
    return [Line(1, f"initial {value(x.multiple)} of maintenance{restores}", x.span.line)]
