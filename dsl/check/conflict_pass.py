"""The solver's check pass (codes ``MLX600``-``610``): periods, placing, ``accept``.

:class:`~marginlex.dsl.check.conflicts.Analysis` finds overlaps, gaps and dead rules in the rules
in force in one period. This pass runs it for each period in which the statements in force
stay the same (dated versions), and places each finding: at the statement of this file it
concerns, or at ``extends`` when it only arises from combining bases (``extends sec,
cftc``); a finding one base already has is left to that base's own check. Either can be
accepted where it is reported with ``accept CODE because "..."`` (or on the statement the
finding is about, wherever it is written); an ``accept`` that accepts nothing is a warning.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from marginlex.dsl.check.conflicts import Analysis, Finding
from marginlex.dsl.check.smt import SOLVER_LOCK
from marginlex.dsl.diagnostics import SOLVER_FINDINGS, Code, Diagnostic, Severity, error
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.resolve import ResolvedRulebook, resolve

# ---- placing findings -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
    """Where a finding is reported and the ``accept`` clauses that may accept it."""

    span: m.Span
    accepts: tuple[m.Acceptance, ...]


def _closures(resolved: ResolvedRulebook) -> dict[str, set[str]]:
    """Per rulebook id, itself and every rulebook it extends, directly or not."""
    direct = {s.header.id: [e.name for e in s.header.extends] for s in resolved.sources}
    out: dict[str, set[str]] = {}

    def close(rid: str) -> set[str]:
        if rid not in out:
            out[rid] = {rid}
            for base in direct.get(rid, []):
                out[rid] |= close(base)
        return out[rid]

    for rid in direct:
        close(rid)
    return out


def _key(f: Finding) -> tuple[Code, tuple[str, ...]]:
    """What a finding is about, the same in a base and in a rulebook extending it."""
    return f.code, tuple(s.id for s in f.statements if not isinstance(s, m.Scope))


class _Bases:
    """The findings of the direct bases, found only when a finding needs them."""

    def __init__(self, book: m.Rulebook, resolved: ResolvedRulebook) -> None:
        self.book, self.resolved = book, resolved
        self._keys: set[tuple[Code, tuple[str, ...]]] | None = None

    def have(self, f: Finding) -> bool:
        """Whether a direct base has this finding (its own check reports or accepts it)."""
        if self._keys is None:
            sources = {s.header.id: s for s in self.resolved.sources}
            self._keys = set()
            for ref in self.book.header.extends:
                base = sources.get(ref.name)
                if base is not None:
                    self._keys |= {_key(g) for g in _findings(resolve(base, sources.get)[0])}
        return _key(f) in self._keys


def _place(f: Finding, book: m.Rulebook, bases: _Bases) -> _Place | None:
    """The statement of this file a finding is reported at (a row an ``extend`` wrote: that
    row); ``extends`` when it concerns inherited statements only and no base has it (bases
    combined, or changed by a ``remove`` or a parameter here); None when a base has it."""
    mine = [s for s in f.statements if s.span.file == book.span.file]
    if not mine and f.span.file == book.span.file:  # a row this file's `extend` wrote
        ext = [s for s in book.statements if s.id == f.statements[0].id]
        return _Place(f.span, ext[0].accepts if ext else book.header.accepts)
    if mine:
        return _Place(f.span if mine[0] is f.statements[0] else mine[0].span, mine[0].accepts)
    if bases.have(f):
        return None
    closures = _closures(bases.resolved)
    primary = bases.resolved.origins.get(f.statements[0].id, "")
    via = [b for b in book.header.extends if primary in closures.get(b.name, set())]
    if not via:  # a statement this file's `extend` changed (every row dropped, say): there
        ext = [x for x in book.statements if isinstance(x, m.Extension)]
        ext = [x for x in ext if x.id == f.statements[0].id]
        if ext:
            return _Place(ext[0].span, ext[0].accepts)
    return _Place(via[0].span if via else book.header.span, book.header.accepts)


def _periods(resolved: ResolvedRulebook) -> list[dt.date]:
    """A day in each period over which the statements in force do not change."""
    header = resolved.header.effective
    first = header.start if header is not None and header.start else dt.date.min
    bounds = {
        d
        for s in resolved.statements
        if s.effective is not None
        for d in (s.effective.start, s.effective.until)
        if d is not None and d > first
    }
    return [first, *sorted(d for d in bounds if header is None or header.covers(d))]


_ANALYSED = (m.Scope, m.Eligibility, m.Margin, m.Haircut, m.Offset)


def _findings(resolved: ResolvedRulebook) -> Iterator[Finding]:
    """The findings of every period (nothing, and no z3, without a statement to analyse)."""
    if not any(isinstance(s, _ANALYSED) for s in resolved.statements):
        return
    here = m.Span(file=resolved.header.span.file)
    for day in _periods(resolved):
        yield from Analysis(resolved.as_of(day), here).findings()


def conflict_diagnostics(book: m.Rulebook, resolved: ResolvedRulebook) -> list[Diagnostic]:
    """Findings of every period, placed and filtered by ``accept``; unused accepts warned.

    >>> from marginlex.dsl.parser import parse
    >>> from marginlex.dsl.resolve import resolve
    >>> book = parse('''rulebook r "R"
    ... scope a cites "x" decides account where account.regime = SEC
    ... scope b cites "x" decides account where account.kind = margin''', "r.mlx")
    >>> found = conflict_diagnostics(book, resolve(book, lambda _: None)[0])
    >>> [(d.code.value, d.span.line) for d in found]
    [('MLX600', 3)]
    >>> found[0].message
    'an account with regime SEC and kind margin is decided by both `b` and `a` (line 2)'
    """
    found: dict[tuple[Code, m.Span], Diagnostic] = {}
    used: set[m.Span] = set()
    bases = _Bases(book, resolved)
    with SOLVER_LOCK:  # z3 is not thread-safe: one analysis at a time in this process
        findings = list(_findings(resolved))
    for f in findings:
        about = f.statements[0]
        if about.span.file != book.span.file and any(a.code == f.code for a in about.accepts):
            continue  # accepted where the statement it is about is written (in a base)
        place = _place(f, book, bases)
        if place is None:
            continue
        accepted = [a for a in place.accepts if a.code == f.code.value]
        used.update(a.span for a in accepted)
        if not accepted:
            found.setdefault((f.code, place.span), error(f.code, f.message, place.span, f.hint))
    return [*found.values(), *_unused(book, used)]


def _unused(book: m.Rulebook, used: set[m.Span]) -> Iterator[Diagnostic]:
    for holder in (book.header, *book.statements):
        for a in holder.accepts:
            if a.code in SOLVER_FINDINGS and a.span not in used:
                yield Diagnostic(
                    code=Code.UNUSED_ACCEPT,
                    message=f"nothing to accept: the checker finds no {a.code} here",
                    span=a.span,
                    hint="remove this `accept`: the finding it accepted is gone",
                    severity=Severity.WARNING,
                )
