"""Go to definition (across ``extends``), find references ("used by") and the outline."""

from __future__ import annotations

import re

from lsprotocol import types as lsp

from marginlex.dsl.model import rulebook as m
from marginlex.workbench.lsp.analysis import Analysis
from marginlex.workbench.lsp.positions import location, position, to_range
from marginlex.workbench.lsp.target import Target, TargetKind, definitions, references

_SYMBOL_KIND = {
    m.StatementKind.PARAMETER: lsp.SymbolKind.Constant,
    m.StatementKind.SCOPE: lsp.SymbolKind.Namespace,
    m.StatementKind.ELIGIBILITY: lsp.SymbolKind.Boolean,
    m.StatementKind.SEGREGATION: lsp.SymbolKind.Interface,
    m.StatementKind.HAIRCUT: lsp.SymbolKind.Struct,
    m.StatementKind.CONCENTRATION: lsp.SymbolKind.Operator,
    m.StatementKind.MARGIN: lsp.SymbolKind.Function,
    m.StatementKind.OFFSET: lsp.SymbolKind.Method,
    m.StatementKind.REMOVE: lsp.SymbolKind.Null,
}


def _place(a: Analysis, span: m.Span) -> lsp.Location:
    return location(span, a.lines if span.file == a.path else None)


def definition(a: Analysis, target: Target) -> list[lsp.Location]:
    """Where the target is defined: a statement in force (in this file or a base's), then
    the ones it replaces; a base rulebook's header. On a statement itself: the inherited
    statements it overrides."""
    if target.kind == TargetKind.BASE:
        book = next((b for b in a.sources() if b.id == target.name), None)
        return [_place(a, book.header.span)] if book is not None else []
    if target.kind not in (TargetKind.REFERENCE, TargetKind.STATEMENT):
        return []
    found = definitions(a, target.name)
    if target.kind == TargetKind.STATEMENT:
        found = [s for s in found if s.span.file != a.path]
    return [_place(a, s.span) for s in found]


def find_references(a: Analysis, target: Target, declaration: bool) -> list[lsp.Location]:
    """Every place that names the target's statement, in this file and its bases."""
    if target.kind not in (TargetKind.REFERENCE, TargetKind.STATEMENT):
        return []
    places = [_place(a, n.span) for n in references(a.sources(), target.name)]
    if declaration:
        places = [_place(a, s.span) for s in definitions(a, target.name)] + places
    return places


def _detail(s: m.Statement) -> str:
    """``override parameter``, ``extend haircut``, ``margin``: how the statement begins."""
    if isinstance(s, m.Extension):
        return f"extend {s.target_kind.value}"
    return ("override " if s.override else "") + s.kind.value


def outline(a: Analysis) -> list[lsp.DocumentSymbol]:
    """The header and every statement of the text, with the range of its id."""
    if a.book is None:
        return []
    header = a.book.header
    statements = [
        lsp.DocumentSymbol(
            name=s.id,
            detail=_detail(s),
            kind=_SYMBOL_KIND[s.target_kind if isinstance(s, m.Extension) else s.kind],
            range=to_range(s.span, a.lines),
            selection_range=_id_range(a, s.span, s.id),
        )
        for s in a.book.statements
    ]
    return [
        lsp.DocumentSymbol(
            name=header.id,
            detail=header.title,
            kind=lsp.SymbolKind.Module,
            range=to_range(header.span, a.lines),
            selection_range=_id_range(a, header.span, header.id),
        ),
        *statements,
    ]


def _id_range(a: Analysis, span: m.Span, name: str) -> lsp.Range:
    """The range of ``name`` on the first line of ``span`` (the whole span's start if the
    id is not written there)."""
    text = a.lines[span.line - 1] if span.line <= len(a.lines) else ""
    found = re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text)
    if found is None:
        start = position(a.lines, span.line, span.column)
        return lsp.Range(start=start, end=start)
    return lsp.Range(
        start=position(a.lines, span.line, found.start() + 1),
        end=position(a.lines, span.line, found.end() + 1),
    )
