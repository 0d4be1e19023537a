"""Renderings of a stress run: JSON for tools, and one self-contained HTML page with SVG plots.

The page embeds its plots as inline SVG (matplotlib, Agg backend, no display), its styles
inline, and fetches nothing, so that it can be mailed as one file. Text is escaped.
"""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to memory only

import matplotlib.pyplot as plt
import numpy as np

from marginlex.engine.stress.impact import Impact, SetChange
from marginlex.engine.stress.run import StressResult
from marginlex.printable import printable

# Labels are ids and names from the book: a "$" in one is text, not the start of math
# (mathtext raised a ParseException on an account id "A08$\\frac{1}{0$").
matplotlib.rcParams["text.parse_math"] = False

_STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.2em .5em}"
    "td.n{text-align:right}h2{margin-top:2em}"
)


def stress_json(result: StressResult) -> dict[str, Any]:
    """The stress run as JSON-ready data (``marginlex stress --json``)."""
    return {
        "book": {"name": result.book_name, "sha256": result.book_sha256},
        "as_of": result.as_of.isoformat(),
        "scenarios": [
            {
                "name": s.name,
                "description": s.description,
                "shocks": [x.text() for x in s.shocks],
            }
            for s in result.scenarios
        ],
        "baselines": [b.model_dump(mode="json") for b in result.baselines],
        "impacts": [i.model_dump(mode="json") for i in result.impacts],
    }


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: no XML prolog or doctype


def _grouped_bars(result: StressResult, title: str, measure: str) -> str:
    names = [s.name for s in result.scenarios]
    ids = [b.rulebook_id for b in result.baselines]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    x = np.arange(len(names))
    width = 0.8 / max(len(ids), 1)
    for k, rid in enumerate(ids):
        values = [float(getattr(result.impact(n, rid), measure)) for n in names]
        ax.bar(x + (k - (len(ids) - 1) / 2) * width, values, width=width, label=rid)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x, names, rotation=15, ha="right")
    ax.set_title(title)
    ax.legend()
    return _svg(fig)


def _affected_plot(i: Impact) -> str:
    rows = list(i.most_affected)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.35 * max(len(rows), 3) + 1))
    ax.barh([r.margin_set_id for r in rows], [r.call_delta for r in rows], color="#c44e52")
    ax.set_xlabel("call delta (USD)")
    ax.set_title(f"{i.scenario} under {i.rulebook_id}: most affected margin sets")
    return _svg(fig)


def _row(cells: list[str], numeric_from: int = 1) -> str:
    tds = (
        f'<td class="n">{_escaped(c)}</td>' if k >= numeric_from else f"<td>{_escaped(c)}</td>"
        for k, c in enumerate(cells)
    )
    return "<tr>" + "".join(tds) + "</tr>"


def _table(header: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{_escaped(h)}</th>" for h in header)
    return f"<table><tr>{head}</tr>" + "".join(_row(r, numeric_from) for r in rows) + "</table>"


IMPACT_HEADER = [
    "scenario",
    "rulebook",
    "calls",
    "created",
    "grown",
    "cleared",
    "eligibility lost",
    "requirement delta",
    "call delta",
    "total call",
]


def impact_row(i: Impact) -> list[str]:
    """One impact as the cells of :data:`IMPACT_HEADER` (shared with the text table)."""
    return [
        i.scenario,
        i.rulebook_id,
        str(i.totals.calls),
        str(i.calls_created),
        str(i.calls_grown),
        str(i.calls_cleared),
        str(len(i.eligibility_lost)),
        f"{i.requirement_delta:,.2f}",
        f"{i.call_delta:,.2f}",
        f"{i.totals.total_call:,.2f}",
    ]


AFFECTED_HEADER = ["margin set", "accounts", "requirement", "call before", "call under", "eligible"]


def affected_row(r: SetChange) -> list[str]:
    """One most-affected set as the cells of :data:`AFFECTED_HEADER`."""
    eligible = {(True, True): "yes", (False, False): "no", (True, False): "lost"}
    return [
        r.margin_set_id,
        ";".join(r.account_ids),
        f"{r.requirement_from:,.2f} -> {r.requirement_to:,.2f}",
        f"{r.call_from:,.2f}",
        f"{r.call_to:,.2f}",
        eligible.get((r.eligible_from, r.eligible_to), "gained"),
    ]


def _summary(result: StressResult) -> list[str]:
    """The scenarios, the baseline and the impact tables."""
    baseline = [
        [
            b.rulebook_id,
            str(b.totals.margin_sets),
            str(b.totals.calls),
            f"{b.totals.total_requirement:,.2f}",
            f"{b.totals.total_call:,.2f}",
        ]
        for b in result.baselines
    ]
    scenarios = [
        [s.name, " ".join(x.text() for x in s.shocks), s.description] for s in result.scenarios
    ]
    return [
        "<h2>Scenarios</h2>",
        _table(["scenario", "shocks", "description"], scenarios, numeric_from=3),
        "<h2>Baseline</h2>",
        _table(["rulebook", "sets", "calls", "total requirement", "total call"], baseline),
        "<h2>Impact</h2>",
        _table(IMPACT_HEADER, [impact_row(i) for i in result.impacts], numeric_from=2),
    ]


def _affected(result: StressResult) -> list[str]:
    """Per scenario and rulebook, a plot and a table of the most affected sets."""
    parts = ["<h2>Most affected margin sets</h2>"]
    for i in result.impacts:  # one plot and table per scenario and rulebook
        if any(r.call_delta for r in i.most_affected):
            parts.append(_affected_plot(i))
        if i.most_affected:
            parts.append(f"<h3>{_escaped(i.scenario)} under {_escaped(i.rulebook_id)}</h3>")
            parts.append(_table(AFFECTED_HEADER, [affected_row(r) for r in i.most_affected], 2))
    return parts


def render_html(result: StressResult) -> str:
    """The stress report as one HTML page."""
    parts = [
        f"<h1>Stress of {_escaped(result.book_name)} as of {result.as_of.isoformat()}</h1>",
        f"<p>book sha256 <code>{result.book_sha256}</code></p>",
        *_summary(result),
        _grouped_bars(result, "Call delta by scenario (USD)", "call_delta"),
        _grouped_bars(result, "Calls created by scenario", "calls_created"),
        *_affected(result),
    ]
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>marginlex stress: {_escaped(result.book_name)}</title>"
        f"<style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


def write_report(result: StressResult, path: Path) -> Path:
    """Write :func:`render_html` to ``path``."""
    path.write_text(render_html(result), encoding="utf-8")
    return path


def _escaped(text: str) -> str:
    """Text from a book or a scenario file as the page shows it: markup escaped, control and
    bidirectional characters written out (:func:`marginlex.printable.printable`)."""
    return html.escape(printable(text))
