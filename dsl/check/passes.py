"""Checks: passes of one shape, run in order, each adding every diagnostic it finds.

A pass takes a :class:`Context` (the file as written plus its resolved rulebook) and
returns diagnostics; nothing stops at the first problem.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from marginlex.dsl.check.conflict_cache import remembered
from marginlex.dsl.check.conflict_pass import conflict_diagnostics
from marginlex.dsl.check.evidence import missing_status_diagnostics
from marginlex.dsl.check.expressions import ExprChecker, locate
from marginlex.dsl.check.reasons import stale_figures, unknown_parameters
from marginlex.dsl.check.supported import unsupported_diagnostics
from marginlex.dsl.check.tables import (
    DIMENSION_WORDS,
    inherited_use_diagnostics,
    table_diagnostics,
    value_diagnostics,
)
from marginlex.dsl.check.usage import unused_parameter_diagnostics
from marginlex.dsl.diagnostics import Code, Diagnostic, Severity, error
from marginlex.dsl.format.expressions import quantity
from marginlex.dsl.limits import limit_diagnostics
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.fields import (
    ACCOUNT_SUBJECTS,
    AGREEMENTS,
    COLLATERAL_SUBJECTS,
    INSTRUMENT_SUBJECTS,
    PARTY_KINDS,
    POSITION_SUBJECTS,
)
from marginlex.dsl.model.walk import children
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.dsl.resolve.extension import change_code, change_key
from marginlex.dsl.resolve.rows import holder, table_rows, with_rows


@dataclass(frozen=True)
class Context:
    """What a pass sees: the file as written and the effective rulebook it resolves to."""

    book: m.Rulebook
    resolved: ResolvedRulebook

    @property
    def own(self) -> tuple[m.Statement, ...]:
        """The statements written in this file."""
        return self.book.statements

    @property
    def params(self) -> dict[str, m.Parameter]:
        """Every parameter visible here (inherited and own)."""
        own = {s.id: s for s in self.own if isinstance(s, m.Parameter)}
        return {**self.resolved.parameters, **own}


Pass = Callable[[Context], list[Diagnostic]]


def check_citations(ctx: Context) -> list[Diagnostic]:
    """The header and every statement cite their source, and no citation is empty."""
    hint = 'add `cites "..."` naming the rule, release or notice it comes from'
    header = ctx.book.header
    missing = [
        error(Code.MISSING_CITATION, f"{s.kind.value} `{s.id}` has no citation", s.span, hint)
        for s in ctx.own
        if s.citation is None
    ]
    if header.citation is None:
        missing.append(
            error(
                Code.MISSING_CITATION, f"rulebook `{header.id}` has no citation", header.span, hint
            )
        )
    # A statement must cite something; a table row's note may instead drop its `cites`.
    own = {id(x.citation) for x in (header, *ctx.own) if x.citation is not None}
    row_hint = (
        "name the rule, release or notice the figure comes from, or mark the row "
        "`[illustrative]` without `cites`"
    )
    return missing + [
        error(
            Code.EMPTY_CITATION,
            "the citation is empty",
            c.span,
            "name the rule, release or notice it comes from" if id(c) in own else row_hint,
        )
        for c in _citations((header, *ctx.own))
        if not c.text.strip()
    ]


def _citations(node: object) -> Iterator[m.Citation]:
    """Every citation written in a node: its own, its rows' notes, depth first."""
    if isinstance(node, m.Citation):
        yield node
        return
    items = node if isinstance(node, tuple) else ()
    if isinstance(node, m.Node):
        items = tuple(getattr(node, name) for name in type(node).model_fields)
    for item in items:
        yield from _citations(item)


def check_reasons(ctx: Context) -> list[Diagnostic]:
    """``{parameter}`` names in reasons exist; spelt-out figures still match (a warning)."""
    file = ctx.book.header.span.file
    return [
        *unknown_parameters(ctx.own, ctx.params),
        *stale_figures(ctx.own, ctx.resolved.statements, file),
    ]


