"""Margin methods and offset rules as clauses and tables (handlers of :mod:`.bodies`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marginlex.dsl.format.expressions import expr, spread_leg
from marginlex.dsl.model import rulebook as m
from marginlex.workbench.render.cells import (
    RB,
    Parts,
    clause,
    condition,
    minimum,
    row,
    setting,
    value_cell,
)
from marginlex.workbench.render.document import Cell, Table


def _grid(rb: RB, g: m.ScenarioGrid) -> Parts:
    rate = f", rate {value_cell(rb, g.rate).text}" if g.rate is not None else ""
    clauses = [
        setting("method", "scenario grid", code=False),
        setting("points", str(g.points)),
        setting("options revalued with", f"{g.option_model.value}{rate}"),
        *minimum(rb, g.minimum),
    ]
    rows = [
        row(
            [
                condition(r.when),
                value_cell(rb, r.up),
                value_cell(rb, r.down),
                Cell(text=r.class_group or ""),
            ],
            r.note,
        )
        for r in g.ranges
    ]
    columns = ("instruments where", "up", "down", "as class group")
    return clauses, [Table(title="ranges", columns=columns, rows=tuple(rows))]


def _span(rb: RB, s: m.SpanScan) -> Parts:
    extreme = (
        f"{value_cell(rb, s.extreme_multiple).text} counted {value_cell(rb, s.extreme_cover).text}"
    )
    clauses = [
        setting("method", "SPAN scan", code=False),
        setting("steps", str(s.steps)),
        setting("volatility shift", value_cell(rb, s.vol_shift).text),
        setting("extreme moves", extreme),
    ]
    if s.coverage is not None:
        over = f" over {value_cell(rb, s.liquidation).text}" if s.liquidation is not None else ""
        clauses.append(setting("coverage", value_cell(rb, s.coverage).text + over))
    word = "preferred" if s.prefer_instrument_range else "ignored"
    clauses.append(setting("the instrument's own scan_range", word, code=False))
    rows = [row([condition(r.when), value_cell(rb, r.range)], r.note) for r in s.ranges]
    table = Table(title="scan ranges", columns=("instruments where", "range"), rows=tuple(rows))
    return clauses + minimum(rb, s.minimum), [table]


def _rate_rows(rb: RB, rows: tuple[m.RateRow, ...], title: str) -> Table:
    shown = [row([condition(r.when), _rate_cell(rb, r)], r.note) for r in rows]
    return Table(title=title, columns=("positions where", "rate"), rows=tuple(shown))


def _rate_cell(rb: RB, r: m.RateRow) -> Cell:
    """A row's rate, with its basis where it is of an option's underlying: ``15% of
    underlying less out of the money, at least 7.5%, at least 2.50 USD per share``."""
    cell = value_cell(rb, r.rate)
    b = r.of_underlying
    if b is None:
        return cell
    text = f"{cell.text} of underlying less out of the money"
    if b.floor is not None:
        text += f", at least {value_cell(rb, b.floor).text}"
    if b.per_share is not None:
        text += f", at least {value_cell(rb, b.per_share).text} per share"
    return Cell(text=text, anchor=cell.anchor)


def _rates(rb: RB, r: m.Rates) -> Parts:
    method = setting("method", "rates of market value (first matching row)", code=False)
    return [method], [_rate_rows(rb, r.rows, "rates")]


def _strategy(rb: RB, s: m.StrategyBased) -> Parts:
    legs = [
        row(
            [
                Cell(text=r.leg.value),
                value_cell(rb, r.rate),
                _at_least(rb, r),
                _low_price(rb, r.low_price),
            ],
            r.note,
        )
        for r in s.rows
    ]
    columns = ("leg", "rate", "at least", "a stock priced under")
    tables = [Table(title="legs", columns=columns, rows=tuple(legs))]
    if s.others:
        tables.append(_rate_rows(rb, s.others, "other positions"))
    head = "strategy based, held in cash" if s.held_in_cash else "strategy based"
    return [setting("method", head, code=False)], tables


def _at_least(rb: RB, r: m.StrategyRow) -> Cell:
    """The leg's minimum: a rate (``10%``) or an amount a share (``5 USD per share``)."""
    if r.per_share is not None:
        return Cell(text=f"{value_cell(rb, r.per_share).text} per share")
    return value_cell(rb, r.floor) if r.floor is not None else Cell(text="")


