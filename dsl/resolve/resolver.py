"""Resolve ``extends``/``override``/``remove``/``extend`` into one effective rulebook.

Bases are resolved first, in the order written; their statements come first, then the
rulebook's own. A variant is always a new :class:`ResolvedRulebook`: nothing here mutates
a base (every node is frozen and copied with ``model_copy``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from marginlex.dsl.diagnostics import (
    Code,
    Diagnostic,
    RulebookClaimError,
    RulebookError,
    did_you_mean,
    error,
    settle,
)
from marginlex.dsl.limits import MAX_EXTENDS_DEPTH
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.walk import walk
from marginlex.dsl.resolve.extension import dropped, extend

S = TypeVar("S", bound=m.StatementBase)

#: Looks a rulebook up by id; returns None when there is no such rulebook, and may raise
#: RulebookError when the file defining it does not parse, RulebookClaimError when the id
#: does not name one file.
Finder = Callable[[str], m.Rulebook | None]


class ResolvedRulebook(BaseModel):
    """The effective rulebook after ``extends``, ``override`` and ``remove``.

    ``statements`` holds no :class:`~marginlex.dsl.model.rulebook.Removal`; bare names in
    expressions that name a parameter are :class:`~marginlex.dsl.model.rulebook.ParamRef`. Several
    may share an id when they carry non-overlapping ``effective`` ranges (dated versions);
    :meth:`as_of` keeps the ones in force on a date.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    header: m.Header
    statements: tuple[m.Statement, ...]
    origins: dict[str, str]
    bases: tuple[str, ...] = ()
    sources: tuple[m.Rulebook, ...] = ()

    @property
    def id(self) -> str:
        """The rulebook id."""
        return self.header.id

    def of_kind(self, cls: type[S]) -> tuple[S, ...]:
        """The statements of one class, in rulebook order.

        >>> from marginlex.dsl import load_rulebook
        >>> [p.id for p in load_rulebook("sec").of_kind(m.Parameter)][:1]
        ['pm_min_equity']
        """
        return tuple(s for s in self.statements if isinstance(s, cls))

    def get(self, statement_id: str) -> m.Statement:
        """The (first) statement with this id; KeyError when there is none."""
        for s in self.statements:
            if s.id == statement_id:
                return s
        raise KeyError(statement_id)

    @property
    def parameters(self) -> dict[str, m.Parameter]:
        """Parameters by name (the last dated version wins; use :meth:`as_of` first)."""
        return {p.id: p for p in self.of_kind(m.Parameter)}

    def quantity(self, value: m.Quantity | m.ParamRef) -> m.Quantity:
        """The literal behind a table value, following a parameter reference."""
        if isinstance(value, m.ParamRef):
            return self.parameters[value.name].value
        return value

    def fraction(self, value: m.Quantity | m.ParamRef) -> float:
        """A table value in base units (a fraction for % and bp, USD for money)."""
        return self.quantity(value).base

    def as_of(self, date: dt.date) -> ResolvedRulebook:
        """A copy holding only the statements in force on ``date``."""
        kept = tuple(s for s in self.statements if s.effective is None or s.effective.covers(date))
        return self.model_copy(update={"statements": kept})

    @property
    def haircut_policy(self) -> tuple[m.Haircut, ...]:
        """The schedules applied to lots, in order (first match wins): every haircut that no
        ``more conservative of`` combinator names."""
        used = {
            name.name
            for h in self.of_kind(m.Haircut)
            if isinstance(h.body, m.MoreConservative)
            for name in h.body.schedules
        }
        return tuple(h for h in self.of_kind(m.Haircut) if h.id not in used)


