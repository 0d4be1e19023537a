"""Hybrid rulebooks: rulebook A with a chosen set of statement ids taken from rulebook B.

The attribution engine (:mod:`marginlex.engine.variants.attribution`) switches the statements that
differ between two rulebooks from A to B one at a time; each intermediate step is a hybrid.
A hybrid is a new :class:`ResolvedRulebook`; neither A nor B is touched (every node is
frozen, and the statement tuples are rebuilt).

A table statement (a haircut table, a margin method's rows) whose only operative difference
is in its rows is switched **row by row** (:func:`expand_rows`): each differing row is a
unit ``"ID row KEY"`` (``sec_treasuries row under 5 years``), and :func:`switch` builds the
hybrid with A's statement and those rows taken from B.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from marginlex.dsl.format.rows import row_key
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.dsl.resolve.rows import holder, table_rows, with_rows

#: Between a statement id and a row key in a row unit (ids are names: never a space).
ROW = " row "


def _place(
    out: list[m.Statement], new: tuple[m.Statement, ...], sid: str, b_order: list[str]
) -> None:
    """Insert ``new`` after the nearest statement before ``sid`` in B's order already in out."""
    present = [x.id for x in out]
    index = 0
    for earlier in reversed(b_order[: b_order.index(sid)]):
        if earlier in present:
            index = len(present) - present[::-1].index(earlier)
            break
    out[index:index] = new


def hybrid(
    a: ResolvedRulebook,
    b: ResolvedRulebook,
    statement_ids: Iterable[str],
    hybrid_id: str | None = None,
) -> ResolvedRulebook:
    """Rulebook ``a`` with the statements of the given ids taken from ``b``.

    An id in both replaces A's statements (all dated versions) at A's position; an id only
    in B is inserted after the nearest statement that precedes it in B; an id only in A is
    removed. Switching every differing id gives B's statements.

    Args:
        a: the base rulebook (never modified).
        b: the rulebook the statements come from (never modified).
        statement_ids: the ids to take from ``b``.
        hybrid_id: the id of the result (default ``"<a>+<n>of<b>"``).

    Returns:
        A new resolved rulebook with A's header (id replaced) and merged origins.

    Raises:
        KeyError: an id is in neither rulebook.

    >>> from marginlex.dsl.loader import load_rulebook
    >>> sec, h = load_rulebook("sec"), load_rulebook("harmonized")
    >>> mixed = hybrid(sec, h, ["sec_margin_sets"])
    >>> [type(r.get("sec_margin_sets").rule).__name__ for r in (mixed, sec)]
    ['MergeAccounts', 'Separate']
    """
    ids = list(dict.fromkeys(statement_ids))
    a_ids = {s.id for s in a.statements}
    b_order = list(dict.fromkeys(s.id for s in b.statements))
    unknown = [i for i in ids if i not in a_ids and i not in b_order]
    if unknown:
        raise KeyError(f"no statement {', '.join(unknown)} in `{a.id}` or `{b.id}`")
    out = list(a.statements)
    origins = dict(a.origins)
    for sid in sorted(ids, key=lambda i: b_order.index(i) if i in b_order else -1):
        new = tuple(s for s in b.statements if s.id == sid)
        first = next((i for i, s in enumerate(out) if s.id == sid), None)
        out = [s for s in out if s.id != sid]
        origins.pop(sid, None)
        if not new:
            continue
        origins[sid] = b.origins.get(sid, b.id)
        if first is not None:
            out[first:first] = new
        else:
            _place(out, new, sid, b_order)
    name = hybrid_id or f"{a.id}+{len(ids)}of{b.id}"
    return ResolvedRulebook(
        header=a.header.model_copy(update={"id": name}),
        statements=tuple(out),
        origins=origins,
        bases=a.bases,
        sources=a.sources,
    )


def split_unit(unit: str) -> tuple[str, str | None]:
    """``("sec_treasuries", "under 5 years")`` for a row unit, ``(id, None)`` for an id."""
    sid, _, key = unit.partition(ROW)
    return sid, key or None


_SKIPPED = m.SPAN_FIELDS | {"note"}


