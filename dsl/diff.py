"""Semantic diff of two resolved rulebooks: what differs after ``extends`` is resolved.

Statements are matched by id. A statement is *changed* when its meaning differs, ignoring
where it was written (spans); a change only to citations, status marks or row notes is
still listed but flagged ``operative=False`` (it cannot move a figure). Each change carries
the citation of the new statement (of the old one for a removal), the old and new value
(the literal for a parameter, the canonical text for a rule) and a line diff of the text.
"""

from __future__ import annotations

import difflib
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from marginlex.dsl.format.expressions import quantity
from marginlex.dsl.format.formatter import block
from marginlex.dsl.format.lines import IND
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.provenance import SourceFile, source_files, source_lines
from marginlex.dsl.resolve import ResolvedRulebook

# ``override`` says how a statement was written, not what it means.
_IGNORED = m.SPAN_FIELDS | {"override"}
_NON_OPERATIVE = _IGNORED | {"citation", "status", "note"}


class ChangeKind(StrEnum):
    """How a statement differs between the two rulebooks."""

    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


class StatementChange(BaseModel):
    """One statement id that differs.

    Attributes:
        statement_id: the id.
        statement_kind: its kind (the new statement's, the old one's for a removal).
        change: added, removed or changed.
        operative: False when only citations, status marks or notes differ.
        citation: the new statement's citation (the old one's for a removal).
        old_citation: the old statement's citation, when it had one and it differs.
        old_origin: the rulebook that defined the old statement ("" when added).
        new_origin: the rulebook that defines the new statement ("" when removed).
        old_value: parameter literal or canonical statement text ("" when added).
        new_value: likewise for the new statement ("" when removed).
        lines: the changed lines of the canonical text, ``-`` old and ``+`` new; a block
            that starts inside a clause is led by the clause's opening line (`` ``).
        used_by: for a parameter, the ids of the new rulebook's statements that use it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    statement_id: str
    statement_kind: m.StatementKind
    change: ChangeKind
    operative: bool
    citation: str
    old_citation: str = ""
    old_origin: str = ""
    new_origin: str = ""
    old_value: str = ""
    new_value: str = ""
    lines: tuple[str, ...] = ()
    used_by: tuple[str, ...] = ()


class HeaderChange(BaseModel):
    """A header field that differs (title, jurisdiction, version, ...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    old: str
    new: str


class RulebookDiff(BaseModel):
    """Everything that differs between rulebook ``a`` (old) and ``b`` (new)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    a_id: str
    b_id: str
    header: tuple[HeaderChange, ...]
    changes: tuple[StatementChange, ...]
    a_sources: tuple[SourceFile, ...] = ()
    """The files ``a`` was resolved from, bases first (with ``sources=True``)."""
    b_sources: tuple[SourceFile, ...] = ()

    @property
    def statement_ids(self) -> tuple[str, ...]:
        """The ids of every differing statement, in diff order."""
        return tuple(c.statement_id for c in self.changes)

    @property
    def operative_ids(self) -> tuple[str, ...]:
        """The ids of the statements whose difference can move a figure."""
        return tuple(c.statement_id for c in self.changes if c.operative)


def meaning(node: Any, ignored: frozenset[str] = _IGNORED) -> Any:
    """A plain, span-free form of a model node, for comparing meaning.

    A number means its amount, however it is written (``100,000 USD`` is ``100000 USD``).

    >>> a = m.Citation(text="x", span=m.Span(line=3))
    >>> meaning(a) == meaning(m.Citation(text="x"))
    True
    >>> usd = m.Unit("USD")
    >>> meaning(m.Quantity(amount=1e5, unit=usd, text="100,000")) == meaning(
    ...     m.Quantity(amount=1e5, unit=usd, text="100000.00"))
    True
    """
    if isinstance(node, m.Node):
        skip = ignored | {"text"} if isinstance(node, m.Quantity) else ignored
        return {
            name: meaning(getattr(node, name), ignored)
            for name in type(node).model_fields
            if name not in skip
        } | {"__type__": type(node).__name__}
    if isinstance(node, tuple | list):
        return [meaning(x, ignored) for x in node]
    return node


def statement_text(statements: tuple[m.Statement, ...]) -> str:
    """The canonical text of statements (dated versions of one id), as ``fmt`` prints it."""
    out: list[str] = []
    for s in statements:
        plain = s.model_copy(update={"override": False})
        out += [IND * line.depth + line.text for line in block(plain)]
    return "\n".join(out)


def _value(statements: tuple[m.Statement, ...]) -> str:
    if len(statements) == 1 and isinstance(statements[0], m.Parameter):
        return quantity(statements[0].value)
    return statement_text(statements)


def _by_id(book: ResolvedRulebook) -> dict[str, tuple[m.Statement, ...]]:
    grouped: dict[str, tuple[m.Statement, ...]] = {}
    for s in book.statements:
        grouped[s.id] = (*grouped.get(s.id, ()), s)
    return grouped


def _citation(statements: tuple[m.Statement, ...]) -> str:
    return next((s.citation.text for s in statements if s.citation), "")


def uses_parameter(node: Any, name: str) -> bool:
    """Whether a model node (a statement, a requirement) names parameter ``name``."""
    needle = {"name": name, "__type__": "ParamRef"}

    def found(x: Any) -> bool:
        if isinstance(x, dict):
            return x.items() >= needle.items() or any(found(v) for v in x.values())
        return isinstance(x, list) and any(found(v) for v in x)

    return found(meaning(node))


def statements_using(book: ResolvedRulebook, name: str) -> tuple[str, ...]:
    """The ids of the statements whose values or expressions name parameter ``name``."""
    return tuple(dict.fromkeys(s.id for s in book.statements if uses_parameter(s, name)))


def _order(a: ResolvedRulebook, b: ResolvedRulebook) -> list[str]:
    """B's statement order, each id only in A placed right after its predecessor in A."""
    order = list(dict.fromkeys(s.id for s in b.statements))
    previous: str | None = None
    for sid in dict.fromkeys(s.id for s in a.statements):
        if sid not in order:
            order.insert(order.index(previous) + 1 if previous in order else 0, sid)
        previous = sid
    return order


def _change(
    sid: str,
    old: tuple[m.Statement, ...],
    new: tuple[m.Statement, ...],
    a: ResolvedRulebook,
    b: ResolvedRulebook,
) -> StatementChange | None:
    if old and new and meaning(old) == meaning(new):
        return None
    kind = ChangeKind.CHANGED if old and new else ChangeKind.ADDED if new else ChangeKind.REMOVED
    old_text, new_text = (statement_text(old) if old else ""), (statement_text(new) if new else "")
    lines = changed_lines(old_text.splitlines(), new_text.splitlines())
    operative = kind is not ChangeKind.CHANGED or (
        meaning(old, _NON_OPERATIVE) != meaning(new, _NON_OPERATIVE)
    )
    is_param = isinstance((new or old)[0], m.Parameter)
    old_cite, new_cite = _citation(old), _citation(new)
    return StatementChange(
        statement_id=sid,
        statement_kind=(new or old)[0].kind,
        change=kind,
        operative=operative,
        citation=new_cite if new else old_cite,
        old_citation=old_cite if new and old_cite != new_cite else "",
        old_origin=a.origins.get(sid, a.id) if old else "",
        new_origin=b.origins.get(sid, b.id) if new else "",
        old_value=_value(old) if old else "",
        new_value=_value(new) if new else "",
        lines=tuple(lines),
        used_by=statements_using(b, sid) if is_param and new else (),
    )


def changed_lines(old: list[str], new: list[str]) -> list[str]:
    """The lines that differ, ``-`` old and ``+`` new; a block that starts inside a clause
    (a ``because`` line, a note) is led by the line that opens the clause, unchanged (`` ``).

    >>> old = ["eligibility e", "  require x: a = 1", '    because "why"']
    >>> changed_lines(old, [*old, "    [secondary]"])
    ['   require x: a = 1', '+    [secondary]']
    >>> changed_lines(["a", "  b"], ["a", "  c"])
    ['-  b', '+  c']
    >>> changed_lines(["e", "  x: 1", "    y"], ["e", "  x: 2", "    y", "    [n]"])
    ['-  x: 1', '+  x: 2', '+    [n]']
    """
    out: list[str] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    shown: set[tuple[bool, int]] = set()  # (new side?, line) already shown, changed or not
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        on_new, at = (True, j1) if op == "insert" else (False, i1)
        lead = _opening_line(new if on_new else old, at)
        if lead is not None and (on_new, lead) not in shown:
            out.append(f" {(new if on_new else old)[lead]}")
            shown.add((on_new, lead))
        out += [f"-{line}" for line in old[i1:i2]] + [f"+{line}" for line in new[j1:j2]]
        shown |= {(False, i) for i in range(i1, i2)} | {(True, j) for j in range(j1, j2)}
    return out


def _opening_line(lines: list[str], at: int) -> int | None:
    """The nearest line before ``lines[at]`` that is less indented: the clause it is in
    (None when that is the statement's head, which the change's heading names)."""
    if at >= len(lines) or at == 0:
        return None
    depth = len(lines[at]) - len(lines[at].lstrip(" "))
    for k in range(at - 1, -1, -1):
        indent = len(lines[k]) - len(lines[k].lstrip(" "))
        if indent < depth:
            return k if indent > 0 else None
    return None


def _header(a: m.Header, b: m.Header) -> tuple[HeaderChange, ...]:
    out: list[HeaderChange] = []
    pairs = {
        "title": (a.title, b.title),
        "jurisdiction": (a.jurisdiction or "", b.jurisdiction or ""),
        "version": (a.version or "", b.version or ""),
        "citation": (a.citation.text if a.citation else "", b.citation.text if b.citation else ""),
    }
    for name, (old, new) in pairs.items():
        if old != new:
            out.append(HeaderChange(field=name, old=old, new=new))
    return tuple(out)


def diff_rulebooks(a: ResolvedRulebook, b: ResolvedRulebook, sources: bool = False) -> RulebookDiff:
    """The statements and parameters that differ from ``a`` (old) to ``b`` (new).

    Args:
        a: the old (baseline) resolved rulebook.
        b: the new (proposed) resolved rulebook.
        sources: also name the file and sha256 of every rulebook each was resolved from
            (what ``marginlex diff`` shows, so that an id such as ``[sec]`` is never
            ambiguous).

    Returns:
        Header changes and one :class:`StatementChange` per differing id, in ``b``'s
        rulebook order (ids only in ``a`` right after their predecessor in ``a``).

    >>> from marginlex.dsl.loader import load_rulebook
    >>> d = diff_rulebooks(load_rulebook("sec"), load_rulebook("harmonized"))
    >>> d.changes[0].statement_id, d.changes[0].change.value
    ('sec_accounts', 'removed')
    """
    old, new = _by_id(a), _by_id(b)
    changes = [
        c
        for sid in _order(a, b)
        if (c := _change(sid, old.get(sid, ()), new.get(sid, ()), a, b)) is not None
    ]
    return RulebookDiff(
        a_id=a.id,
        b_id=b.id,
        header=_header(a.header, b.header),
        changes=tuple(changes),
        a_sources=source_files(a) if sources else (),
        b_sources=source_files(b) if sources else (),
    )


_SIGN = {ChangeKind.ADDED: "+", ChangeKind.REMOVED: "-", ChangeKind.CHANGED: "~"}


def _render_change(c: StatementChange) -> list[str]:
    flag = "" if c.operative else "  (citation/status only)"
    origin = c.new_origin or c.old_origin
    head = f"{_SIGN[c.change]} {c.statement_kind.value} {c.statement_id}  [{origin}]{flag}"
    out = [head, f"    cites: {c.citation or '(no citation)'}"]
    if c.old_citation:
        out.append(f"    was:   {c.old_citation}")
    if c.statement_kind is m.StatementKind.PARAMETER and c.change is ChangeKind.CHANGED:
        # the same figure written another way is no change of value
        shown = f"{c.old_value} -> {c.new_value}" if c.operative else f"{c.new_value} (unchanged)"
        out.append(f"    value: {shown}")
        if c.used_by:
            out.append(f"    used by: {', '.join(c.used_by)}")
        return out
    if c.change is ChangeKind.CHANGED:
        out += [f"    {line}" for line in c.lines]
    else:
        text = c.new_value if c.change is ChangeKind.ADDED else c.old_value
        sign = "+" if c.change is ChangeKind.ADDED else "-"
        out += [f"    {sign} {line}" for line in text.splitlines()]
    return out


def render_diff(diff: RulebookDiff) -> str:
    """The diff as readable text (what ``marginlex diff`` prints).

    Lines start with ``+`` (added), ``-`` (removed) or ``~`` (changed), then the kind, the
    id and the rulebook that defines it; below, the citation and the old and new value.
    """
    counts = {k: sum(c.change is k for c in diff.changes) for k in ChangeKind}
    out = [
        f"diff {diff.a_id} -> {diff.b_id}: {counts[ChangeKind.ADDED]} added, "
        f"{counts[ChangeKind.REMOVED]} removed, {counts[ChangeKind.CHANGED]} changed"
    ]
    for label, files in (("old", diff.a_sources), ("new", diff.b_sources)):
        if files:
            out += [f"  {label} {files[-1].id} resolved from", *source_lines(files, "    ")]
    out += [f"  header {h.field}: {h.old!r} -> {h.new!r}" for h in diff.header]
    for change in diff.changes:
        out += ["", *_render_change(change)]
    return "\n".join(out) + "\n"
