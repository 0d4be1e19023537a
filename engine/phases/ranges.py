"""Which range row each position of a scenario method takes.

A range row is read against the instrument a position moves with (:func:`moving_instrument`):
an option's underlying, so that an option on a future is scanned at its future's range and
an option without an index class at its underlying's; any other instrument itself. A
scenario-grid class group takes one range, the first range row in rulebook order that any
of its positions meets (:func:`first_row_per_group`): a class group moves as one underlying.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.expressions import Subject
from marginlex.engine.book.columns import moves_with
from marginlex.engine.kernels.grouping import categorical, group_by_set_and_label
from marginlex.engine.kernels.text import as_text
from marginlex.engine.phases.state import IntArray, RunState
from marginlex.engine.plan.context import Link, RowContext
from marginlex.engine.plan.expressions import mask


def moving_instrument(state: RunState) -> IntArray:
    """Per position row, the instrument row it moves with: an option's underlying, else its own."""
    pos = state.ctx.positions
    link = pos.links[1]
    inst = link.ctx.own[Subject.INSTRUMENT]
    return moves_with(inst["id"], inst["underlying"], inst["is_option"])[link.index]


def moving_context(state: RunState) -> RowContext:
    """The position context with each option's instrument fields read from its underlying."""
    pos = state.ctx.positions
    link = pos.links[1]
    return RowContext(
        pos.name, pos.n, pos.own, (pos.links[0], Link(link.ctx, moving_instrument(state)))
    )


def first_row(
    state: RunState, rows: IntArray, conditions: list[m.Expr | None], *, moving: bool = False
) -> IntArray:
    """Per position, the number of the first condition that holds (-1: none).

    With ``moving``, instrument fields are read from the instrument the position moves
    with (:func:`moving_instrument`).
    """
    ctx = moving_context(state) if moving else state.ctx.positions
    chosen = np.full(len(rows), -1, dtype=np.int64)
    for number, cond in enumerate(conditions):  # the rulebook's range rows, a handful
        hit = mask(cond, ctx, state.plan)[rows]
        chosen = np.where((chosen < 0) & hit, number, chosen)
    return chosen


def regrouped(class_group: pd.Series, grid: m.ScenarioGrid, chosen: IntArray) -> pd.Series:
    """Class groups after ``as class_group NAME`` range rows (Treasury maturity buckets)."""
    names = [r.class_group or "" for r in grid.ranges]
    if not any(names):
        return class_group
    unique = list(dict.fromkeys(names))
    codes = np.array([unique.index(n) for n in names])[chosen]  # range rows, not positions
    labels = pd.Series(categorical(codes, unique).astype("str"))
    renamed = np.isin(chosen, [i for i, n in enumerate(names) if n])
    return labels.where(renamed, as_text(class_group))


def first_row_per_group(frame: pd.DataFrame, chosen: IntArray) -> IntArray:
    """Per position, the first range row any position of its (set, class group) meets.

    Rows that meet no range row (-1) take their group's row when another position has one.
    """
    index = group_by_set_and_label(frame["margin_set"].to_numpy(), frame["class_group"])
    none = np.iinfo(np.int64).max
    first = np.full(index.size, none, dtype=np.int64)
    np.minimum.at(first, index.codes, np.where(chosen < 0, none, chosen))
    per_row = first[index.codes]
    return np.where(per_row == none, -1, per_row).astype(np.int64)