def _low_price(rb: RB, t: m.LowPriceTier | None) -> Cell:
    """``5 USD a share: 100%, at least 2.50 USD per share`` (a ``short_stock`` row's tier)."""
    if t is None:
        return Cell(text="")
    text = f"{value_cell(rb, t.under).text} a share: {value_cell(rb, t.rate).text}"
    if t.per_share is not None:
        text += f", at least {value_cell(rb, t.per_share).text} per share"
    return Cell(text=text)


def _initial(rb: RB, i: m.InitialMultiple) -> Parts:
    return [setting("initial", f"{value_cell(rb, i.multiple).text} of maintenance")], []


def _minimum_equity(rb: RB, x: m.MinimumEquity) -> Parts:
    return [setting("minimum equity", value_cell(rb, x.amount).text)], []


def _concentration_add_on(rb: RB, x: m.ConcentrationAddOn) -> Parts:
    rate, share = value_cell(rb, x.rate).text, value_cell(rb, x.share).text
    return [setting("concentration add", f"{rate} when class group exceeds {share} of equity")], []


def _netting(rb: RB, n: m.Netting) -> Parts:
    return [setting("net within class group", value_cell(rb, n.rate).text)], []


def _credit(rb: RB, c: m.ClassGroupCredit) -> Parts:
    rows = [
        row(
            [
                Cell(text=spread_leg(r.left_ratio, r.left, r.left_tier)),
                Cell(text=spread_leg(r.right_ratio, r.right or r.left, r.right_tier)),
                value_cell(rb, r.rate),
            ],
            r.note,
        )
        for r in c.rows
    ]
    columns = ("gains of class groups keyed", "offset losses of class groups keyed", "rate")
    if c.per_leg:
        columns = ("hedged class groups keyed", "against class groups keyed", "rate per leg")
    each = "each leg " if c.per_leg else ""
    by = setting(f"credit {each}between class groups by", expr(c.key))
    return [by], [Table(title="credits", columns=columns, rows=tuple(rows))]


def _separate(rb: RB, s: m.Separate) -> Parts:
    return [setting("margin sets", "each account alone", code=False)], []


def _merge(rb: RB, s: m.MergeAccounts) -> Parts:
    return [
        clause("margin sets merge accounts where", s.where),
        setting("grouped by", "owner and carrier", code=False),
    ], []


def _take_in(rb: RB, t: m.TakeIn) -> Parts:
    return [
        clause("margin sets: an account where", t.anchor),
        clause("takes in positions where", t.positions),
        setting("of the same", "owner and carrier", code=False),
    ], []


def _give_up(rb: RB, g: m.GiveUp) -> Parts:
    return [
        clause("margin sets leave out positions where", g.positions),
        clause("which go to an account where", g.anchor),
        setting("of the same", "owner and carrier", code=False),
    ], []


def _pairing(rb: RB, p: m.Dv01Pairing) -> Parts:
    first, second = p.first_house.name, p.second_house.name
    bounds = [
        row(
            [
                Cell(text=b.name),
                Cell(text="otherwise" if b.within is None else value_cell(rb, b.within).text),
            ],
            b.note,
        )
        for b in p.buckets
    ]
    pairs = [
        row(
            [
                Cell(text=f"{first} {r.first.name}"),
                Cell(text=f"{second} {r.second.name}"),
                value_cell(rb, r.rate),
            ],
            r.note,
        )
        for r in p.rows
    ]
    return [
        clause(f"pair DV01 of {first} positions where", p.first),
        clause(f"against {second} positions where", p.second),
    ], [
        Table(title="maturity buckets", columns=("bucket", "tenor up to"), rows=tuple(bounds)),
        Table(
            title="pairings, in priority order",
            columns=(f"{first} bucket", f"{second} bucket", "rate per leg"),
            rows=tuple(pairs),
        ),
    ]


METHOD_HANDLERS: dict[type[m.Node], Callable[[RB, Any], Parts]] = {
    m.ScenarioGrid: _grid,
    m.SpanScan: _span,
    m.Rates: _rates,
    m.StrategyBased: _strategy,
    m.InitialMultiple: _initial,
    m.MinimumEquity: _minimum_equity,
    m.ConcentrationAddOn: _concentration_add_on,
    m.Netting: _netting,
    m.ClassGroupCredit: _credit,
    m.Separate: _separate,
    m.MergeAccounts: _merge,
    m.TakeIn: _take_in,
    m.GiveUp: _give_up,
    m.Dv01Pairing: _pairing,
}
"""Handlers of margin methods and offset rules, merged into :data:`.bodies.HANDLERS`."""