class _Resolver:
    def __init__(self, finder: Finder) -> None:
        self.finder = finder
        self.diagnostics: list[Diagnostic] = []
        self.done: dict[str, ResolvedRulebook] = {}
        # Set when a base cannot be loaded: what it would define is then unknown, so
        # "no base rulebook defines it" would be a guess, not a finding.
        self.missing_base = False
        self.broken: dict[str, RulebookError] = {}
        self.claimed: dict[str, RulebookClaimError] = {}

    def resolve(self, book: m.Rulebook, stack: tuple[str, ...]) -> ResolvedRulebook:
        statements: list[m.Statement] = []
        origins: dict[str, str] = {}
        bases: list[str] = []
        sources: list[m.Rulebook] = []
        for ref, base in self._bases(book, stack):
            bases.extend(b for b in (*base.bases, base.id) if b not in bases)
            # by identity first: a deep comparison of two rulebooks only when their ids match
            # (a chain of 300 bases compared every pair whole: seconds)
            sources.extend(
                s
                for s in base.sources
                if not any(s is x or (s.id == x.id and s == x) for x in sources)
            )
            self._merge(statements, origins, base, ref)
        self._apply_own(book, statements, origins)
        params = {s.id for s in statements if isinstance(s, m.Parameter)}
        rewritten = tuple(_rewrite_params(s, params) for s in statements)
        self._removed_in_use(book, rewritten, origins)
        return ResolvedRulebook(
            header=book.header,
            statements=rewritten,
            origins=origins,
            bases=tuple(bases),
            sources=(*sources, book),
        )

    def _bases(
        self, book: m.Rulebook, stack: tuple[str, ...]
    ) -> list[tuple[m.Symbol, ResolvedRulebook]]:
        """The rulebooks ``book`` extends, resolved, less a name written twice and a base
        another of them already extends (``extends sec, harmonized``: harmonized extends
        sec), each reported once (MLX210) instead of every statement they share."""
        found: list[tuple[m.Symbol, ResolvedRulebook]] = []
        seen: set[str] = set()
        for ref in book.header.extends:
            if ref.name in seen:
                self.diagnostics.append(
                    error(
                        Code.DUPLICATE_ID,
                        f"`{ref.name}` is extended twice",
                        ref.span,
                        f"write `{ref.name}` once in `extends`",
                    )
                )
                continue
            seen.add(ref.name)
            base = self._base(ref, (*stack, book.id))
            if base is not None:
                found.append((ref, base))
        kept = []
        for ref, base in found:
            heir = next((r for r, b in found if ref.name in b.bases), None)
            if heir is None:
                kept.append((ref, base))
                continue
            self.diagnostics.append(
                error(
                    Code.DUPLICATE_ID,
                    f"`{heir.name}` already extends `{ref.name}`",
                    ref.span,
                    f"extend only `{heir.name}`: it brings `{ref.name}`'s statements with it",
                )
            )
        return kept

    def _base(self, ref: m.Symbol, stack: tuple[str, ...]) -> ResolvedRulebook | None:
        if ref.name not in self.done and (too_deep := self._too_deep(ref.name, stack)):
            self.missing_base = True
            shown = [*too_deep[:3], "…", too_deep[-1]] if len(too_deep) > 5 else too_deep
            self.diagnostics.append(
                error(
                    Code.TOO_DEEP,
                    f"`extends` goes more than {MAX_EXTENDS_DEPTH} rulebooks deep: "
                    f"{' -> '.join(shown)} ({len(too_deep) - 1} deep)",
                    ref.span,
                    "extend fewer layers: a variant can extend a base and change it with "
                    "`override` and `remove`, and one rulebook may extend several bases",
                )
            )
            return None
        if ref.name in stack:
            cycle: list[str] | None = [*stack[stack.index(ref.name) :], ref.name]
        else:
            cycle = self._cycle(ref.name, stack)
        if cycle is not None:
            self.missing_base = True
            self.diagnostics.append(
                error(
                    Code.CYCLIC_EXTENDS,
                    f"`extends` goes round in a circle: {' -> '.join(cycle)}",
                    ref.span,
                    "a rulebook cannot extend itself, directly or through another",
                )
            )
            return None
        if ref.name in self.done:
            return self.done[ref.name]
        base_book = self._find(ref.name)
        if ref.name in self.claimed:
            self.missing_base = True
            self.diagnostics.append(self.claimed[ref.name].at(ref.span))
            return None
        if ref.name in self.broken:
            self.missing_base = True
            exc = self.broken[ref.name]
            first = exc.diagnostics[0].headline() if exc.diagnostics else ""
            if exc.diagnostics and exc.diagnostics[0].code is Code.FILE_ERROR:
                first += f"; {exc.diagnostics[0].hint}" if exc.diagnostics[0].hint else ""
            self.diagnostics.append(
                error(
                    Code.UNKNOWN_RULEBOOK,
                    f"the base rulebook `{ref.name}` has errors and cannot be used",
                    ref.span,
                    f"fix it first: {first}",
                )
            )
            return None
        if base_book is None:
            self.missing_base = True
            self.diagnostics.append(
                error(
                    Code.UNKNOWN_RULEBOOK,
                    f"no rulebook with id `{ref.name}` was found",
                    ref.span,
                    did_you_mean(ref.name, [k for k in _KNOWN_HINTS if k != ref.name])
                    or "shipped rulebooks are sec, cftc and harmonized; other bases must "
                    "sit next to this file",
                )
            )
            return None
        resolved = self.resolve(base_book, stack)
        self.done[ref.name] = resolved
        return resolved

    def _find(self, rulebook_id: str) -> m.Rulebook | None:
        """The finder's answer; a base that does not parse is kept in ``broken``, an id that
        does not name one file in ``claimed``."""
        try:
            return self.finder(rulebook_id)
        except RulebookError as exc:
            self.broken[rulebook_id] = exc
        except RulebookClaimError as exc:
            self.claimed[rulebook_id] = exc
        return None

    def _too_deep(self, start: str, stack: tuple[str, ...]) -> list[str] | None:
        """The ``extends`` chain through ``start`` when it is deeper than
        :data:`~marginlex.dsl.limits.MAX_EXTENDS_DEPTH` (ids, the checked file first), found
        from the file being checked, so that its own ``extends`` is where it is said (each
        base is resolved inside the one that extends it: 1,500 deep, a RecursionError)."""
        if len(stack) > 1:  # measured from the top: a base deeper down is within it
            return [*stack, start] if len(stack) > MAX_EXTENDS_DEPTH else None
        below = self._longest_chain(start)
        return [*stack, *below] if len(below) > MAX_EXTENDS_DEPTH else None

    def _longest_chain(self, start: str) -> list[str]:
        """The longest ``extends`` chain from ``start`` (its ids, ``start`` first), walked
        without recursion; an edge back into the walk's path (a cycle, said as MLX203
        elsewhere) is not followed."""
        longest: dict[str, list[str]] = {}
        path: set[str] = set()
        todo: list[tuple[str, bool]] = [(start, False)]
        while todo:
            name, finished = todo.pop()
            book = self._find(name)
            bases = [r.name for r in (book.header.extends if book is not None else ())]
            if finished:
                path.discard(name)
                below = [longest[b] for b in bases if b in longest]
                longest[name] = [name, *max(below, key=len, default=[])]
            elif name not in longest and name not in path:
                path.add(name)
                todo.append((name, True))
                todo.extend((b, False) for b in bases if b not in longest and b not in path)
        return longest[start]

    def _cycle(self, start: str, stack: tuple[str, ...]) -> list[str] | None:
        """A path of ``extends`` from ``start`` back into ``stack``, if there is one."""
        todo: list[list[str]] = [[start]]
        seen: set[str] = set()
        while todo:
            path = todo.pop()
            book = self._find(path[-1])
            for ref in book.header.extends if book is not None else ():
                if ref.name in stack:
                    return [*stack[stack.index(ref.name) :], *path, ref.name]
                if ref.name not in seen:
                    seen.add(ref.name)
                    todo.append([*path, ref.name])
        return None

    def _merge(
        self,
        statements: list[m.Statement],
        origins: dict[str, str],
        base: ResolvedRulebook,
        ref: m.Symbol,
    ) -> None:
        before = {x.id: x for x in statements}
        reported: set[str] = set()
        for s in base.statements:
            if s.id in before and before[s.id] == s:
                continue  # the same statement reached through two bases (a diamond)
            if s.id in before:
                if s.id not in reported:
                    reported.add(s.id)
                    self.diagnostics.append(
                        error(
                            Code.DUPLICATE_ID,
                            f"`{s.id}` is defined by both `{origins.get(s.id, '?')}` and "
                            f"`{base.origins.get(s.id, base.id)}`",
                            ref.span,
                            "rename one of them, or extend only one of the two",
                        )
                    )
                continue
            statements.append(s)
            origins[s.id] = base.origins.get(s.id, base.id)

    def _apply_own(
        self, book: m.Rulebook, statements: list[m.Statement], origins: dict[str, str]
    ) -> None:
        inherited = {s.id: s for s in statements}
        replaced: set[str] = set()
        for s in book.statements:
            old = inherited.get(s.id)
            if isinstance(s, m.Removal) or not s.override:  # only an override can drop parts
                self.diagnostics += settle(Code.OVERRIDE_DROPS, None, s.accepts, s.span)
            if isinstance(s, m.Extension):
                self._extend(s, statements, origins, book.id)
                continue
            if isinstance(s, m.Removal) or s.override:
                target = s.target_kind if isinstance(s, m.Removal) else s.kind
                if old is None or old.kind != target:
                    self._nothing_to_change(s, target, old, inherited)
                    continue
                if s.id in replaced:
                    index = _after_last(statements, s.id)
                else:
                    index = next(i for i, x in enumerate(statements) if x.id == s.id)
                    statements[:] = [x for x in statements if x.id != s.id]
                    replaced.add(s.id)
                if isinstance(s, m.Removal):
                    origins.pop(s.id, None)
                else:
                    statements.insert(index, s)
                    origins[s.id] = book.id
                    lost = dropped(old, s)
                    self.diagnostics += settle(Code.OVERRIDE_DROPS, lost, s.accepts, s.span)
            elif old is not None:
                self.diagnostics.append(
                    error(
                        Code.INHERITED_REDEFINED,
                        f"`{s.id}` is already defined in `{origins.get(s.id, '?')}`",
                        s.span,
                        f"write `override {s.kind.value} {s.id}` to replace it, or choose "
                        "another id",
                    )
                )
            else:
                statements.append(s)
                origins[s.id] = book.id

    def _removed_in_use(
        self, book: m.Rulebook, statements: tuple[m.Statement, ...], origins: dict[str, str]
    ) -> None:
        """An error at each ``remove`` whose statement another statement in force still names:
        a schedule a ``more conservative of`` compares, an ``eligible(...)`` rule, a parameter
        in a value or condition (the run would fail, or read a figure no longer there)."""
        present = {x.id for x in statements}  # once, not a scan of them per removal
        removed = {
            s.id: s for s in book.statements if isinstance(s, m.Removal) and s.id not in present
        }
        if not removed:
            return
        users: dict[str, list[m.Statement]] = {}
        for statement in statements:
            for name in sorted(_names_used(statement) & removed.keys()):
                users.setdefault(name, []).append(statement)
        for name, using in users.items():
            s = removed[name]
            listed = ", ".join(
                f"{u.kind.value} `{u.id}` (from `{origins.get(u.id, book.id)}`)" for u in using
            )
            self.diagnostics.append(
                error(
                    Code.REMOVED_IN_USE,
                    f"cannot remove {s.target_kind.value} `{name}`: still used by {listed}",
                    s.span,
                    f"remove or override `{using[0].id}` as well, or keep `{name}`",
                )
            )

    def _extend(
        self,
        s: m.Extension,
        statements: list[m.Statement],
        origins: dict[str, str],
        book_id: str,
    ) -> None:
        """Apply ``extend KIND`` to every dated version of the statement it names."""
        targets = [i for i, x in enumerate(statements) if x.id == s.id]
        if not targets:
            inherited = {x.id: x for x in statements}
            self._nothing_to_change(s, s.target_kind, None, inherited)
            return
        for k, i in enumerate(targets):
            extended, found = extend(s, statements[i], book_id)
            self.diagnostics += found if k == 0 else []
            if extended is not None:
                statements[i] = extended
                origins[s.id] = book_id

    def _nothing_to_change(
        self,
        s: m.Statement,
        target: m.StatementKind,
        old: m.Statement | None,
        inherited: dict[str, m.Statement],
    ) -> None:
        verb = (
            "remove"
            if isinstance(s, m.Removal)
            else "extend"
            if isinstance(s, m.Extension)
            else "override"
        )
        if old is None and self.missing_base:
            return
        if old is not None:
            message = f"cannot {verb} {target.value} `{s.id}`: it is a {old.kind.value}"
            hint: str | None = f"write `{verb} {old.kind.value} {s.id}`"
        else:
            message = f"cannot {verb} {target.value} `{s.id}`: no base rulebook defines it"
            names = [x.id for x in inherited.values() if x.kind == target]
            hint = did_you_mean(s.id, names) or (
                "drop the word `override` to define a new rule" if verb == "override" else None
            )
        self.diagnostics.append(error(Code.NOTHING_TO_OVERRIDE, message, s.span, hint))


