"""Account (or margin set) history: its decisions across runs, plotted, and what moved between
any two of them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from marginlex.audit.ledger.records import DecisionRow
from marginlex.audit.ledger.store import Ledger
from marginlex.console.compare import difference
from marginlex.console.pages.runs import decision_table
from marginlex.console.plots import timeline
from marginlex.console.render import split_format, tables_or_page
from marginlex.console.state import ledger_of

router = APIRouter()
LedgerDep = Annotated[Ledger, Depends(ledger_of)]
HISTORY_LIMIT = 1000


@router.get("/accounts")
def account_jump(account: str | None = None) -> Response:
    """The history form's target: the account's own address."""
    if account is None or not account.strip():
        raise HTTPException(400, "no account given: type an account id in the History box")
    return RedirectResponse(f"/accounts/{quote(account.strip(), safe='')}", status_code=303)


def _history(ledger: Ledger, account: str | None, margin_set: str | None) -> list[DecisionRow]:
    return ledger.query(account=account, margin_set=margin_set, limit=HISTORY_LIMIT)


def _recorded(ledger: Ledger) -> dict[str, datetime]:
    return {r.record.run_id: r.record.created_at for r in ledger.runs()}


def _ids(kind: str, ident: str) -> tuple[str | None, str | None]:
    """``(account, margin_set)`` of a history page."""
    return (ident, None) if kind == "account" else (None, ident)


def _page(request: Request, ledger: Ledger, kind: str, ident: str) -> Response:
    raw = ident
    ident, ending = split_format(raw)
    if ending is not None and _history(ledger, *_ids(kind, raw)):
        ident, ending = raw, ""  # an id that itself ends in .csv: its page (its CSV: ?format=)
    account, margin_set = _ids(kind, ident)
    rows = _history(ledger, account, margin_set)
    if not rows:
        raise HTTPException(404, f"no decision for {kind} {ident!r} in the ledger")
    chosen = _chosen(request, ledger, rows)
    plot = f"/plots/history.svg?{kind}={quote(ident, safe='')}"
    table = decision_table("history", f"Decisions for {kind} {ident}", rows)
    return tables_or_page(
        request,
        [table],
        "history.html.j2",
        ending,
        kind=kind,
        ident=ident,
        rows=rows,
        plot=plot,
        chosen=chosen,
        recorded=_recorded(ledger),
    )


def _chosen(request: Request, ledger: Ledger, rows: list[DecisionRow]) -> object:
    """The two decisions picked for comparison (``?a=SEQ&b=SEQ``) and what differs."""
    a, b = request.query_params.get("a"), request.query_params.get("b")
    if not a or not b:
        return None
    by_seq = {str(r.seq): r for r in rows}
    if a not in by_seq or b not in by_seq:
        raise HTTPException(404, "compare two entries of this history (a=SEQ&b=SEQ)")
    left = ledger.get_decision(by_seq[a].decision_id, by_seq[a].run_id)
    right = ledger.get_decision(by_seq[b].decision_id, by_seq[b].run_id)
    return (left, right, difference(ledger, left.trace, right.trace))


@router.get("/accounts/{account_id:path}")
def account_page(request: Request, account_id: str, ledger: LedgerDep) -> Response:
    """Every decision of one account across runs (``?a=&b=`` compares two of them)."""
    return _page(request, ledger, "account", account_id)


@router.get("/margin-sets/{margin_set_id:path}")
def margin_set_page(request: Request, margin_set_id: str, ledger: LedgerDep) -> Response:
    """Every decision of one margin set across runs."""
    return _page(request, ledger, "margin_set", margin_set_id)


@router.get("/plots/history.svg")
def history_plot(
    ledger: LedgerDep, account: str | None = None, margin_set: str | None = None
) -> Response:
    """Requirement and call over time for an account or a margin set, per rulebook."""
    rows = _history(ledger, account, margin_set)
    if not rows or (account is None) == (margin_set is None):
        raise HTTPException(404, "name one account or one margin set that has decisions")
    when = _recorded(ledger)
    points: dict[str, list[tuple[datetime, float, float]]] = {}
    for r in rows:
        if r.run_id in when:
            series = points.setdefault(f"{r.rulebook_id} {r.margin_set_id}", [])
            series.append((when[r.run_id], float(r.requirement), float(r.call)))
    title = f"{'Account' if account else 'Margin set'} {account or margin_set}"
    return Response(timeline(title, points), media_type="image/svg+xml")