def _overlap(a: m.Effective, b: m.Effective) -> bool:
    a_start, b_start = a.start or _MIN, b.start or _MIN
    a_until, b_until = a.until or _MAX, b.until or _MAX
    return a_start < b_until and b_start < a_until


def _same_id_groups(statements: Sequence[m.Statement]) -> list[list[m.Statement]]:
    """The statements sharing an id, each group in file order (groups of two or more)."""
    by_id: dict[str, list[m.Statement]] = defaultdict(list)
    for s in statements:
        by_id[s.id].append(s)
    return [group for group in by_id.values() if len(group) > 1]


def _duplicate_of(group: list[m.Statement]) -> dict[int, m.Statement]:
    """For each later statement of a group that is a duplicate (undated, or another kind),
    the earliest statement it repeats: one diagnostic per statement, linear in the group."""
    found: dict[int, m.Statement] = {}
    first_undated: int | None = None
    first_of_kind: dict[str, int] = {}
    for k, b in enumerate(group):
        if k:
            earlier = [i for kind, i in first_of_kind.items() if kind != str(b.kind)]
            if first_undated is not None:
                earlier.append(first_undated)
            if b.effective is None:
                earlier.append(0)
            if earlier:
                found[k] = group[min(earlier)]
        if b.effective is None and first_undated is None:
            first_undated = k
        first_of_kind.setdefault(str(b.kind), k)
    return found


def _overlapping(versions: list[m.Statement]) -> Iterator[tuple[m.Statement, m.Statement]]:
    """Dated versions of one id and kind in force at once: each version (by start date) with
    the earlier-starting one that ends last, if that one ends after it starts (sorted, so a
    rulebook of many versions checks in a blink)."""
    ordered = sorted(versions, key=lambda s: (s.effective.start or _MIN) if s.effective else _MIN)
    latest: m.Statement | None = None
    for b in ordered:
        assert b.effective is not None
        if (
            latest is not None
            and latest.effective is not None
            and _overlap(latest.effective, b.effective)
        ):
            yield latest, b
        if latest is None or (b.effective.until or _MAX) > (
            latest.effective.until if latest.effective and latest.effective.until else _MAX
        ):
            latest = b


def check_ids(ctx: Context) -> list[Diagnostic]:
    """One id, one statement, unless dated versions with non-overlapping effective ranges.
    One diagnostic per statement at fault (16,000 copies of one line gave one per pair)."""
    out: list[Diagnostic] = []
    for group in _same_id_groups([s for s in ctx.own if not isinstance(s, m.Extension)]):
        duplicates = _duplicate_of(group)
        out += [
            error(
                Code.DUPLICATE_ID,
                f"`{b.id}` is already defined at line {duplicates[k].span.line}",
                b.span,
                "choose another id, or give both versions non-overlapping `effective` dates",
            )
            for k, b in enumerate(group)
            if k in duplicates
        ]
        dated = [b for k, b in enumerate(group) if k not in duplicates and b.effective]
        out += [
            error(
                Code.EFFECTIVE_OVERLAP,
                f"two versions of `{b.id}` are in force at the same time",
                b.effective.span,
                f"end the version at line {a.span.line} before this one starts",
            )
            for a, b in _overlapping(dated)
            if b.effective is not None
        ]
    extensions = [s for s in ctx.own if isinstance(s, m.Extension)]
    for group in _same_id_groups(extensions):
        changed: dict[str, int] = {}  # each row or requirement -> the extend that changed it
        for b in group:
            assert isinstance(b, m.Extension)
            for c in b.changes:
                key = change_key(c)
                if key in changed and changed[key] != b.span.line:
                    out.append(
                        error(
                            change_code(c),
                            f"{key} is already changed by the `extend` at line {changed[key]}",
                            c.span,
                            "change each row or requirement once, in one `extend` block",
                        )
                    )
                changed.setdefault(key, b.span.line)
    return sorted(out, key=lambda d: (d.span.line, d.span.column))


