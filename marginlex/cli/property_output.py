"""``marginlex test`` output of the ``[[property]]`` laws: one line each, and on a failure the
law's message, the shrunk book as CSV and the two decisions' traces."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from marginlex.engine.variants.properties import PropertyResult

_MARK = {
    "pass": "[green]PASS[/green]",
    "expected failure": "[yellow]XFAIL[/yellow]",
    "fail": "[red]FAIL[/red]",
    "unexpected pass": "[red]XPASS[/red]",
    "error": "[red]ERROR[/red]",
}


def print_properties(out: Console, results: tuple[PropertyResult, ...]) -> None:
    """Each property with its outcome; details for failures (expected ones shortened)."""
    if not results:
        return
    out.print("")
    for r in results:
        tail = f" ({r.examples} books)"
        what = escape(f"property {r.rulebook} {r.name}{tail}")
        out.print(f"{_MARK[r.outcome]} {what}", markup=True, highlight=False)
        if r.error:
            out.print(f"     {r.error}", markup=False)
        if r.outcome == "unexpected pass":
            out.print("     marked expected_to_fail but held: remove the mark", markup=False)
        if r.violation is None:
            continue
        if r.expected_to_fail:
            out.print(f"     known finding: {r.reason}", markup=False)
        out.print(f"     {r.violation.message}", markup=False)
        out.print(f"     smallest book found: {r.book}", markup=False)
        if r.expected_to_fail:
            continue
        out.print(r.violation.book_csv, markup=False, soft_wrap=True)
        for trace in r.violation.traces:
            out.print(trace, markup=False, soft_wrap=True)
    bad = sum(not r.ok for r in results)
    known = sum(r.outcome == "expected failure" for r in results)
    out.print(
        f"properties: {len(results) - bad - known} held, {known} failed as expected "
        f"(known findings), {bad} failed"
    )
