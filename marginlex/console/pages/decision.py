"""One decision: its explain tree (collapsible, each line cited), replay, the other rulebooks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from marginlex.audit.explain.numbers import usd
from marginlex.audit.explain.tree import figure_rows
from marginlex.audit.ledger.records import StoredDecision
from marginlex.audit.ledger.store import Ledger
from marginlex.console.pages.runs import decision_href
from marginlex.console.render import Table, cell, split_format, tables_or_page
from marginlex.console.replay_one import replay_decision
from marginlex.console.security import cross_site
from marginlex.console.state import ledger_of
from marginlex.console.trees import explain_lines, first_parting, flat_lines

router = APIRouter()


@dataclass(frozen=True)
class Beside:
    """The same margin set under another rulebook of the run, and where the two part."""

    stored: StoredDecision
    href: str
    rows: list[tuple[str, str]]
    parting: int | None


def _beside(ledger: Ledger, stored: StoredDecision) -> list[Beside]:
    row = stored.row
    others = ledger.query(run=row.run_id, margin_set=row.margin_set_id)
    mine = flat_lines(stored.trace)
    found = []
    for other in others:
        if other.decision_id == row.decision_id:
            continue
        theirs_stored = ledger.get_decision(other.decision_id, other.run_id)
        theirs = flat_lines(theirs_stored.trace)
        width = max(len(mine), len(theirs))
        rows = [
            (mine[i] if i < len(mine) else "", theirs[i] if i < len(theirs) else "")
            for i in range(width)
        ]
        href = decision_href(other.run_id, other.decision_id)
        found.append(Beside(theirs_stored, href, rows, first_parting(mine, theirs)))
    return found


def _figures(stored: StoredDecision) -> Table:
    table = Table(
        "figures", "Figures", ("figure", "USD", "rule and citation"), numeric=frozenset({"USD"})
    )
    for name, amount, source in figure_rows(stored.trace):
        table.rows.append((cell(name.value), cell(usd(amount)), cell(source)))
    return table


@router.get("/runs/{run_id}/decisions/{decision_id:path}")
def decision_page(
    request: Request,
    run_id: str,
    decision_id: str,
    ledger: Annotated[Ledger, Depends(ledger_of)],
    replay: bool = False,
) -> Response:
    """The decision read top-down; ``?replay=1`` re-evaluates it and shows the outcome.

    A replay costs a run of one rulebook on the recorded book, so another site's page may
    not ask for one (an image or a link there would spend this machine's CPU at will): it
    is answered as a post from another site is (403)."""
    if replay and cross_site(request):
        return PlainTextResponse(
            "403: a page of another site cannot ask this console to replay a decision; "
            "open the decision here and press its Replay button",
            status_code=403,
        )
    decision_id, ending = split_format(decision_id)
    stored = ledger.get_decision(decision_id, run_id)  # DecisionNotFoundError: the 404 page
    if stored.row.decision_id != decision_id:  # found by its RULEBOOK:MARGIN_SET alias
        decision_id = stored.row.decision_id
    outcome = replay_decision(ledger, stored) if replay else None
    return tables_or_page(
        request,
        [_figures(stored)],
        "decision.html.j2",
        ending,
        stored=stored,
        trace=stored.trace,
        tree=explain_lines(stored.trace),
        outcome=outcome,
        beside=[] if ending else _beside(ledger, stored),
        here=decision_href(run_id, decision_id),
    )
