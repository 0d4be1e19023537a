"""What differs between two recorded decisions: their inputs, their rulebooks, their figures.

Inputs are read from the traces (positions, prices, collateral lots, graph edges); the
rulebook difference is :func:`marginlex.dsl.diff.diff_rulebooks` of the two recorded bundles.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from marginlex.audit.explain.numbers import usd
from marginlex.audit.explain.tree import figure_rows
from marginlex.audit.ledger.recorded_inputs import load_bundle
from marginlex.audit.ledger.store import Ledger
from marginlex.audit.trace.model import DecisionTrace
from marginlex.audit.trace.steps import ClassGroupsOutput, CollateralOutput
from marginlex.dsl.diff import diff_rulebooks, render_diff


@dataclass(frozen=True)
class Moved:
    """One input or figure that is not the same in both decisions."""

    kind: str
    key: str
    before: str
    after: str


@dataclass
class Difference:
    """Everything that differs between decision A (before) and decision B (after)."""

    inputs: list[Moved] = field(default_factory=list)
    figures: list[Moved] = field(default_factory=list)
    rulebook: list[str] = field(default_factory=list)
    same_rulebook: bool = True


def _inputs(trace: DecisionTrace) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for step in trace.steps:
        out = step.output
        if isinstance(out, ClassGroupsOutput):
            for group in out.groups:
                for p in group.positions:
                    found["position", f"{p.account_id} {p.instrument_id}"] = f"{p.quantity:g}"
                    if p.price is not None:
                        found["price", p.instrument_id] = f"{p.price:g}"
                    if p.option is not None:  # an option moves with its underlying's price
                        found["underlying price", p.instrument_id] = (
                            f"{p.option.underlying_price:g}"
                        )
        elif isinstance(out, CollateralOutput):
            for lot in out.lots:
                found["collateral", f"{lot.lot_id} ({lot.account_id})"] = (
                    f"{lot.asset} {usd(lot.market_value)}"
                )
    for lot in trace.unscheduled_lots:  # in no step (schema 1.6): an input all the same
        found["collateral", f"{lot.lot_id} ({lot.account_id})"] = (
            f"{lot.asset} {usd(lot.market_value)}"
        )
    for e in trace.margin_set.edges:
        found["graph edge", f"{e.src} {e.relation.value} {e.dst}"] = "present"
    return found


def _moved(a: dict[tuple[str, str], str], b: dict[tuple[str, str], str]) -> Iterable[Moved]:
    for key in sorted(set(a) | set(b)):
        before, after = a.get(key, "(absent)"), b.get(key, "(absent)")
        if before != after:
            yield Moved(key[0], key[1], before, after)


def _figures(a: DecisionTrace, b: DecisionTrace) -> Iterable[Moved]:
    before = {n.value: amount for n, amount, _ in figure_rows(a)}
    for name, amount, _ in figure_rows(b):
        was = before.get(name.value, Decimal(0))
        if was != amount:
            delta = amount - was
            yield Moved(
                name.value, f"{'+' if delta > 0 else ''}{usd(delta)}", usd(was), usd(amount)
            )


def rulebook_lines(ledger: Ledger, a: DecisionTrace, b: DecisionTrace) -> list[str]:
    """The rulebook diff from A's recorded bundle to B's (as ``marginlex diff`` prints it)."""
    old_text, new_text = (ledger.rulebook_text(t.rulebook.sha256) for t in (a, b))
    if old_text is None or new_text is None:
        return ["(a rulebook text is not in the ledger: no diff)"]
    old, new = load_bundle(old_text), load_bundle(new_text)
    return render_diff(diff_rulebooks(old, new)).splitlines()


def difference(ledger: Ledger, a: DecisionTrace, b: DecisionTrace) -> Difference:
    """What moved from decision ``a`` to decision ``b``."""
    same = a.rulebook.sha256 == b.rulebook.sha256
    return Difference(
        inputs=list(_moved(_inputs(a), _inputs(b))),
        figures=list(_figures(a, b)),
        rulebook=[] if same else rulebook_lines(ledger, a, b),
        same_rulebook=same,
    )


def line_diff(before: list[str], after: list[str]) -> list[str]:
    """The lines that differ, ``-`` recorded and ``+`` replayed (no context lines).

    >>> line_diff(["a", "b"], ["a", "c"])
    ['- b', '+ c']
    """
    return [
        f"{line[0]} {line[1:]}"
        for line in difflib.unified_diff(before, after, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