def _plain(data: Any) -> Any:
    """Model data without spans and row notes (citations and status marks move nothing)."""
    if isinstance(data, dict):
        return {k: _plain(v) for k, v in data.items() if k not in _SKIPPED}
    if isinstance(data, list):
        return [_plain(x) for x in data]
    return data


def _frame(s: m.Statement) -> Any:
    """What a table statement says besides its rows."""
    data = with_rows(s, ()).model_dump(mode="json")
    return _plain({k: data.get(k) for k in ("where", "applies_to", "body", "method", "effective")})


def _rows(s: m.Statement) -> dict[str, Any]:
    return {row_key(r): _plain(r.model_dump(mode="json")) for r in table_rows(s)}


def differing_rows(a: ResolvedRulebook, b: ResolvedRulebook, sid: str) -> list[str]:
    """The keys of the rows of ``sid`` that differ from A to B, in B's order then A's;
    empty unless ``sid`` is one table statement in both whose other parts are alike, whose
    keys are unique and whose common rows keep their order (then its rows can be switched
    one at a time and, all switched, give B's statement)."""
    old = [s for s in a.statements if s.id == sid]
    new = [s for s in b.statements if s.id == sid]
    if len(old) != 1 or len(new) != 1 or type(old[0]) is not type(new[0]):
        return []
    x, y = old[0], new[0]
    if holder(x) is None or type(holder(x)) is not type(holder(y)) or _frame(x) != _frame(y):
        return []
    rx, ry = _rows(x), _rows(y)
    if len(rx) != len(table_rows(x)) or len(ry) != len(table_rows(y)):
        return []  # a duplicated key: rows cannot be named one by one
    if [k for k in rx if k in ry] != [k for k in ry if k in rx]:
        return []  # common rows reordered: the order itself is the change
    keys = [k for k in ry if rx.get(k) != ry[k]] + [k for k in rx if k not in ry]
    return keys


def expand_rows(a: ResolvedRulebook, b: ResolvedRulebook, ids: Iterable[str]) -> list[str]:
    """``ids`` with each table statement that differs only in rows replaced by one unit per
    differing row (``"ID row KEY"``), in :func:`differing_rows` order."""
    out: list[str] = []
    for sid in ids:
        keys = differing_rows(a, b, sid)
        out += [f"{sid}{ROW}{k}" for k in keys] if keys else [sid]
    return out


def _switch_rows(x: m.Statement, y: m.Statement, keys: set[str]) -> m.Statement:
    """A's statement ``x`` with the rows of the given keys taken from B's ``y``."""
    rows = list(table_rows(x))
    theirs = {row_key(r): r for r in table_rows(y)}
    order = list(theirs)
    for key in [k for k in order if k in keys] + [k for k in keys if k not in theirs]:
        present = [row_key(r) for r in rows]
        if key not in theirs:
            del rows[present.index(key)]
        elif key in present:
            rows[present.index(key)] = theirs[key]
        else:
            before = [k for k in order[: order.index(key)] if k in present]
            at = present.index(before[-1]) + 1 if before else 0
            rows.insert(at, theirs[key])
    return with_rows(x, tuple(rows))


def switch(
    a: ResolvedRulebook, b: ResolvedRulebook, units: Iterable[str], hybrid_id: str | None = None
) -> ResolvedRulebook:
    """Rulebook ``a`` with the given units taken from ``b``: statement ids as :func:`hybrid`
    takes them, row units (``"ID row KEY"``) one row of A's statement at a time."""
    units = list(units)
    ids = [u for u in units if split_unit(u)[1] is None]
    rows: dict[str, set[str]] = {}
    for sid, key in map(split_unit, units):
        if key is not None:
            rows.setdefault(sid, set()).add(key)
    mixed = hybrid(a, b, ids, hybrid_id or f"{a.id}+{len(units)}of{b.id}")
    if not rows:
        return mixed
    theirs = {s.id: s for s in b.statements if s.id in rows}
    statements = tuple(
        _switch_rows(s, theirs[s.id], rows[s.id]) if s.id in rows else s for s in mixed.statements
    )
    origins = dict(mixed.origins)
    origins.update({sid: b.origins.get(sid, b.id) for sid in rows})
    return mixed.model_copy(update={"statements": statements, "origins": origins})