_KNOWN_HINTS = ("sec", "cftc", "harmonized")


def _names_used(statement: m.Statement) -> set[str]:
    """The ids of other statements a statement names: parameters, ``eligible(...)`` rules
    and the schedules of a ``more conservative of``."""
    found: set[str] = set()
    for node in walk(statement):
        if isinstance(node, m.ParamRef):
            found.add(node.name)
        elif isinstance(node, m.Eligible):
            found.add(node.rule)
        elif isinstance(node, m.MoreConservative):
            found.update(n.name for n in node.schedules)
    return found


def _after_last(statements: list[m.Statement], statement_id: str) -> int:
    positions = [i for i, x in enumerate(statements) if x.id == statement_id]
    return positions[-1] + 1 if positions else len(statements)


_EXPR_FIELDS = frozenset(
    {
        "where",
        "when",
        "condition",
        "applies_to",
        "source",
        "target",
        "accounts",
        "anchor",
        "positions",
    }
)


def _rewrite_params(node: Any, params: set[str], expr_context: bool = False) -> Any:
    """Replace bare names that name a parameter by ParamRef, in expression positions only."""
    if isinstance(node, m.Symbol):
        if expr_context and node.name in params:
            return m.ParamRef(name=node.name, span=node.span)
        return node
    if isinstance(node, tuple):
        return tuple(_rewrite_params(x, params, expr_context) for x in node)
    if not isinstance(node, m.Node):
        return node
    in_expr = isinstance(node, m.EXPR_TYPES)
    updates: dict[str, Any] = {}
    for name in type(node).model_fields:
        value = getattr(node, name)
        new = _rewrite_params(value, params, in_expr or name in _EXPR_FIELDS)
        if new is not value and new != value:
            updates[name] = new
    return node.model_copy(update=updates) if updates else node


def resolve(book: m.Rulebook, finder: Finder) -> tuple[ResolvedRulebook, list[Diagnostic]]:
    """Resolve a rulebook's bases and overrides.

    Args:
        book: the rulebook as written.
        finder: looks base rulebooks up by id.

    Returns:
        The effective rulebook (best effort when there are problems) and the diagnostics.
    """
    resolver = _Resolver(finder)
    resolved = resolver.resolve(book, ())
    return resolved, resolver.diagnostics
