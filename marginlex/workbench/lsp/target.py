"""What is under the cursor: a field, a name that refers to a statement, a base rulebook,
a statement or the header, found in the one model (:func:`~marginlex.dsl.model.walk.nodes_at`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.walk import nodes_at, walk
from marginlex.workbench.lsp.analysis import Analysis


class TargetKind(StrEnum):
    """What a target is."""

    FIELD = "field"
    REFERENCE = "reference"
    BASE = "base"
    STATEMENT = "statement"
    RULEBOOK = "rulebook"


@dataclass(frozen=True)
class Target:
    """The thing under the cursor: ``name`` is the statement id (or base rulebook id) it
    names; ``node`` the innermost node that says so."""

    kind: TargetKind
    node: m.Node
    name: str = ""


def target_at(a: Analysis, line: int, column: int) -> Target | None:
    """The target at a 1-based line and column of the analysed text, if any."""
    if a.book is None:
        return None
    nodes = nodes_at(a.book, line, column)
    params = _parameter_ids(a)
    for parent, node in zip(reversed(nodes[:-1]), reversed(nodes[1:]), strict=True):
        found = _target(parent, node, params)
        if found is not None:
            return found
    return Target(TargetKind.RULEBOOK, a.book.header) if len(nodes) > 1 else None


def _target(parent: m.Node, node: m.Node, params: set[str]) -> Target | None:
    if isinstance(node, m.FieldRef):
        return Target(TargetKind.FIELD, node, node.name)
    if isinstance(node, m.ParamRef):
        return Target(TargetKind.REFERENCE, node, node.name)
    if isinstance(node, m.Eligible):
        return Target(TargetKind.REFERENCE, node, node.rule)
    if isinstance(node, m.Symbol):
        if isinstance(parent, m.Header) and node in parent.extends:
            return Target(TargetKind.BASE, node, node.name)
        if node.name in params or isinstance(parent, m.MoreConservative):
            return Target(TargetKind.REFERENCE, node, node.name)
    if isinstance(node, m.STATEMENT_TYPES):
        return Target(TargetKind.STATEMENT, node, node.id)
    if isinstance(node, m.Header):
        return Target(TargetKind.RULEBOOK, node, node.id)
    return None


def _parameter_ids(a: Analysis) -> set[str]:
    return {s.id for book in a.sources() for s in book.statements if isinstance(s, m.Parameter)}


def references(books: tuple[m.Rulebook, ...], name: str) -> Iterator[m.Node]:
    """Every node in ``books`` that names the statement ``name`` (a parameter, an
    ``eligible(...)`` rule, a schedule of ``more conservative of``)."""
    params = {s.id for b in books for s in b.statements if isinstance(s, m.Parameter)}
    seen: set[tuple[str, int, int]] = set()
    for book in books:
        for statement in book.statements:
            for parent in walk(statement):
                for node in _named(parent, params):
                    where = (node.span.file, node.span.line, node.span.column)
                    if _names(node) == name and where not in seen:
                        seen.add(where)
                        yield node


def _named(parent: m.Node, params: set[str]) -> Iterator[m.Node]:
    """The children of ``parent`` that refer to a statement by name."""
    if isinstance(parent, m.MoreConservative):
        yield from parent.schedules
    for name in type(parent).model_fields:
        value = getattr(parent, name)
        for item in value if isinstance(value, tuple) else (value,):
            named = isinstance(item, m.Symbol) and item.name in params
            if named or isinstance(item, m.ParamRef | m.Eligible):
                yield item


def _names(node: m.Node) -> str:
    if isinstance(node, m.Eligible):
        return node.rule
    return node.name if isinstance(node, m.ParamRef | m.Symbol) else ""


def definitions(a: Analysis, name: str) -> list[m.Statement]:
    """Every statement with id ``name`` in the text and its bases: the one in force first,
    then the ones it replaces, nearest base first."""
    found = [s for book in reversed(a.sources()) for s in book.statements if s.id == name]
    if a.resolved is not None:
        found = [s for s in a.resolved.statements if s.id == name] + found
    unique: dict[tuple[str, int, int], m.Statement] = {}
    for s in found:
        if not isinstance(s, m.Removal):
            unique.setdefault((s.span.file, s.span.line, s.span.column), s)
    return list(unique.values())
