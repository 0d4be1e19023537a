"""The runs page (every run, newest first) and one run's page (summary, plots, calls)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from marginlex.audit.ledger.records import DecisionRow, StoredRun
from marginlex.audit.ledger.run_summaries import Distribution, RunSummary
from marginlex.audit.ledger.store import Ledger
from marginlex.console import queries as q
from marginlex.console.plots import histogram_svg, histogram_table
from marginlex.console.render import Table, cell, split_format, tables_or_page
from marginlex.console.state import ConsoleState, ledger_of, state_of
from marginlex.engine.outcomes import DecisionStatus

router = APIRouter()
LedgerDep = Annotated[Ledger, Depends(ledger_of)]
StateDep = Annotated[ConsoleState, Depends(state_of)]
PageNo = Annotated[int, Query(ge=1)]
TOP = 20


def _runs_table(runs: list[StoredRun]) -> Table:
    table = Table(
        "runs",
        "Runs, newest first",
        (
            "run",
            "recorded",
            "as of",
            "engine",
            "book sha256",
            "rulebooks",
            "decisions",
            "ok",
            "call",
            "breach",
            "out of scope",
        ),
        numeric=frozenset({"decisions", "ok", "call", "breach", "out of scope"}),
    )
    for run in runs:
        r, c = run.record, run.counts
        table.rows.append(
            (
                cell(r.run_id, f"/runs/{quote(r.run_id, safe='')}"),
                cell(r.created_at.isoformat()),
                cell(r.as_of),
                cell(r.engine_version),
                cell(r.book_sha256),
                cell(", ".join(ref.id for ref in r.rulebooks)),
                cell(c.decisions),
                cell(c.ok),
                cell(c.call),
                cell(c.breach),
                cell(r.out_of_scope),
            )
        )
    return table


@router.get("/runs")
@router.get("/runs.csv")
def runs_page(request: Request, ledger: LedgerDep, state: StateDep, page: PageNo = 1) -> Response:
    """Every run, newest first, 50 a page (the CSV holds every run)."""
    runs = q.runs_newest_first(ledger)
    start = (page - 1) * q.PAGE_SIZE
    shown = runs if request.url.path.endswith(".csv") else runs[start : start + q.PAGE_SIZE]
    return tables_or_page(
        request,
        [_runs_table(shown)],
        "runs.html.j2",
        number=page,
        total=len(runs),
        has_next=start + q.PAGE_SIZE < len(runs),
        verified=state.jobs.latest(),
        head=ledger.head(),
    )


def _summary(run_id: str, summary: RunSummary) -> Table:
    counts = ("decisions", "ok", "call", "breach")
    table = Table(
        "summary",
        "Per rulebook",
        ("rulebook", *counts, "requirement USD", "calls USD"),
        numeric=frozenset({*counts, "requirement USD", "calls USD"}),
    )
    for t in summary.rulebooks:
        listing = (
            f"/decisions?run={quote(run_id, safe='')}&rulebook={quote(t.rulebook_id, safe='')}"
        )
        table.rows.append(
            (
                cell(t.rulebook_id, listing),
                cell(t.decisions),
                *(cell(getattr(t, s.value)) for s in DecisionStatus),
                cell(f"{t.requirement_total:.2f}"),
                cell(f"{t.call_total:.2f}"),
            )
        )
    return table


def decision_href(run_id: str, decision_id: str) -> str:
    """The address of one recorded decision."""
    return f"/runs/{quote(run_id, safe='')}/decisions/{quote(decision_id, safe=':')}"


def decision_table(name: str, title: str, rows: list[DecisionRow]) -> Table:
    """Decisions as a table: each links to its page, each account to its history."""
    table = Table(
        name,
        title,
        (
            "entry",
            "run",
            "rulebook",
            "margin set",
            "accounts",
            "status",
            "requirement",
            "call",
            "hash",
            "decision",
        ),
        numeric=frozenset({"entry", "requirement", "call"}),
    )
    for r in rows:
        table.rows.append(
            (
                cell(r.seq),
                cell(r.run_id, f"/runs/{quote(r.run_id, safe='')}"),
                cell(r.rulebook_id),
                cell(r.margin_set_id, decision_href(r.run_id, r.decision_id)),
                cell(  # ";" as the CLI's CSV; one account links to its history
                    ";".join(r.account_ids),
                    f"/accounts/{quote(r.account_ids[0], safe='')}"
                    if len(r.account_ids) == 1
                    else None,
                ),
                cell(r.status.value, css=f"status-{r.status.value}"),
                cell(r.requirement),
                cell(r.call),
                cell(r.mismatch or "ok", css="fail" if r.mismatch else ""),
                cell(r.decision_id),
            )
        )
    return table


def _run_summary(state: ConsoleState, ledger: Ledger, run_id: str) -> RunSummary:
    """The run's summary (stored at record time; counted once here on an older ledger)."""
    return state.cached(("summary", run_id), lambda: q.run_summary(ledger, run_id))


