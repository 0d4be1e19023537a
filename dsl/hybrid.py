"""Hybrid rulebooks: rulebook A with a chosen set of statement ids taken from rulebook B.

The attribution engine (:mod:`marginlex.engine.variants.attribution`) switches the statements that
differ between two rulebooks from A to B one at a time; each intermediate step is a hybrid.
A hybrid is a new :class:`ResolvedRulebook`; neither A nor B is touched (every node is
frozen, and the statement tuples are rebuilt).
"""

from __future__ import annotations

from collections.abc import Iterable

from marginlex.dsl.model import rulebook as m
from marginlex.dsl.resolve import ResolvedRulebook


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