def check_effective(ctx: Context) -> list[Diagnostic]:
    """Effective ranges end after they start."""
    ranges = [ctx.book.header.effective, *(s.effective for s in ctx.own)]
    return [
        error(
            Code.EFFECTIVE_EMPTY,
            # one day in both: "ends (D) before it starts (D)" said what is not so
            f"the range starts and ends on {e.start}: it covers no day"
            if e.until == e.start
            else f"the range ends ({e.until}) before it starts ({e.start})",
            e.span,
            "`until` is the first day the rule no longer applies",
        )
        for e in ranges
        if e is not None and e.start is not None and e.until is not None and e.until <= e.start
    ]


_Cond = tuple[m.Expr | None, frozenset[m.Subject], str]


def _conditions(s: m.Statement) -> Iterator[_Cond]:
    acc, pos, ins, col = (
        ACCOUNT_SUBJECTS,
        POSITION_SUBJECTS,
        INSTRUMENT_SUBJECTS,
        (COLLATERAL_SUBJECTS),
    )
    if isinstance(s, m.Scope):
        yield s.where, acc, "an account condition"
    elif isinstance(s, m.Extension) and s.target_kind is m.StatementKind.MARGIN:
        rows = (c.row for c in s.changes if isinstance(c, m.RowChange) and c.row is not None)
        yield from _row_conditions(rows, pos, ins)
    elif isinstance(s, m.Eligibility | m.Extension):
        reqs = s.requirements if isinstance(s, m.Eligibility) else _requirements(s)
        for r in reqs:
            yield r.condition, acc, "an account condition"
            yield r.when, acc, "an account condition"
    elif isinstance(s, m.Segregation):
        c = s.constraint
        if isinstance(c, m.CollateralFlow):
            yield c.source, acc, "an account condition"
            yield c.target, acc, "an account condition"
        elif isinstance(c, m.CarrierKinds):
            yield c.accounts, acc, "an account condition"
    elif isinstance(s, m.Haircut | m.Concentration):
        yield s.where, col, "a collateral condition"
    elif isinstance(s, m.Margin):
        yield s.applies_to, acc, "an account condition"
        yield from _method_conditions(s.method, pos, ins)
    elif isinstance(s, m.Offset):
        yield from _offset_conditions(s.rule, acc, pos)


def _offset_conditions(
    rule: m.OffsetRule, acc: frozenset[m.Subject], pos: frozenset[m.Subject]
) -> Iterator[_Cond]:
    if isinstance(rule, m.MergeAccounts):
        yield rule.where, acc, "an account condition"
    elif isinstance(rule, m.TakeIn | m.GiveUp):
        yield rule.anchor, acc, "an account condition"
        yield rule.positions, pos, "a position condition"
    elif isinstance(rule, m.Dv01Pairing):
        yield rule.first, pos, "a position condition"
        yield rule.second, pos, "a position condition"


def _requirements(s: m.Extension) -> tuple[m.Requirement, ...]:
    return tuple(
        c.requirement
        for c in s.changes
        if isinstance(c, m.RequirementChange) and c.requirement is not None
    )


def _method_conditions(
    method: m.MarginMethod, pos: frozenset[m.Subject], ins: frozenset[m.Subject]
) -> Iterator[_Cond]:
    if isinstance(method, m.ScenarioGrid | m.SpanScan) and method.minimum is not None:
        yield method.minimum.where, pos, "a position condition"
    if isinstance(method, m.ConcentrationAddOn):
        yield method.where, pos, "a position condition"
    if isinstance(method, m.SpanScan):
        for charge in (method.calendar, method.delivery):
            if charge is not None:
                yield charge.where, pos, "a position condition"
        for case in method.calendar.cases if method.calendar is not None else ():
            yield case.when, ins, "an instrument condition"
    yield from _row_conditions(m.selector_rows(method), pos, ins)