def _failures(run_id: str, summary: RunSummary) -> Table:
    table = Table(
        "eligibility",
        "Eligibility failures by requirement",
        ("rulebook", "requirement", "decisions"),
        numeric=frozenset({"decisions"}),
    )
    for failed in summary.failures:
        rulebook, name = failed.rulebook_id, failed.requirement
        where = (
            f"/decisions?run={quote(run_id, safe='')}&rulebook={quote(rulebook, safe='')}"
            f"&failed={quote(name, safe='')}"
        )
        table.rows.append((cell(rulebook), cell(name, where), cell(failed.decisions)))
    return table


PLOTS = {
    "requirements": "Requirements (maintenance)",
    "calls": "Calls (decisions with a call)",
}


def _binned(summary: RunSummary, kind: str) -> Distribution:
    return summary.requirements if kind == "requirements" else summary.calls


def _plot_tables(summary: RunSummary) -> dict[str, Table]:
    """The table beside each plot (the plots themselves are drawn when their SVG is asked)."""
    return {
        kind: histogram_table(kind, title, _binned(summary, kind)) for kind, title in PLOTS.items()
    }


def _run_tables(ledger: Ledger, run_id: str, summary: RunSummary) -> list[Table]:
    """The run's summary, largest calls and breaches (a recorded run does not change)."""
    largest = ledger.query(run=run_id, call_above=Decimal(0), order=("-call",), limit=TOP)
    breaches = ledger.query(run=run_id, status=DecisionStatus.BREACH, limit=TOP * 5)
    return [
        _summary(run_id, summary),
        decision_table("largest_calls", f"The {TOP} largest calls", largest),
        decision_table("breaches", "Segregation breaches", breaches),
    ]


def _run_or_404(ledger: Ledger, run_id: str) -> StoredRun:
    run = q.find_run(ledger, run_id)
    if run is None:
        raise HTTPException(404, f"no run {run_id!r} in the ledger")
    return run


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: str, ledger: LedgerDep, state: StateDep) -> Response:
    """One run: per-rulebook summary, distributions, largest calls, breaches."""
    run_id, ending = split_format(run_id)
    run = _run_or_404(ledger, run_id)
    summary = _run_summary(state, ledger, run_id)
    plots = _plot_tables(summary)
    tables = [
        *state.cached(("run", run_id), lambda: _run_tables(ledger, run_id, summary)),
        *plots.values(),
    ]
    return tables_or_page(
        request, tables, "run.html.j2", ending, run=run, plots=plots, verified=state.jobs.latest()
    )


@router.get("/runs/{run_id}/eligibility")
@router.get("/runs/{run_id}/eligibility.csv")
def eligibility_page(request: Request, run_id: str, ledger: LedgerDep, state: StateDep) -> Response:
    """How many decisions of a run failed each eligibility requirement."""
    run = _run_or_404(ledger, run_id)
    summary = _run_summary(state, ledger, run_id)
    return tables_or_page(request, [_failures(run_id, summary)], "eligibility.html.j2", run=run)


@router.get("/runs/{run_id}/plots/{kind}.svg")
def run_plot(run_id: str, kind: str, ledger: LedgerDep, state: StateDep) -> Response:
    """A distribution of one run as SVG."""
    if q.find_run(ledger, run_id) is None:
        raise HTTPException(404, f"no run {run_id!r} in the ledger")
    if kind not in PLOTS:
        raise HTTPException(404, f"no plot {kind!r}: there are {', '.join(PLOTS)}")
    summary = _run_summary(state, ledger, run_id)
    svg = state.cached(
        ("plot", run_id, kind), lambda: histogram_svg(PLOTS[kind], _binned(summary, kind))
    )
    return Response(svg, media_type="image/svg+xml")
