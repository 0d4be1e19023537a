"""The HTML report of a comparison: one self-contained page (``marginlex compare --report``).

Plots are drawn with matplotlib (Agg backend, no display needed) and embedded as base64 PNG
``data:`` URIs, the styles are inline, and nothing is fetched, so that the page can be
mailed or attached to a consultation response as one file. The template is package data
(``engine/variants/templates/compare_report.html.j2``).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import jinja2
import matplotlib

matplotlib.use("Agg")  # no display: render to memory only

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter

from marginlex.engine.variants.compare import CompareResult, Comparison
from marginlex.engine.variants.compare_json import ALLOCATION
from marginlex.engine.variants.figures import MEASURES, moved_accounts
from marginlex.printable import visible

# Labels are ids and names from the book: a "$" in one is text, not the start of math
# (mathtext raised a ParseException on an account id "A08$\\frac{1}{0$").
matplotlib.rcParams["text.parse_math"] = False

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("marginlex.engine.variants", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
    finalize=visible,  # a book's control and bidirectional characters written out
)
_SETS_SHOWN = 200


def short_usd(amount: float, _position: object = None) -> str:
    """An axis label in readable units: thousands, millions, billions (never ``1e7``).

    >>> [short_usd(x) for x in (0, 950, -12_500, 3_400_000, 1.37e9)]
    ['$0', '$950', '-$12.5K', '$3.4M', '$1.37B']
    """
    sign, size = ("-" if amount < 0 else ""), abs(amount)
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if size >= scale:
            return f"{sign}${size / scale:.3g}{unit}"
    return f"{sign}${size:.3g}" if size else "$0"


def _usd_axis(axis: Any) -> None:
    axis.set_major_formatter(FuncFormatter(short_usd))


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _totals_plot(result: CompareResult) -> str:
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ids = [t.rulebook_id for t in result.totals]
    x = np.arange(len(ids))
    for offset, (label, values) in zip(
        (-0.27, 0, 0.27),
        (
            ("requirement", [t.total_requirement for t in result.totals]),
            ("call", [t.total_call for t in result.totals]),
            ("value / 10", [t.total_value / 10 for t in result.totals]),
        ),
        strict=True,
    ):
        ax.bar(x + offset, values, width=0.27, label=label)
    ax.set_xticks(x, ids, rotation=15, ha="right")
    ax.set_ylabel("USD")
    _usd_axis(ax.yaxis)
    ax.set_title("Requirement, call and value by rulebook")
    ax.legend()
    return _png(fig)


def delta_figure(result: CompareResult, c: Comparison) -> Any:
    """Histograms of the requirement, value and call deltas of the accounts that changed.

    The accounts are those the head table counts as ``changed`` (decided under both, one of
    the three figures moved), so that the plot and the table agree.
    """
    paired = result.account_deltas(c.to_id)
    both = paired[paired["decided_a"] & paired["decided_b"]]
    moved = both[moved_accounts(both)]
    fig, axes = plt.subplots(len(MEASURES), 1, figsize=(7, 6.3), sharex=False)
    for ax, measure in zip(axes, MEASURES, strict=True):
        deltas = moved[f"{measure}_delta"].to_numpy() / 100.0
        deltas = deltas[deltas != 0]
        if len(deltas):
            ax.hist(deltas, bins=min(40, max(5, len(deltas) // 5)), color="#4c72b0")
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(f"{measure}: {len(deltas)} account(s) moved", fontsize=9)
        ax.set_ylabel("accounts")
        _usd_axis(ax.xaxis)
    axes[-1].set_xlabel("delta per account (USD)")
    fig.suptitle(f"{c.from_id} -> {c.to_id}: {c.changed} account(s) changed")
    fig.tight_layout()
    return fig


def _movers_plot(c: Comparison) -> str:
    movers = list(c.largest_changes)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.35 * max(len(movers), 3) + 1))
    values = [m.excess_delta for m in movers]
    ax.barh(
        [m.account_id for m in movers],
        values,
        color=["#55a868" if v > 0 else "#c44e52" for v in values],
    )
    ax.axvline(0, color="black", linewidth=0.8)
    _usd_axis(ax.xaxis)
    ax.set_xlabel("change in excess (USD; green: better off)")
    ax.set_title(f"Top movers, {c.from_id} -> {c.to_id}")
    return _png(fig)


def _steps_plot(c: Comparison) -> str | None:
    if c.attribution is None:
        return None
    steps = [s for s in c.attribution.steps if s.requirement or s.value or s.call]
    if not steps:
        return None
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(steps) + 1))
    labels = [s.label for s in steps][::-1]
    ax.barh(labels, [s.requirement for s in steps][::-1], color="#4c72b0")
    ax.axvline(0, color="black", linewidth=0.8)
    _usd_axis(ax.xaxis)
    ax.set_xlabel("contribution to the total requirement delta (USD)")
    ax.set_title("Attribution by rule")
    return _png(fig)


def render_report(result: CompareResult) -> str:
    """The report as one HTML string."""
    sections = [
        {
            "c": c,
            "deltas": _png(delta_figure(result, c)),
            "movers": _movers_plot(c) if c.largest_changes else None,
            "steps": _steps_plot(c),
        }
        for c in result.comparisons
    ]
    sets = result.sets.head(_SETS_SHOWN).to_dict("records") if not result.sets.empty else []
    return _ENV.get_template("compare_report.html.j2").render(
        result=result,
        totals_plot=_totals_plot(result),
        sections=sections,
        allocation=ALLOCATION,
        sets=sets,
        sets_total=len(result.sets),
        sets_shown=_SETS_SHOWN,
    )


def write_report(result: CompareResult, path: str | Path) -> Path:
    """Write the report to ``path`` (UTF-8) and return the path."""
    out = Path(path)
    out.write_text(render_report(result), encoding="utf-8")
    return out