def _row_conditions(
    rows: Iterable[m.TableRow], pos: frozenset[m.Subject], ins: frozenset[m.Subject]
) -> Iterator[_Cond]:
    for row in rows:
        if isinstance(row, m.Bucket | m.AssetRow):
            continue
        subjects = pos if isinstance(row, m.RateRow) else ins
        yield (
            row.when,
            subjects,
            "an instrument condition" if subjects is ins else ("a position condition"),
        )


def check_expressions(ctx: Context) -> list[Diagnostic]:
    """Names and types in every condition: fields, values, parameters, rule references."""
    eligibilities = frozenset(
        s.id for s in (*ctx.resolved.statements, *ctx.own) if isinstance(s, m.Eligibility)
    )
    checker = ExprChecker(params=ctx.params, eligibilities=eligibilities)
    for s in ctx.own:
        for expr, subjects, about in _conditions(s):
            checker.condition(expr, subjects, about)
        if isinstance(s, m.Segregation) and isinstance(s.constraint, m.CarrierKinds):
            checker.names_in(s.constraint.kinds, PARTY_KINDS, "kind of carrier")
        if isinstance(s, m.Segregation) and isinstance(s.constraint, m.MergedCarrier):
            checker.names_in(s.constraint.kinds, PARTY_KINDS, "kind of carrier")
            checker.names_in(s.constraint.agreements, AGREEMENTS, "agreement")
    return checker.diagnostics


#: Account fields known only while an eligibility requirement is evaluated: the evaluator
#: forms the sets a rule's candidates would make, then reads them (docs/language.md,
#: "Merged regimes").
ELIGIBILITY_ONLY = frozenset({"merged_regimes"})


def check_eligibility_only(ctx: Context) -> list[Diagnostic]:
    """``account.merged_regimes`` is read only in an eligibility requirement (its condition
    or its ``when``): in a scope, a margin statement's ``applies to``, a ``sets`` statement
    or any other condition the evaluator would have no sets to read it from."""
    out: list[Diagnostic] = []
    for s in ctx.own:
        stack: list[m.Node] = [s]
        while stack:
            node = stack.pop()
            if isinstance(node, m.Requirement):
                continue  # `require NAME: ...` (an eligibility rule's, or an extension's)
            if (
                isinstance(node, m.FieldRef)
                and node.subject is m.Subject.ACCOUNT
                and node.name in ELIGIBILITY_ONLY
            ):
                out.append(
                    error(
                        Code.ELIGIBILITY_ONLY_FIELD,
                        f"`account.{node.name}` is read only in an eligibility requirement, "
                        f"not in this {_statement_word(s)} (rule `{s.id}`): the merged sets "
                        "it reads are formed while eligibility is decided",
                        node.span,
                        "read it in an eligibility requirement (`require NAME: ...`)",
                    )
                )
            stack.extend(reversed(list(children(node))))
    return out


def _statement_word(s: m.Statement) -> str:
    """What the statement is, as written (``margin``, ``scope``, ``sets``)."""
    if isinstance(s, m.Offset):
        return "`sets` statement"
    if isinstance(s, m.Margin):
        return "margin statement"
    return f"{type(s).__name__.lower()} statement"


def _extended(ctx: Context) -> tuple[m.Statement, ...]:
    """The statements this file's ``extend haircut`` / ``extend margin`` change, as resolved
    (the first version of each), with only the rows the extension wrote: their values are
    checked like an override's."""
    file = ctx.book.header.span.file
    ids = {s.id for s in ctx.own if isinstance(s, m.Extension)}
    first = {s.id: s for s in reversed(ctx.resolved.statements) if s.id in ids}
    return tuple(
        with_rows(s, tuple(r for r in table_rows(s) if r.span.file == file))
        for s in first.values()
        if holder(s) is not None
    )


def check_values(ctx: Context) -> list[Diagnostic]:
    """Units of table values and clauses; rates within 0-100%."""
    return value_diagnostics((*ctx.own, *_extended(ctx)), ctx.params)


