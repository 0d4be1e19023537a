"""The impact preview's report: ``marginlex compare``'s result as the console's tables.

Totals per rulebook, the counts (who moves, calls created and removed), the accounts that
move most, and the attribution per statement; amounts in USD with cents.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import quote

from marginlex.console.render import Cell, Table, cell

if TYPE_CHECKING:
    from marginlex.engine.variants.attribution import Attribution
    from marginlex.engine.variants.compare import CompareResult, Comparison


def _usd(amount: float) -> Cell:
    return cell(Decimal(str(amount)).quantize(Decimal("0.01")))


def _totals(result: CompareResult) -> Table:
    table = Table(
        "totals",
        f"Totals on {result.book_name} (as of {result.as_of.isoformat()})",
        ("rulebook", "sets", "accounts decided", "calls", "requirement", "value", "call"),
        numeric=frozenset({"sets", "accounts decided", "calls", "requirement", "value", "call"}),
    )
    for t in result.totals:
        mark = " (base)" if t.rulebook_id == result.baseline else ""
        table.rows.append(
            (
                cell(t.rulebook_id + mark),
                cell(t.decisions),
                cell(t.accounts_decided),
                cell(t.calls),
                _usd(t.total_requirement),
                _usd(t.total_value),
                _usd(t.total_call),
            )
        )
    return table


_COUNTS = ("accounts", "changed", "better off", "worse off", "unchanged")
_CALLS = ("calls created", "calls removed")
_DELTAS = ("requirement delta", "value delta", "call delta")


def _counts(c: Comparison) -> Table:
    columns = (*_COUNTS, *_CALLS, *_DELTAS)
    table = Table("counts", f"{c.from_id} → {c.to_id}", columns, numeric=frozenset(columns))
    counts = (c.accounts_compared, c.changed, c.better_off, c.worse_off, c.unchanged)
    calls = (c.calls_created, c.calls_removed)
    deltas = (c.requirement_delta, c.value_delta, c.call_delta)
    table.rows.append((*map(cell, counts), *map(cell, calls), *map(_usd, deltas)))
    return table


def _movers(c: Comparison) -> Table:
    figures = ("requirement before", "requirement after", "requirement delta")
    more = ("value delta", "call delta")
    table = Table(
        "movers",
        "Who moves (largest changes; a set's figures on its anchor account)",
        ("account", "set before", "set after", *figures, *more),
        numeric=frozenset({*figures, *more}),
    )
    for m in c.largest_changes:
        amounts = (m.requirement_from, m.requirement_to, m.requirement_delta)
        table.rows.append(
            (
                cell(m.account_id, f"/accounts/{quote(m.account_id, safe='')}"),
                cell(m.margin_set_from),
                cell(m.margin_set_to),
                *map(_usd, (*amounts, m.value_delta, m.call_delta)),
            )
        )
    return table


def _attribution(a: Attribution | None) -> Table:
    columns = ("step", "statements switched", "requirement", "value", "call")
    table = Table(
        "attribution",
        "Attribution per statement (one switched at a time; they add up to the deltas)",
        columns,
        numeric=frozenset({"step", "requirement", "value", "call"}),
    )
    for i, s in enumerate(a.steps if a is not None else (), 1):
        table.rows.append((cell(i), cell(s.label), *map(_usd, (s.requirement, s.value, s.call))))
    return table


def report_tables(result: CompareResult) -> list[Table]:
    """The tables of the report, for the first (only) comparison with the base."""
    c = result.comparisons[0]
    return [_totals(result), _counts(c), _movers(c), _attribution(c.attribution)]
