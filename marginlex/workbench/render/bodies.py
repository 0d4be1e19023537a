"""Statement bodies as clauses and tables, one handler per body type (a dispatch table).

Each handler takes the resolved rulebook (to show the figure behind a parameter name) and a
node, and returns the clauses and tables the reader sees. ``tests/workbench`` asserts that
every statement and body type of the model has a handler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marginlex.dsl.format.expressions import expr
from marginlex.dsl.model import rulebook as m
from marginlex.workbench.render.cells import (
    RB,
    Parts,
    braced,
    clause,
    condition,
    outcome_cell,
    row,
    setting,
    value_cell,
)
from marginlex.workbench.render.document import Cell, Table
from marginlex.workbench.render.methods import METHOD_HANDLERS

# ---- statements ------------------------------------------------------------------------


def _scope(rb: RB, s: m.Scope) -> Parts:
    return [clause("decides accounts where", s.where)], []


def _eligibility(rb: RB, s: m.Eligibility) -> Parts:
    rows = [
        row(
            [
                Cell(text=r.name),
                condition(r.condition),
                condition(r.when, "always") if r.when else Cell(text="always", code=False),
                Cell(text=r.reason, code=False),
            ],
            r.note,
        )
        for r in s.requirements
    ]
    columns = ("requirement", "must hold", "applies when", "because")
    return [], [
        Table(title=f"requirements for each {s.subject.value}", columns=columns, rows=tuple(rows))
    ]


def _segregation(rb: RB, s: m.Segregation) -> Parts:
    c = s.constraint
    if isinstance(c, m.CollateralFlow):
        pledged = "a lot pledged to one"
        counted = [setting(pledged, "is not counted there", code=False)] if c.not_counted else []
        return [
            clause("collateral of accounts where", c.source),
            clause(
                "must not reach accounts of another owner where"
                if c.other_owner
                else "must not reach accounts where",
                c.target,
            ),
            *counted,
        ], []
    if isinstance(c, m.CarrierKinds):
        return [
            clause("accounts where", c.accounts),
            setting("must be carried by", braced(c.kinds)),
        ], []
    if isinstance(c, m.SingleOwner):
        return [setting("merged accounts", "must have one owner", code=False)], []
    under = [setting("under agreements", braced(c.agreements))] if c.agreements else []
    return [setting("merged accounts must be carried by", braced(c.kinds)), *under], []


def _haircut(rb: RB, s: m.Haircut) -> Parts:
    where = [clause("for collateral where", s.where)] if s.where is not None else []
    clauses, tables = HANDLERS[type(s.body)](rb, s.body)
    return where + clauses, tables


def _concentration(rb: RB, s: m.Concentration) -> Parts:
    where = [clause("for collateral where", s.where)] if s.where is not None else []
    limit = setting("at most", f"{value_cell(rb, s.limit).text} of {s.of.value}")
    return [*where, limit], []


def _margin(rb: RB, s: m.Margin) -> Parts:
    applies = [clause("applies to accounts where", s.applies_to)] if s.applies_to else []
    clauses, tables = HANDLERS[type(s.method)](rb, s.method)
    return applies + clauses, tables


def _offset(rb: RB, s: m.Offset) -> Parts:
    return HANDLERS[type(s.rule)](rb, s.rule)


def _parameter(rb: RB, s: m.Parameter) -> Parts:
    return [], []


# ---- haircut bodies --------------------------------------------------------------------


def _buckets(rb: RB, b: m.MaturityBuckets) -> Parts:
    rows = [
        row(
            [
                Cell(text=f"under {expr(k.upper)}" if k.upper else "otherwise"),
                outcome_cell(rb, k.outcome),
            ],
            k.note,
        )
        for k in b.buckets
    ]
    columns = ("residual maturity", "haircut")
    return [], [Table(title="by residual maturity", columns=columns, rows=tuple(rows))]


def _assets(rb: RB, b: m.AssetTable) -> Parts:
    rows = [
        row(
            [Cell(text=r.asset.name if r.asset else "otherwise"), outcome_cell(rb, r.outcome)],
            r.note,
        )
        for r in b.rows
    ]
    return [], [Table(title="by asset", columns=("asset", "haircut"), rows=tuple(rows))]


def _flat(rb: RB, b: m.Flat) -> Parts:
    return [setting("haircut", outcome_cell(rb, b.outcome).text)], []


def _conservative(rb: RB, b: m.MoreConservative) -> Parts:
    names = ", ".join(s.name for s in b.schedules)
    return [setting("the more conservative of", names)], []


HANDLERS: dict[type[m.Node], Callable[[RB, Any], Parts]] = {
    m.Parameter: _parameter,
    m.Scope: _scope,
    m.Eligibility: _eligibility,
    m.Segregation: _segregation,
    m.Haircut: _haircut,
    m.Concentration: _concentration,
    m.Margin: _margin,
    m.Offset: _offset,
    m.MaturityBuckets: _buckets,
    m.AssetTable: _assets,
    m.Flat: _flat,
    m.MoreConservative: _conservative,
    **METHOD_HANDLERS,
}


def statement_parts(rb: RB, s: m.Statement) -> Parts:
    """The clauses and tables of one statement."""
    return HANDLERS[type(s)](rb, s)
