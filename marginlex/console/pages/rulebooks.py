"""Recorded rulebooks: every bundle the ledger holds, each rendered as a readable document
(statements by kind, citations, evidence, effective dates, parameters and where they are
used); a rulebook that extends another shows its diff against that base."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from marginlex.audit.ledger.recorded_inputs import base_bundle, load_bundle
from marginlex.audit.ledger.store import Ledger
from marginlex.console import queries as q
from marginlex.console.render import Table, cell, split_format, tables_or_page
from marginlex.console.state import ConsoleState, ledger_of, state_of
from marginlex.dsl.diff import diff_rulebooks, render_diff, statement_text, statements_using
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.resolve import ResolvedRulebook

router = APIRouter()
LedgerDep = Annotated[Ledger, Depends(ledger_of)]


@dataclass(frozen=True)
class StatementView:
    """One statement as the document shows it."""

    id: str
    kind: str
    origin: str
    citation: str
    evidence: str | None
    effective: str
    text: str
    used_by: tuple[str, ...]


def _effective(s: m.Statement) -> str:
    e = s.effective
    if e is None:
        return ""
    return f"{e.start.isoformat() if e.start else '…'} to {e.until.isoformat() if e.until else '…'}"


def _views(rb: ResolvedRulebook) -> dict[str, list[StatementView]]:
    grouped: dict[str, list[StatementView]] = {k.value: [] for k in m.StatementKind}
    for s in rb.statements:
        is_param = isinstance(s, m.Parameter)
        grouped[s.kind.value].append(
            StatementView(
                id=s.id,
                kind=s.kind.value,
                origin=rb.origins.get(s.id, rb.id),
                citation=s.citation.text if s.citation else "",
                evidence=s.status.value if s.status else None,
                effective=_effective(s),
                text=statement_text((s,)),
                used_by=statements_using(rb, s.id) if is_param else (),
            )
        )
    return {k: v for k, v in grouped.items() if v}


def _bases(bundle: str, rb: ResolvedRulebook) -> list[tuple[str, list[str]]]:
    found = []
    for base_id in (sym.name for sym in rb.header.extends):
        text = base_bundle(bundle, base_id)
        if text is not None:
            found.append((base_id, render_diff(diff_rulebooks(load_bundle(text), rb)).splitlines()))
    return found


Document = tuple[ResolvedRulebook, dict[str, list[StatementView]], list[tuple[str, list[str]]]]


def _document(bundle: str) -> Document:
    rb = load_bundle(bundle)
    return rb, _views(rb), _bases(bundle, rb)


@router.get("/rulebooks")
@router.get("/rulebooks.csv")
def rulebooks_page(request: Request, ledger: LedgerDep) -> Response:
    """Every rulebook bundle recorded, with how many runs used it."""
    table = Table(
        "rulebooks",
        "Recorded rulebooks",
        ("rulebook", "name", "version", "sha256", "runs"),
        numeric=frozenset({"runs"}),
    )
    for ref, uses in q.recorded_rulebooks(ledger):
        table.rows.append(
            (
                cell(ref.id, f"/rulebooks/{ref.sha256}"),
                cell(ref.name),
                cell(ref.version),
                cell(ref.sha256),
                cell(uses),
            )
        )
    return tables_or_page(request, [table], "rulebooks.html.j2")


@router.get("/rulebooks/{sha256}")
def rulebook_page(
    request: Request,
    sha256: str,
    ledger: LedgerDep,
    state: Annotated[ConsoleState, Depends(state_of)],
) -> Response:
    """One recorded rulebook as a document; anchors ``#rule-ID`` for every statement."""
    sha256, ending = split_format(sha256)
    bundle = ledger.rulebook_text(sha256)
    if bundle is None:
        raise HTTPException(404, f"no rulebook with sha256 {sha256!r} in the ledger")
    rb, views, bases = state.cached(("rulebook", sha256), lambda: _document(bundle))
    table = Table(
        "statements",
        "Statements",
        ("id", "kind", "defined in", "evidence", "effective", "citation"),
    )
    for group in views.values():
        for v in group:
            table.rows.append(
                (
                    cell(v.id, f"#rule-{v.id}"),
                    cell(v.kind),
                    cell(v.origin),
                    cell(v.evidence),
                    cell(v.effective),
                    cell(v.citation),
                )
            )
    return tables_or_page(
        request,
        [table],
        "rulebook.html.j2",
        ending,
        rb=rb,
        views=views,
        bases=bases,
        sha256=sha256,
    )
