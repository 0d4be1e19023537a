"""Verify: the chain's head and counts; a full verify (or ``--replay``) started from the page
runs in the background, shows its progress, and its result is kept with its time."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from marginlex.audit.ledger.store import Ledger
from marginlex.console.render import Table, bounded_body, cell, page, tables_or_page
from marginlex.console.state import ConsoleState, ledger_of, state_of
from marginlex.console.verify_jobs import VerifyJob

router = APIRouter()
LedgerDep = Annotated[Ledger, Depends(ledger_of)]
StateDep = Annotated[ConsoleState, Depends(state_of)]
MAX_VERIFY_FORM_BYTES = 1024
"""The largest body ``POST /verify`` reads (its form is one field): a 300 MB body was read
whole, and the console's memory rose by 600 MB before it answered."""


def _verdict(job: VerifyJob) -> str:
    if job.running:
        return f"running ({job.percent}%)"
    if job.error:
        return f"failed: {job.error}"
    report = job.report
    if report is None or not report.ok:
        return "NOT VERIFIED"
    return "verified"


def _jobs_table(jobs: list[VerifyJob]) -> Table:
    table = Table(
        "verifies",
        "Verifies started here",
        ("job", "replay", "started", "finished", "entries", "result"),
        numeric=frozenset({"entries"}),
    )
    for j in jobs:
        table.rows.append(
            (
                cell(j.job_id, f"/verify/jobs/{j.job_id}"),
                cell("yes" if j.replay else "no"),
                cell(j.started_at.isoformat()),
                cell(j.finished_at.isoformat() if j.finished_at else None),
                cell(j.entries),
                cell(_verdict(j), css="" if _verdict(j) in {"verified"} else "fail"),
            )
        )
    return table


@router.get("/verify")
@router.get("/verify.csv")
def verify_page(request: Request, ledger: LedgerDep, state: StateDep) -> Response:
    """Chain status, head and counts, and the verifies started from this console."""
    seq, head = ledger.head()
    return tables_or_page(
        request,
        [_jobs_table(state.jobs.newest_first())],
        "verify.html.j2",
        seq=seq,
        head=head,
        runs=len(ledger.runs()),
        latest=state.jobs.latest(),
        location=state.shown,
    )


@router.post("/verify")
async def start_verify(request: Request, ledger: LedgerDep, state: StateDep) -> Response:
    """Start a verify (``replay=true`` in the form: with replay) and go to its page."""
    body = await bounded_body(request, MAX_VERIFY_FORM_BYTES, "the verify form is `replay=true`")
    form = parse_qs(body.decode("utf-8", "replace"))
    job = state.jobs.start(ledger, replay=form.get("replay", [""])[0] == "true")
    return RedirectResponse(f"/verify/jobs/{job.job_id}", status_code=303)


@router.get("/verify/jobs/{job_id}")
def job_page(request: Request, job_id: int, state: StateDep) -> Response:
    """One verify: progress while it runs (the page reloads itself), then its report."""
    job = state.jobs.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no verify #{job_id} was started since the console started")
    # one reading of the job: read twice, it could finish between the title ("running") and
    # the page (no more reloads), which then said "running" for ever
    job = replace(job)
    return page(request, "verify_job.html.j2", job=job, verdict=_verdict(job))
