"""Explain a decision as one self-contained HTML page (inline CSS, no external assets)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jinja2

from marginlex.audit.explain.amounts import add_on_text
from marginlex.audit.explain.entry import entry_fields
from marginlex.audit.explain.numbers import pct, usd
from marginlex.audit.explain.tree import build_tree, figure_rows
from marginlex.audit.trace.model import DecisionTrace
from marginlex.audit.trace.steps import ClassGroupsOutput, CollateralOutput
from marginlex.printable import visible

if TYPE_CHECKING:
    from marginlex.audit.ledger.records import StoredDecision

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("marginlex.audit.explain", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    finalize=visible,  # a book's control and bidirectional characters written out
)


def render_html(trace: DecisionTrace, entry: StoredDecision | None = None) -> str:
    """The decision as an HTML page: figures, the explanation tree, every scenario and lot.

    With ``entry``, the page names the ledger entry: run, sequence, recorded time and hash.
    """
    figures = [(n.value, usd(a), src) for n, a, src in figure_rows(trace)]
    groups = [
        (step, group)
        for step in trace.steps
        if isinstance(step.output, ClassGroupsOutput)
        for group in step.output.groups
    ]
    collateral = [
        (step, step.output.lots)
        for step in trace.steps
        if isinstance(step.output, CollateralOutput)
    ]
    template = _ENV.get_template("explain.html.j2")
    return template.render(
        trace=trace,
        entry=None if entry is None else entry_fields(entry),
        f=trace.figures,
        figures=figures,
        tree=build_tree(trace),
        groups=groups,
        collateral=collateral,
        usd=usd,
        pct=pct,
        add_on_text=add_on_text,
    )
