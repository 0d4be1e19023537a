"""Hover: what a statement, a parameter, a field or a base rulebook is, in Markdown.

A statement shows its citation, evidence (``status``), effective dates and where it comes
from; a parameter its value and unit as resolved through ``extends`` (and what an
``override`` replaced); a field its type, enum values and what it means.
"""

from __future__ import annotations

from pathlib import PurePath

from marginlex.dsl.format.expressions import quantity
from marginlex.dsl.format.formatter import effective
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.fields import FIELDS, Kind
from marginlex.workbench.lsp.analysis import Analysis
from marginlex.workbench.lsp.target import Target, TargetKind, definitions, references
from marginlex.workbench.markdown_text import md_text

_DIMENSION = {
    m.Dimension.MONEY: "an amount of money",
    m.Dimension.FRACTION: "a fraction",
    m.Dimension.DURATION: "a duration",
    m.Dimension.MULTIPLE: "a multiple",
    m.Dimension.NUMBER: "a plain number",
}


def hover_text(a: Analysis, target: Target) -> str | None:
    """The Markdown shown for a target, or None when there is nothing to say."""
    if target.kind == TargetKind.FIELD and isinstance(target.node, m.FieldRef):
        return field_text(target.node)
    if target.kind == TargetKind.BASE:
        return _rulebook_text(a, target.name)
    if target.kind == TargetKind.RULEBOOK and isinstance(target.node, m.Header):
        return _header_text(target.node, a)
    found = definitions(a, target.name)
    return statement_text(a, found) if found else None


def field_text(f: m.FieldRef) -> str | None:
    """A field's type, its enum values and its meaning.

    >>> print(field_text(m.FieldRef(subject=m.Subject.ACCOUNT, name="equity")))
    **field** `account.equity`: money
    <BLANKLINE>
    collateral plus positions' market value
    """
    ty = FIELDS.get(f.subject, {}).get(f.name)
    if ty is None:
        return None
    lines = [f"**field** `{f.subject.value}.{f.name}`: {ty.kind.value}"]
    if ty.doc:
        lines += ["", ty.doc]
    if ty.kind in (Kind.ENUM, Kind.SET) and ty.values:
        lines += ["", "values: " + ", ".join(f"`{v}`" for v in ty.values)]
    return "\n".join(lines)


def statement_text(a: Analysis, found: list[m.Statement]) -> str:
    """The statement in force (first of ``found``), the ``extend`` statements that changed it
    and what it replaced."""
    first, *others = found
    lines = [_title(a, first), *_facts(first)]
    uses = list(references(a.sources(), first.id))
    if uses:
        lines.append(f"used by: {len(uses)} place{'s' if len(uses) != 1 else ''}")
    for ext in (s for s in others if isinstance(s, m.Extension)):
        lines += [f"extended by `extend {ext.target_kind.value}`, {_where(a, ext)}", *_facts(ext)]
    replaced = [s for s in others if not isinstance(s, m.Extension)]
    for old in replaced[:1]:
        value = f" = {quantity(old.value)}" if isinstance(old, m.Parameter) else ""
        verb = "extends" if isinstance(first, m.Extension) else "replaces"
        lines += [f"{verb}{value}, {_where(a, old)}", *_facts(old)]
    return "\n\n".join(lines)


def _title(a: Analysis, s: m.Statement) -> str:
    kind = f"extend {s.target_kind.value}" if isinstance(s, m.Extension) else s.kind.value
    title = f"**{kind}** `{s.id}`"
    if isinstance(s, m.Parameter):
        title += f" = `{quantity(s.value)}` ({_DIMENSION[s.value.dimension]})"
    return f"{title}, {_where(a, s)}"


def _facts(s: m.Statement) -> list[str]:
    facts = []
    if s.citation is not None:
        facts.append(f'cites "{md_text(s.citation.text)}"')
    if s.status is not None:
        facts.append(f"evidence: {s.status.value}")
    if s.effective is not None:
        facts.append(effective(s.effective))
    return facts


def _where(a: Analysis, s: m.Statement) -> str:
    if s.span.file == a.path:
        return f"line {s.span.line}"
    owner = next((b.id for b in a.sources() if b.span.file == s.span.file), "")
    return f"from `{owner}` ({md_text(PurePath(s.span.file).name)}:{s.span.line})"


def _rulebook_text(a: Analysis, rulebook_id: str) -> str | None:
    book = next((b for b in a.sources() if b.id == rulebook_id), None)
    return _header_text(book.header, a) if book is not None else None


def _header_text(h: m.Header, a: Analysis) -> str:
    lines = [f"**rulebook** `{h.id}`: {md_text(h.title)}"]
    about = [h.jurisdiction or "", f"version {md_text(h.version)}" if h.version else ""]
    if any(about):
        lines.append(" ".join(x for x in about if x))
    if h.citation is not None:
        lines.append(f'cites "{md_text(h.citation.text)}"')
    if h.effective is not None:
        lines.append(effective(h.effective))
    if h.extends:
        lines.append("extends " + ", ".join(f"`{x.name}`" for x in h.extends))
    if h.span.file != a.path:
        lines.append(f"file: {md_text(h.span.file)}")
    return "\n\n".join(lines)