def check_overrides(ctx: Context) -> list[Diagnostic]:
    """An overriding parameter keeps its base's unit and fits where the bases use it."""
    mine = ctx.book.header.id
    own = {s.id: s for s in ctx.own if isinstance(s, m.Parameter)}
    inherited = tuple(s for s in ctx.resolved.statements if ctx.resolved.origins.get(s.id) != mine)
    bases = {
        s.id: (src.header.id, s)
        for src in ctx.resolved.sources
        if src.header.id != mine
        for s in src.statements
        if isinstance(s, m.Parameter)
    }
    # an override whose unit differs from its base's is said once, below: not again for
    # each inherited rule that uses it (two MLX300 at one place)
    changed_unit = {
        p.id
        for p in own.values()
        if p.override and p.id in bases and bases[p.id][1].value.dimension != p.value.dimension
    }
    out = inherited_use_diagnostics(
        inherited, {k: v for k, v in own.items() if k not in changed_unit}
    )
    for p in own.values():
        base_id, base = bases.get(p.id, ("", None))
        if p.override and base is not None and base.value.dimension != p.value.dimension:
            was, now = DIMENSION_WORDS[base.value.dimension], DIMENSION_WORDS[p.value.dimension]
            out.append(
                error(
                    Code.UNIT_MISMATCH,
                    f"`{p.id}` is {was} in `{base_id}`, but this override makes it {now}",
                    p.value.span,
                    f"keep the unit of the base value `{quantity(base.value)}`"
                    f" ({locate(base.span, p.span)}), which its rules are written for",
                )
            )
    return out


_Interval = tuple[dt.date, dt.date]


def _days(e: m.Effective | None) -> _Interval:
    """The days a version is in force, as ``[start, until)``."""
    return (e.start or _MIN, e.until or _MAX) if e is not None else (_MIN, _MAX)


def _clip(days: _Interval, within: m.Effective | None) -> _Interval:
    """``days`` inside a rulebook's own effective range (a statement without dates is in
    force whenever its rulebook is)."""
    start, until = _days(within)
    return max(days[0], start), min(days[1], until)


def _uncovered(before: list[_Interval], after: list[_Interval]) -> list[_Interval]:
    """The parts of the ``before`` intervals that no ``after`` interval covers."""
    gaps: list[_Interval] = []
    for start, until in sorted(before):
        left = start
        for a_start, a_until in sorted(after):
            if a_start > left:
                gaps.append((left, min(a_start, until)))
            left = max(left, a_until)
            if left >= until:
                break
        if left < until:
            gaps.append((left, until))
    return [g for g in gaps if g[0] < g[1]]


def _dates(gap: _Interval) -> str:
    start, until = gap
    if start == _MIN:
        return f"before {until}"
    return f"from {start}" if until == _MAX else f"from {start} until {until}"


def check_override_gaps(ctx: Context) -> list[Diagnostic]:
    """Dated overrides still cover every day their base versions covered.

    ``override`` replaces every inherited version, so an override ``effective from
    2027-01-01`` alone leaves the earlier days with no version at all.
    """
    mine = ctx.book.header.id
    out: list[Diagnostic] = []
    own = [s for s in ctx.own if s.override and not isinstance(s, m.Removal)]
    for sid in dict.fromkeys(s.id for s in own):
        # The versions of the nearest base that defines the id (sources run base-first).
        base = next(
            (
                [
                    _clip(_days(x.effective), src.header.effective)
                    for x in src.statements
                    if x.id == sid
                ]
                for src in reversed(ctx.resolved.sources)
                if src.header.id != mine and any(x.id == sid for x in src.statements)
            ),
            [],
        )
        versions = [s for s in own if s.id == sid]
        gaps = _uncovered(
            [_clip(b, ctx.book.header.effective) for b in base],
            [_days(v.effective) for v in versions],
        )
        if gaps:
            first = versions[0]
            out.append(
                error(
                    Code.OVERRIDE_GAP,
                    f"no version of `{sid}` is in force {_dates(gaps[0])}: `override` "
                    "replaces every inherited version",
                    first.effective.span if first.effective is not None else first.span,
                    "add a version for those dates (with `effective ... until ...`), or drop "
                    "`effective` to replace the base on every date",
                )
            )
    return out


