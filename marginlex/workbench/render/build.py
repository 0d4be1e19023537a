"""A resolved rulebook → its :class:`~.document.RulebookDocument`.

Statements come in the resolved rulebook's order (bases first, then the rulebook's own),
each under the heading comment (``# ---- offsets ----``) that precedes it in its own file,
or under its kind when no heading does. A variant gets its diff against each of its bases
(:func:`marginlex.dsl.diff.diff_rulebooks`).
"""

from __future__ import annotations

import re
from pathlib import Path

from marginlex.dsl.diff import diff_rulebooks, statement_text, statements_using
from marginlex.dsl.format.expressions import quantity
from marginlex.dsl.format.formatter import effective as effective_text
from marginlex.dsl.loader import Library, load_rulebook
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.provenance import source_files
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.workbench.render.anchors import statement_anchor
from marginlex.workbench.render.bodies import statement_parts
from marginlex.workbench.render.cases import CaseIndex
from marginlex.workbench.render.document import (
    Clause,
    DiffDoc,
    HeaderDoc,
    RulebookDocument,
    Section,
    StatementDoc,
)

_HEADING = re.compile(r"^#\s*-{2,}\s*(?P<title>.*?)\s*-*\s*$")
_KIND_TITLES = {
    m.StatementKind.PARAMETER: "parameters",
    m.StatementKind.SCOPE: "scope",
    m.StatementKind.ELIGIBILITY: "eligibility",
    m.StatementKind.SEGREGATION: "segregation",
    m.StatementKind.HAIRCUT: "collateral haircuts",
    m.StatementKind.CONCENTRATION: "concentration",
    m.StatementKind.MARGIN: "margin methods",
    m.StatementKind.OFFSET: "offsets",
    m.StatementKind.REMOVE: "removals",
}


def _headings(rulebook: ResolvedRulebook) -> dict[str, list[tuple[int, str]]]:
    """By source file: (line, title) of every ``# ---- title ----`` comment, in order."""
    out: dict[str, list[tuple[int, str]]] = {}
    for source in rulebook.sources:
        found = [
            (c.span.line, g["title"]) for c in source.comments if (g := _HEADING.match(c.text))
        ]
        out[source.span.file] = sorted(found)
    return out


def _section_of(s: m.Statement, headings: dict[str, list[tuple[int, str]]]) -> str:
    above = [t for line, t in headings.get(s.span.file, []) if line < s.span.line and t]
    return above[-1] if above else _KIND_TITLES[s.kind]


def _slug(title: str) -> str:
    return "section-" + (re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "rules")


def _statement(
    rb: ResolvedRulebook,
    s: m.Statement,
    version: int,
    params: dict[str, tuple[str, ...]],
    tests: CaseIndex,
) -> StatementDoc:
    clauses, tables = statement_parts(rb, s)
    origin = rb.origins.get(s.id, rb.id)
    return StatementDoc(
        id=s.id,
        kind=s.kind,
        anchor=statement_anchor(s.id, version),
        origin=origin,
        inherited=origin != rb.id,
        overrides=s.override,
        citation=s.citation.text if s.citation else "",
        status=s.status,
        effective=effective_text(s.effective).removeprefix("effective ") if s.effective else "",
        value=quantity(s.value) if isinstance(s, m.Parameter) else "",
        clauses=tuple(clauses),
        tables=tuple(tables),
        accepts=tuple(Clause(label=a.code, text=a.reason, code=False) for a in s.accepts),
        uses=tuple(p for p, users in params.items() if s.id in users),
        used_by=params.get(s.id, ()) if isinstance(s, m.Parameter) else (),
        tests=tests.tests_of(rb.id, s.id),
        source=statement_text((s,)),
    )


def _sections(rb: ResolvedRulebook, tests: CaseIndex) -> tuple[Section, ...]:
    headings = _headings(rb)
    params = {p.id: statements_using(rb, p.id) for p in rb.of_kind(m.Parameter)}
    grouped: dict[str, list[StatementDoc]] = {}
    versions: dict[str, int] = {}
    for s in rb.statements:
        versions[s.id] = versions.get(s.id, 0) + 1
        doc = _statement(rb, s, versions[s.id], params, tests)
        grouped.setdefault(_section_of(s, headings), []).append(doc)
    return tuple(
        Section(title=title, anchor=_slug(title), statements=tuple(docs))
        for title, docs in grouped.items()
    )


def _header(rb: ResolvedRulebook) -> HeaderDoc:
    h = rb.header
    return HeaderDoc(
        id=h.id,
        title=h.title,
        jurisdiction=h.jurisdiction or "",
        version=h.version or "",
        effective=effective_text(h.effective).removeprefix("effective ") if h.effective else "",
        citation=h.citation.text if h.citation else "",
        extends=tuple(x.name for x in h.extends),
        accepts=tuple(Clause(label=a.code, text=a.reason, code=False) for a in h.accepts),
        sources=source_files(rb),
    )


def _diffs(rb: ResolvedRulebook) -> tuple[DiffDoc, ...]:
    """The diff against each base, each base loaded from the file it was resolved from."""
    files = {s.id: Path(s.span.file) for s in rb.sources}
    own = files.get(rb.id)
    library = Library(own.parent) if own is not None and own.is_file() else None
    out = []
    for base in rb.header.extends:
        path = files.get(base.name)
        base_rb = load_rulebook(path if path and path.is_file() else base.name, library=library)
        out.append(DiffDoc(base=base.name, changes=diff_rulebooks(base_rb, rb).changes))
    return tuple(out)


def build_document(rulebook: ResolvedRulebook, tests: CaseIndex | None = None) -> RulebookDocument:
    """The document of one resolved rulebook.

    Args:
        rulebook: a resolved (and checked) rulebook.
        tests: the rulebook tests that ran
            (:func:`marginlex.workbench.render.collect_tests`); None shows no tests.

    >>> from marginlex.dsl import load_rulebook
    >>> doc = build_document(load_rulebook("sec"))
    >>> doc.sections[0].title, doc.statements[0].anchor
    ('scope', 'rule-sec_accounts')
    """
    index = tests or CaseIndex()
    return RulebookDocument(
        header=_header(rulebook),
        sections=_sections(rulebook, index),
        diffs=_diffs(rulebook),
        tests=index.summary(rulebook.id),
    )
