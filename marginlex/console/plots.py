"""Plots as SVG drawn on the server (matplotlib, no pyplot state), each with the table of the
figures it draws, so that what the picture shows can be read and exported too."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from marginlex.audit.ledger.run_summaries import Distribution
from marginlex.console.render import Table, cell
from marginlex.printable import printable

# text.parse_math: a "$" in an account id or rule name is text, not the start of math
_RC: Any = {"svg.hashsalt": "marginlex", "svg.fonttype": "none", "text.parse_math": False}


def _svg(fig: Figure, tight: bool = True) -> str:
    """The figure as SVG; ``tight`` crops it to what it draws (a second drawing pass: a
    figure laid out with fixed margins is drawn once, in half the time).

    Every text drawn (title, legend, labels) has its control characters written out, as the
    pages write them: the SVG holds text as text, and an account id holding ESC made the
    plot an XML document no browser would draw."""
    out = io.StringIO()
    import matplotlib  # noqa: PLC0415
    from matplotlib.text import Text  # noqa: PLC0415

    for drawn in fig.findobj(Text):
        drawn.set_text(printable(drawn.get_text()))
    with matplotlib.rc_context(_RC):
        crop: dict[str, Any] = {"bbox_inches": "tight"} if tight else {}
        fig.savefig(out, format="svg", metadata={"Date": None}, **crop)
    return out.getvalue()


def histogram_table(name: str, title: str, binned: Distribution) -> Table:
    """The table beside a histogram: each bin's bounds and each rulebook's count in it.

    >>> from marginlex.audit.ledger.run_summaries import distribution
    >>> table = histogram_table("h", "Calls", distribution({"sec": [0.0, 10.0, 10.0]}, bins=2))
    >>> [[c.text for c in row] for row in table.rows]
    [['0.00', '5.00', '1'], ['5.00', '10.00', '2']]
    """
    labels = [label for label, _ in binned.counts]
    table = Table(name, title, ("from USD", "to USD", *labels), numeric=frozenset(labels))
    edges = binned.edges
    for i in range(len(edges) - 1):
        amounts = (cell(f"{edges[i]:.2f}"), cell(f"{edges[i + 1]:.2f}"))
        table.rows.append((*amounts, *(cell(found[i]) for _, found in binned.counts)))
    return table


def histogram_svg(title: str, binned: Distribution) -> str:
    """A histogram of binned amounts, one bar colour per rulebook, as SVG."""
    edges = np.asarray(binned.edges)
    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.subplots()
    width = (edges[1] - edges[0]) / max(1, len(binned.counts))
    for index, (label, found) in enumerate(binned.counts):
        ax.bar(edges[:-1] + index * width, found, width=width, align="edge", label=label)
    ax.set_title(title)
    ax.set_xlabel("USD")
    ax.set_ylabel("decisions")
    if binned.counts:
        ax.legend()
    fig.subplots_adjust(left=0.14, right=0.98, top=0.9, bottom=0.16)  # drawn once, not cropped
    return _svg(fig, tight=False)


def timeline(title: str, points: dict[str, list[tuple[datetime, float, float]]]) -> str:
    """Requirement (line) and call (dashed) over time, one colour per rulebook."""
    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.subplots()
    for label, rows in points.items():
        when: Any = [r[0] for r in rows]  # matplotlib plots datetimes on a date axis
        line = ax.plot(when, [r[1] for r in rows], marker="o", label=f"{label} requirement")
        ax.plot(
            when,
            [r[2] for r in rows],
            marker="x",
            linestyle="--",
            color=line[0].get_color(),
            label=f"{label} call",
        )
    ax.set_title(title)
    ax.set_ylabel("USD")
    ax.tick_params(axis="x", labelrotation=20)
    if points:
        ax.legend(fontsize="small")
    return _svg(fig)
