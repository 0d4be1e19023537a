"""Commands of the run group: ``marginlex run``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from marginlex.dsl.diagnostics import RulebookError
from marginlex.engine.book import Book
from marginlex.engine.compile import CompileError
from marginlex.engine.context import EvaluationError
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.graph import AccountGraph
from marginlex.engine.problems import BookError
from marginlex.engine.run import (
    DEFAULT_RULEBOOKS,
    resolve_book,
    run_rulebook,
    write_evaluation,
)

_out = Console(highlight=False)
if not _out.is_terminal:  # pipes and CI logs: wide enough for the decision table
    _out = Console(highlight=False, width=170)
_err = Console(stderr=True, highlight=False)
SMALL_BOOK_SETS = 50
LONG_RUN_POSITIONS = 20_000

_BOOK = typer.Argument(None, help="A book folder; without it, the embedded demo book.")
_RULEBOOK = typer.Option(
    None,
    "--rulebook",
    "-r",
    help="Rulebook id or .mlx path; repeat for several (default: sec, cftc, harmonized).",
)
_AS_OF = typer.Option(None, "--as-of", help="As-of date YYYY-MM-DD (default: the book's).")
_JSON = typer.Option(False, "--json", help="Print every decision as JSON on stdout.")
_OUT = typer.Option(None, "--out", help="Write decisions and trace frames as Parquet here.")


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _first(joined: str) -> str:
    """``a;b;c`` as ``a +2``: the table stays readable, --json has the full list."""
    parts = [p for p in joined.split(";") if p]
    return parts[0] + (f" +{len(parts) - 1}" if len(parts) > 1 else "") if parts else ""


def _summary_table(results: list[Evaluation]) -> Table:
    table = Table(title="Margin decisions by rulebook")
    for name in (
        "rulebook",
        "sets decided",
        "out of scope",
        "eligible",
        "calls",
        "total requirement",
        "total call",
        "segregation breaches",
    ):
        table.add_column(name, justify="left" if name == "rulebook" else "right")
    for ev in results:
        s = ev.summary()
        table.add_row(
            s.rulebook_id,
            str(s.margin_sets),
            str(s.out_of_scope),
            str(s.eligible),
            str(s.calls),
            _money(s.total_requirement),
            _money(s.total_call),
            str(s.segregation_breaches),
        )
    return table


def _decision_table(ev: Evaluation) -> Table:
    table = Table(title=f"{ev.rulebook_id}: {ev.plan.title} (as of {ev.as_of.isoformat()})")
    for name in (
        "margin set",
        "eligible",
        "method",
        "requirement",
        "initial",
        "value",
        "excess",
        "call",
        "status",
    ):
        table.add_column(
            name,
            justify="left" if name in ("margin set", "eligible", "method", "status") else "right",
        )
    rows: list[dict[str, Any]] = ev.decisions.to_dict("records")  # type: ignore[assignment]
    for row in rows:  # rendering at most 50 rows
        initial = "" if row["initial"] != row["initial"] else _money(row["initial"])
        failed = "" if row["eligible"] else f" ({_first(row['failed_requirements'])})"
        status = row["status"] + (
            f": {_first(row['segregation_violations'])}" if row["segregation_violations"] else ""
        )
        table.add_row(
            row["account_ids"].replace(";", " + "),
            ("yes" if row["eligible"] else "no") + failed,
            row["method_rule_id"],
            _money(row["maintenance"]),
            initial,
            _money(row["value"]),
            _money(row["excess"]),
            _money(row["call"]),
            status,
        )
    return table


def _evaluate_all(book: Book, rulebooks: list[str], as_of: dt.date | None) -> list[Evaluation]:
    graph = AccountGraph(book)
    results: list[Evaluation] = []
    show = len(book.positions) >= LONG_RUN_POSITIONS
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=_err, disable=not show, transient=True) as progress:
        task = progress.add_task("evaluating", total=len(rulebooks))
        for name in rulebooks:  # a handful of rulebooks
            progress.update(task, description=f"evaluating {name}")
            results.append(run_rulebook(name, book, as_of, graph))
            progress.advance(task)
    return results


def _run_or_exit(book: Path | None, names: list[str], as_of: str | None) -> list[Evaluation]:
    """Load the book and evaluate every rulebook; print the problems and exit 1 on failure."""
    try:
        day = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        _err.print(f"error: --as-of {as_of!r} is not a date: write YYYY-MM-DD", markup=False)
        raise typer.Exit(1) from None
    try:
        return _evaluate_all(resolve_book(book), names, day)
    except BookError as exc:
        lines = [problem.render() for problem in exc.problems]
    except RulebookError as exc:
        lines = [diagnostic.render() for diagnostic in exc.diagnostics]
    except (CompileError, EvaluationError, ValueError) as exc:
        lines = [f"error: {exc}"]
    for line in lines:
        _err.print(line, markup=False)
    raise typer.Exit(1)


def _json(results: list[Evaluation]) -> str:
    doc = {
        ev.rulebook_id: {
            "as_of": ev.as_of.isoformat(),
            "book": ev.book_name,
            "book_sha256": ev.book_sha256,
            "summary": ev.summary().model_dump(),
            "decisions": ev.records(),
        }
        for ev in results
    }
    return json.dumps(doc, indent=2)


def run(
    book: Path | None = _BOOK,
    rulebook: list[str] | None = _RULEBOOK,
    as_of: str | None = _AS_OF,
    as_json: bool = _JSON,
    out: Path | None = _OUT,
) -> None:
    """Decide every margin set of a book under one or more rulebooks.

    Prints a summary per rulebook and, for small books (at most 50 margin sets), every
    decision; with --json, every decision as JSON on stdout instead. Exit code 0 when
    every rulebook ran, 1 on a bad book, rulebook or date.
    """
    results = _run_or_exit(book, list(rulebook or DEFAULT_RULEBOOKS), as_of)
    for ev in results:
        skipped = ", ".join(s.rule_id for s in ev.plan.skipped)
        if skipped:
            _err.print(
                f"{ev.rulebook_id}: not in force on {ev.as_of.isoformat()}, skipped: {skipped}",
                markup=False,
            )
        if out is not None:
            _err.print(f"wrote {write_evaluation(ev, out)}", markup=False)
    if as_json:
        typer.echo(_json(results))
        return
    for ev in results:
        if len(ev.decisions) <= SMALL_BOOK_SETS:
            _out.print(_decision_table(ev))
    _out.print(_summary_table(results))


def register(app: typer.Typer) -> None:
    """Add this group's commands to the marginlex app."""
    app.command("run")(run)
