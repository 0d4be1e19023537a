"""``marginlex fmt``: the canonical layout of a rulebook, comments kept, idempotent.

Each node type has one handler (``HANDLERS``). Block handlers return :class:`Line` objects
anchored to the source line of the node they print; comments are put back before the first
line anchored after them, or at the end of the line they trailed.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from marginlex.dsl.format.expressions import (
    EXPR_HANDLERS,
    credit_pair,
    expr,
    quantity,
    spread_leg,
    string,
    value,
)
from marginlex.dsl.format.lines import IND, Line, lead, note, pack
from marginlex.dsl.format.methods import (
    calendar_case,
    calendar_spreads,
    delivery_charge,
    low_price_parts,
    method,
    minimum,
    of_underlying_parts,
    range_row,
    rate_row,
    scan_row,
    spread_tier,
    strategy_row,
)
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.parser import parse


def effective(e: m.Effective) -> str:
    """``effective from D until D``."""
    parts = ["effective"]
    if e.start is not None:
        parts.append(f"from {e.start.isoformat()}")
    if e.until is not None:
        parts.append(f"until {e.until.isoformat()}")
    return " ".join(parts)


def _names(symbols: tuple[m.Symbol, ...]) -> str:
    return ", ".join(s.name for s in symbols)


def _brace(symbols: tuple[m.Symbol, ...]) -> str:
    return "{" + _names(symbols) + "}"


def _clauses(s: m.StatementBase) -> list[Line]:
    out = []
    if s.citation is not None:
        out.append(Line(1, f"cites {string(s.citation.text)}", s.citation.span.line))
    if s.status is not None:
        line = None if s.status_span is None else s.status_span.line
        out.append(Line(1, f"status {s.status.value}", line))
    if s.effective is not None:
        out.append(Line(1, effective(s.effective), s.effective.span.line))
    return out + _accepts(s.accepts)


def _accepts(accepts: tuple[m.Acceptance, ...]) -> list[Line]:
    return [Line(1, _accept(a), a.span.line) for a in accepts]


def _accept(a: m.Acceptance) -> str:
    return f"accept {a.code} because {string(a.reason)}"


def _head(s: m.StatementBase, rest: str) -> Line:
    prefix = "override " if s.override else ""
    return Line(0, f"{prefix}{rest}", s.span.line, statement=True)


def _where(where: m.Expr | None, word: str = "where") -> list[Line]:
    return [] if where is None else pack(1, lead(f"{word} ", where), where)


# ---- statements -------------------------------------------------------------------------


def _parameter(s: m.Parameter) -> list[Line]:
    return [_head(s, f"parameter {s.id} = {quantity(s.value)}"), *_clauses(s)]


def _scope(s: m.Scope) -> list[Line]:
    return [_head(s, f"scope {s.id}"), *_clauses(s), *_where(s.where, "decides account where")]


def _requirement(r: m.Requirement, verb: str = "") -> list[Line]:
    parts = lead(f"{verb}require {r.name}: ", r.condition)
    if r.when is not None:
        parts += lead("when ", r.when)
    parts += [f"because {string(r.reason)}", *note(r.note)]
    return pack(1, parts, r)


def _eligibility(s: m.Eligibility) -> list[Line]:
    lines = [_head(s, f"eligibility {s.id} for {s.subject.value}"), *_clauses(s)]
    for r in s.requirements:
        lines += _requirement(r)
    return lines


def _constraint(c: m.Constraint) -> list[Line]:
    if isinstance(c, m.CollateralFlow):
        parts = [
            *lead("collateral of account where ", c.source),
            *lead(
                "must not reach account of another owner where "
                if c.other_owner
                else "must not reach account where ",
                c.target,
            ),
        ]
        if c.not_counted:
            parts[-1] += ", not counted there"
    elif isinstance(c, m.CarrierKinds):
        parts = [*lead("account where ", c.accounts), f"must be carried by {_brace(c.kinds)}"]
    elif isinstance(c, m.SingleOwner):
        parts = ["merged accounts must have one owner"]
    else:
        parts = [f"merged accounts must be carried by {_brace(c.kinds)}"]
        if c.agreements:
            parts.append(f"under {_brace(c.agreements)}")
    return pack(1, parts, c)


def _segregation(s: m.Segregation) -> list[Line]:
    return [_head(s, f"segregation {s.id}"), *_clauses(s), *_constraint(s.constraint)]


def outcome(o: m.Outcome) -> str:
    """A haircut outcome: a rate or ``ineligible because "..."``."""
    if isinstance(o, m.Rate):
        return value(o.value)
    return f"ineligible because {string(o.reason)}"


def _body(b: m.HaircutBody) -> list[Line]:
    if isinstance(b, m.MaturityBuckets):
        lines = [Line(1, "by residual_maturity", b.span.line)]
        for k in b.buckets:
            word = "up to" if k.inclusive else "under"
            lead = f"{word} {quantity(k.upper)}" if k.upper is not None else "otherwise"
            lines += pack(2, [lead, outcome(k.outcome), *note(k.note)], k)
        return lines
    if isinstance(b, m.AssetTable):
        lines = [Line(1, "by asset", b.span.line)]
        for r in b.rows:
            lead = r.asset.name if r.asset is not None else "otherwise"
            lines += pack(2, [lead, outcome(r.outcome), *note(r.note)], r)
        return lines
    if isinstance(b, m.Flat):
        lead = "rate " if isinstance(b.outcome, m.Rate) else ""
        return pack(1, [lead + outcome(b.outcome), *note(b.note)], b)
    if b.regimes:
        groups = " and ".join(_brace(g) for g in b.groups())
        return [Line(1, f"more conservative of {groups}", b.span.line)]
    return [Line(1, f"more conservative of {_names(b.schedules)}", b.span.line)]


def _haircut(s: m.Haircut) -> list[Line]:
    return [
        _head(s, f"haircut {s.id} for collateral"),
        *_where(s.where),
        *_clauses(s),
        *_body(s.body),
    ]


def _concentration(s: m.Concentration) -> list[Line]:
    return [
        _head(s, f"concentration {s.id} for collateral"),
        *_where(s.where),
        *_clauses(s),
        Line(1, f"at most {value(s.limit)} of {s.of.value}", s.limit.span.line),
    ]


def _margin(s: m.Margin) -> list[Line]:
    return [
        _head(s, f"margin {s.id}"),
        *_clauses(s),
        *_where(s.applies_to, "applies to account where"),
        *method(s.method),
    ]


def _offset_rule(r: m.OffsetRule) -> list[Line]:
    if isinstance(r, m.Netting):
        return pack(1, [f"net within class group {value(r.rate)}", *note(r.note)], r)
    if isinstance(r, m.ClassGroupCredit):
        each = "each leg " if r.per_leg else ""
        lines = [Line(1, f"credit {each}between class groups by {expr(r.key)}", r.span.line)]
        for row in r.rows:
            lines += pack(2, [credit_pair(row), value(row.rate), *note(row.note)], row)
        return lines
    if isinstance(r, m.Separate):
        return [Line(1, "sets each account alone", r.span.line)]
    if isinstance(r, m.MergeAccounts):
        return pack(1, [*lead("sets merge account where ", r.where), "by owner and carrier"], r)
    if isinstance(r, m.Dv01Pairing):
        return _pairing(r)
    if isinstance(r, m.GiveUp):
        return pack(
            1,
            [
                *lead("sets position where ", r.positions),
                *lead("goes to account where ", r.anchor),
                "by owner and carrier",
            ],
            r,
        )
    return pack(
        1,
        [
            *lead("sets account where ", r.anchor),
            *lead("takes in position where ", r.positions),
            "by owner and carrier",
        ],
        r,
    )


def _pairing_bucket(b: m.PairingBucket) -> list[Line]:
    bound = "otherwise" if b.within is None else f"within {quantity(b.within)}"
    return pack(2, [f"bucket {b.name} {bound}", *note(b.note)], b)


def _pairing_row(r: m.PairingRow) -> list[Line]:
    return pack(2, [f"{r.first.name} with {r.second.name}", value(r.rate), *note(r.note)], r)


def _pairing(r: m.Dv01Pairing) -> list[Line]:
    lines = pack(
        1,
        [
            *lead(f"pair dv01 of {r.first_house.name} position where ", r.first),
            *lead(f"against {r.second_house.name} position where ", r.second),
        ],
        r,
    )
    for b in r.buckets:
        lines += _pairing_bucket(b)
    for row in r.rows:
        lines += _pairing_row(row)
    return lines


def _offset(s: m.Offset) -> list[Line]:
    return [_head(s, f"offset {s.id}"), *_clauses(s), *_offset_rule(s.rule)]


def _removal(s: m.Removal) -> list[Line]:
    return [
        Line(0, f"remove {s.target_kind.value} {s.id}", s.span.line, statement=True),
        *_clauses(s),
    ]


def _change(c: m.RequirementChange) -> list[Line]:
    if c.requirement is None:
        return [Line(1, f"drop require {c.name}", c.span.line)]
    return _requirement(c.requirement, f"{c.edit.value} ")


def _row_change(c: m.RowChange) -> list[Line]:
    """``add row ROW``, ``replace row ROW`` (the row as its table writes it), ``drop row KEY``."""
    if c.row is None:
        return [Line(1, f"drop row {c.key}", c.span.line)]
    first, *rest = block(c.row)
    head = Line(1, f"{c.edit.value} row {first.text}", c.span.line)
    return [head, *(Line(x.depth - 1, x.text, x.anchor) for x in rest)]


def _extension(s: m.Extension) -> list[Line]:
    lines = [
        Line(0, f"extend {s.target_kind.value} {s.id}", s.span.line, statement=True),
        *_clauses(s),
    ]
    for c in s.changes:
        lines += _change(c) if isinstance(c, m.RequirementChange) else _row_change(c)
    return lines


def _header(h: m.Header) -> list[Line]:
    lines = [Line(0, f"rulebook {h.id} {string(h.title)}", h.span.line)]
    if h.replaces is not None:
        lines.append(Line(1, f"replaces shipped {h.replaces.name}", h.replaces.span.line))
    if h.jurisdiction is not None:
        lines.append(Line(1, f"jurisdiction {h.jurisdiction}"))
    if h.version is not None:
        lines.append(Line(1, f"version {string(h.version)}"))
    if h.effective is not None:
        lines.append(Line(1, effective(h.effective), h.effective.span.line))
    if h.citation is not None:
        lines.append(Line(1, f"cites {string(h.citation.text)}", h.citation.span.line))
    if h.extends:
        lines.append(Line(1, f"extends {_names(h.extends)}", h.extends[0].span.line))
    return lines + _accepts(h.accepts)


def _rulebook(b: m.Rulebook) -> list[Line]:
    lines = _header(b.header)
    for s in b.statements:
        lines += block(s)
    return lines


def _inline(n: m.Node) -> list[Line]:
    return [Line(0, _INLINE[type(n)](n))]


_INLINE: dict[type[m.Node], Callable[[Any], str]] = {
    **EXPR_HANDLERS,
    m.Citation: lambda n: f"cites {string(n.text)}",
    m.Acceptance: _accept,
    m.Effective: effective,
    m.Note: lambda n: " ".join(note(n)),
    m.Rate: outcome,
    m.Ineligible: outcome,
    m.Comment: lambda n: n.text,
}


#: One handler per node type (a test asserts that every type of the model has one).
HANDLERS: dict[type[m.Node], Callable[[Any], list[Line]]] = {
    **{t: _inline for t in _INLINE},
    m.Rulebook: _rulebook,
    m.Header: _header,
    m.Parameter: _parameter,
    m.Scope: _scope,
    m.Eligibility: _eligibility,
    m.Segregation: _segregation,
    m.Haircut: _haircut,
    m.Concentration: _concentration,
    m.Margin: _margin,
    m.Offset: _offset,
    m.Removal: _removal,
    m.Extension: _extension,
    m.Requirement: _requirement,
    m.RequirementChange: _change,
    m.RowChange: _row_change,
    m.CollateralFlow: _constraint,
    m.CarrierKinds: _constraint,
    m.SingleOwner: _constraint,
    m.MergedCarrier: _constraint,
    m.MaturityBuckets: _body,
    m.AssetTable: _body,
    m.Flat: _body,
    m.MoreConservative: _body,
    m.Bucket: lambda b: _body(m.MaturityBuckets(buckets=(b,)))[1:],
    m.AssetRow: lambda r: _body(m.AssetTable(rows=(r,)))[1:],
    m.ScenarioGrid: method,
    m.SpanScan: method,
    m.Rates: method,
    m.StrategyBased: method,
    m.InitialMultiple: method,
    m.MinimumEquity: method,
    m.ConcentrationAddOn: method,
    m.RangeRow: range_row,
    m.ScanRow: scan_row,
    m.RateRow: rate_row,
    m.StrategyRow: strategy_row,
    m.LowPriceTier: lambda t: pack(0, low_price_parts(t), t),
    m.OfUnderlying: lambda b: pack(0, of_underlying_parts("", b), b),
    m.ContractMinimum: minimum,
    m.SpreadTier: spread_tier,
    m.CalendarSpreads: calendar_spreads,
    m.CalendarCase: calendar_case,
    m.DeliveryCharge: delivery_charge,
    m.Netting: _offset_rule,
    m.ClassGroupCredit: _offset_rule,
    m.Separate: _offset_rule,
    m.MergeAccounts: _offset_rule,
    m.TakeIn: _offset_rule,
    m.GiveUp: _offset_rule,
    m.Dv01Pairing: _offset_rule,
    m.PairingBucket: lambda b: [Line(0, x.text, x.anchor) for x in _pairing_bucket(b)],
    m.PairingRow: lambda r: [Line(0, x.text, x.anchor) for x in _pairing_row(r)],
    m.Expiring: lambda t: [Line(0, spread_leg(None, m.Symbol(name="KEY"), t).removeprefix("KEY "))],
    m.CreditRow: lambda r: _offset_rule(
        m.ClassGroupCredit(key=m.FieldRef(subject=m.Subject.INSTRUMENT, name="product"), rows=(r,))
    )[1:],
}


def block(node: m.Node) -> list[Line]:
    """The output lines of any node, through the dispatch table."""
    return HANDLERS[type(node)](node)


def _merge_comments(
    lines: list[Line], comments: tuple[m.Comment, ...], code_lines: set[int], gap_after: set[int]
) -> list[str]:
    """Interleave comments: full-line ones before the first line anchored after them,
    trailing ones at the end of the line they followed. When the layout joins lines that
    each had one, or a clause written over several lines held a comment line, they go on
    lines of their own, in order, before the first line of what was joined (one comment
    never swallows another, none leaves its clause, and a second ``fmt`` leaves them)."""
    where = _Anchors(lines)
    trailing: dict[int, list[m.Comment]] = {}
    full = [c for c in comments if c.span.line not in code_lines]
    for c in comments:
        if c.span.line in code_lines:
            trailing.setdefault(where.trail_target(c.span.line), []).append(c)
    ahead: dict[int, list[m.Comment]] = {}  # comments of joined lines, before the first
    for i, notes in list(trailing.items()):
        if len(notes) > 1:
            ahead.setdefault(where.anchored_up_to(i), []).extend(trailing.pop(i))
    kept = []
    for c in full:  # a full-line comment inside a clause the layout packs goes before it
        inside = where.inside.get(c.span.line)
        if inside is None:
            kept.append(c)
        else:
            ahead.setdefault(inside, []).append(c)
    full = kept
    out: list[str] = []
    pending = sorted(full, key=lambda c: (c.span.line, c.span.column))
    for i, line in enumerate(lines):
        # pending is sorted by line: the comments before this line are a prefix of it
        anchor = line.anchor
        cut = 0 if anchor is None else bisect_left(pending, anchor, key=lambda c: c.span.line)
        before, pending = pending[:cut], pending[cut:]
        if line.statement:
            out.append("")
        for c in before:
            out.append(IND * line.depth + c.text)
            if c.span.line in gap_after and out[-1]:
                out.append("")
        joined = sorted(ahead.get(i, []), key=lambda c: (c.span.line, c.span.column))
        out += [IND * line.depth + c.text for c in joined]
        text = IND * line.depth + line.text
        if i in trailing:
            text += "  " + trailing[i][0].text
        out.append(text)
    out += [c.text for c in pending]
    return out


class _Anchors:
    """Where comments go among the formatted lines, each lookup without a scan of them all
    (a scan per comment made ``fmt`` quadratic: 6.6 s for 3,000 commented parameters).

    >>> lines = [Line(0, "a", anchor=1), Line(1, "b c", anchor=2, last=4), Line(1, "d")]
    >>> where = _Anchors(lines)
    >>> where.inside, where.trail_target(2), where.trail_target(9), where.anchored_up_to(2)
    ({3: 1}, 1, 2, 1)
    """

    def __init__(self, lines: list[Line]) -> None:
        self.by_anchor: dict[int, int] = {}  # a source line -> the last line anchored there
        # a source line strictly inside a clause packed from several -> the first such line
        self.inside: dict[int, int] = {}
        self.filled: list[int] = []  # the last anchor at or before each line
        self.last_anchored: list[int] = []  # the last anchored line at or before each line
        filled, anchored = 0, -1
        for i, line in enumerate(lines):
            if line.anchor is not None:
                self.by_anchor[line.anchor] = i
                filled, anchored = line.anchor, i
                for k in range(line.anchor + 1, line.last or 0):
                    self.inside.setdefault(k, i)
            self.filled.append(filled)
            self.last_anchored.append(anchored)
        self._sorted = all(a <= b for a, b in pairwise(self.filled))

    def trail_target(self, comment_line: int) -> int:
        """The line a trailing comment written on ``comment_line`` ends: the last line
        anchored there, else the last line whose anchor so far is at or before it."""
        if comment_line in self.by_anchor:
            return self.by_anchor[comment_line]
        if self._sorted:
            return max(bisect_right(self.filled, comment_line) - 1, 0)
        return max((i for i, f in enumerate(self.filled) if f <= comment_line), default=0)

    def anchored_up_to(self, i: int) -> int:
        """The last anchored line at or before line ``i`` (``i`` itself when there is none)."""
        found = self.last_anchored[i]
        return found if found >= 0 else i


def format_rulebook(
    book: m.Rulebook, code_lines: set[int] | None = None, gap_after: set[int] | None = None
) -> str:
    """The canonical text of a rulebook model, with its comments put back.

    ``code_lines`` are the lines where a comment trails code; ``gap_after`` the lines of
    full-line comments followed by a blank line (kept, so section titles stay apart).
    """
    text_lines = _merge_comments(
        block(book), book.comments, code_lines or set(), gap_after or set()
    )
    return "\n".join(text_lines).strip("\n") + "\n"


def format_text(text: str, path: str = "<string>") -> str:
    """Parse and print in canonical layout; raise RulebookError if it does not parse.

    >>> print(format_text('rulebook r "R"  parameter p = 5 USD cites "x"'), end="")
    rulebook r "R"
    <BLANKLINE>
    parameter p = 5 USD
      cites "x"
    """
    # Line ends as a file is read (`read_text`): a lone carriage return inside a quoted text
    # was written back as the two characters `\r`, a text the parser reads otherwise.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    book = parse(text, path)
    rows = text.splitlines()
    gaps = {
        c.span.line
        for c in book.comments
        if c.span.line < len(rows) and not rows[c.span.line].strip()
    }
    return format_rulebook(book, _code_lines(text, book.comments), gaps)


def _code_lines(text: str, comments: tuple[m.Comment, ...]) -> set[int]:
    """Lines where a comment follows code (so the comment trails that code)."""
    rows = text.splitlines()
    return {
        c.span.line
        for c in comments
        if c.span.line <= len(rows) and rows[c.span.line - 1][: c.span.column - 1].strip()
    }