def check_tables(ctx: Context) -> list[Diagnostic]:
    """Bucket order and gaps, repeated rows, schedule references."""
    haircuts = {s.id for s in (*ctx.resolved.statements, *ctx.own) if isinstance(s, m.Haircut)}
    return table_diagnostics(ctx.own, haircuts)


def check_status(ctx: Context) -> list[Diagnostic]:
    """Statements without ``status`` in a file that states it elsewhere (a warning)."""
    return missing_status_diagnostics(ctx.own)


def check_unused(ctx: Context) -> list[Diagnostic]:
    """Parameters this file defines that no rule uses (a warning)."""
    return unused_parameter_diagnostics(ctx.own, ctx.resolved.statements)


def check_conflicts(ctx: Context) -> list[Diagnostic]:
    """Overlaps, gaps and dead rules, decided by the SMT solver (:mod:`.conflict_pass`), or
    read from the answer kept when the same question was proved before (:mod:`.conflict_cache`)."""
    return remembered(ctx.book, ctx.resolved, conflict_diagnostics)


def check_supported(ctx: Context) -> list[Diagnostic]:
    """Clause values the evaluator does not implement (SPAN coverage other than 99% / 1 day)."""
    params = ctx.resolved.of_kind(m.Parameter) + tuple(
        s for s in ctx.own if isinstance(s, m.Parameter)
    )
    return unsupported_diagnostics(
        (*ctx.resolved.statements, *ctx.own), params, ctx.book.header.span.file
    )


def check_limits(ctx: Context) -> list[Diagnostic]:
    """Tables and scenario grids within :mod:`marginlex.dsl.limits`."""
    return limit_diagnostics(ctx.own)


#: The passes, in the order they run.
PASSES: tuple[Pass, ...] = (
    check_citations,
    check_reasons,
    check_ids,
    check_effective,
    check_expressions,
    check_eligibility_only,
    check_values,
    check_overrides,
    check_override_gaps,
    check_tables,
    check_limits,
    check_supported,
    check_status,
    check_unused,
    check_conflicts,
)

#: Passes that run only when the passes before them find no error: the solver's findings
#: (and unused parameters, missing statuses) about a rulebook that does not yet mean what it
#: says are noise.
NEEDS_CLEAN: frozenset[Pass] = frozenset({check_conflicts, check_unused, check_status})
#: The passes ``solver=False`` leaves out.
SOLVER: frozenset[Pass] = frozenset({check_conflicts})


def check_resolved(
    resolved: ResolvedRulebook, book: m.Rulebook, solver: bool = True, *, clean: bool = True
) -> list[Diagnostic]:
    """Run every pass on one file and its resolved rulebook; diagnostics in source order.

    ``solver=False`` leaves out the SMT conflict pass, for a first answer while a text is
    typed; the language server then runs them all. ``clean=False`` says that resolving the
    rulebook already found an error, so the passes that need a clean rulebook do not run.

    >>> from marginlex.dsl.parser import parse
    >>> from marginlex.dsl.resolve import resolve
    >>> book = parse('rulebook r "R" parameter p = 5 USD')
    >>> [d.code.value for d in check_resolved(resolve(book, lambda _: None)[0], book)]
    ['MLX220', 'MLX220']
    """
    ctx = Context(book=book, resolved=resolved)
    found: list[Diagnostic] = []
    for check in PASSES:
        if check in SOLVER and not solver:
            continue
        if check in NEEDS_CLEAN and (not clean or any(d.severity is Severity.ERROR for d in found)):
            continue
        found += check(ctx)
    return sorted(found, key=lambda d: (d.span.line, d.span.column, d.code.value))


_MIN = dt.date.min
_MAX = dt.date.max
