"""The decisions page: a server-side filtered, sorted, paginated listing; CSV and JSON too."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from marginlex.audit.ledger.store import Ledger
from marginlex.console import queries as q
from marginlex.console.pages.runs import decision_table
from marginlex.console.render import csv_response, page, wanted_format
from marginlex.console.state import ledger_of
from marginlex.engine.outcomes import DecisionStatus
from marginlex.printable import unprintable

router = APIRouter()
E = TypeVar("E", bound=Enum)
EXPORT_LIMIT = 100_000
"""At most this many decisions in one export of a filtered view."""


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def read_filter(request: Request) -> q.DecisionFilter:
    """The filter from the address (empty fields are no filter; bad ones a 400 page)."""
    # a value the page showed with its unsafe characters written out (``\u202e``) and sent
    # back by the form is the id it was
    p = {k: unprintable(b) for k, v in request.query_params.items() if (b := _blank(v)) is not None}
    try:
        call_above = Decimal(p["call_above"].replace(",", "")) if "call_above" in p else None
    except InvalidOperation:
        call_above = Decimal("NaN")
    if call_above is not None and not call_above.is_finite():
        shown = p["call_above"][:40]
        raise HTTPException(400, f"bad filter: call_above {shown!r} is not an amount (e.g. 1000)")
    status = _one_of(DecisionStatus, p.get("status"), "status")
    sort = _one_of(q.DecisionSort, p.get("sort", q.DecisionSort.CHAIN.value), "sort")
    return q.DecisionFilter(
        run=p.get("run"),
        account=p.get("account"),
        margin_set=p.get("margin_set"),
        rulebook=p.get("rulebook"),
        status=status,
        call_above=call_above,
        failed=p.get("failed"),
        rule=p.get("rule"),
        sort=sort,
    )


def _one_of(kind: type[E], value: str | None, name: str) -> E | None:
    """``value`` as a member of ``kind``, or a 400 naming the members."""
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        members = ", ".join(str(k.value) for k in kind)
        raise HTTPException(
            400, f"bad filter: {name} {value[:40]!r} is none of {members}"
        ) from None


@router.get("/decisions")
@router.get("/decisions.csv")
@router.get("/decisions.json")
def decisions_page(
    request: Request,
    ledger: Annotated[Ledger, Depends(ledger_of)],
    where: Annotated[q.DecisionFilter, Depends(read_filter)],
    page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
) -> Response:
    """Decisions matching the filter, a page at a time; exports hold the whole filtered view."""
    fmt = wanted_format(request, offered=("html", "csv", "json"))
    unknown = ledger.unknown_filter(where.run, where.rulebook, where.account)
    if unknown is not None:  # an empty page would read as "no such decision"
        raise HTTPException(404, unknown)
    if fmt in {"csv", "json"}:
        found = q.find_decisions(ledger, where, 1, EXPORT_LIMIT)
        if fmt == "json":
            body = [r.json_row() for r in found.rows]  # as `marginlex ledger -f json`
            return Response(json.dumps(body, indent=1), media_type="application/json")
        return csv_response(decision_table("decisions", "Decisions", found.rows))
    found = q.find_decisions(ledger, where, page_no)
    if page_no > 1 and not found.rows:  # past the last page: not an empty one with a "back"
        last = (
            "" if found.total is None else f": the last is {max(1, -(-found.total // found.size))}"
        )
        raise HTTPException(404, f"no page {page_no} of these decisions{last}")
    return page(
        request,
        "decisions.html.j2",
        where=where,
        found=found,
        listing=decision_table("decisions", "Decisions", found.rows),
        statuses=[s.value for s in DecisionStatus],
        sorts=list(q.DecisionSort),
        rulebooks=sorted({ref.id for run in ledger.runs() for ref in run.record.rulebooks}),
    )
