"""``extend eligibility``, and what an ``override`` drops from the statement it replaces.

An extension edits an inherited eligibility requirement by requirement (``add require``,
``replace require``, ``drop require``) so that a variant never restates, and never silently
loses, the requirements it does not mean to touch. An ``override`` that restates a statement
and leaves out some of its requirements or table rows is warned about (MLX214): the rows a
variant forgot are the costliest mistake a checker can catch.
"""

from __future__ import annotations

from marginlex.dsl.diagnostics import Code, Diagnostic, did_you_mean, error, warning
from marginlex.dsl.format.expressions import expr, value
from marginlex.dsl.model import rulebook as m


def _cited(req: m.Requirement, ext: m.Extension) -> m.Requirement:
    """The requirement with the extension's citation and status where it has none."""
    note = req.note or m.Note(span=req.span)
    if note.citation is not None:
        return req
    status = note.status or ext.status
    return req.model_copy(
        update={"note": note.model_copy(update={"citation": ext.citation, "status": status})}
    )


def _edit(
    reqs: list[m.Requirement], change: m.RequirementChange, ext: m.Extension
) -> Diagnostic | None:
    """Apply one change to ``reqs`` in place; the problem when it cannot apply."""
    names = [r.name for r in reqs]
    where = f"eligibility `{ext.id}`"
    if change.edit is m.RequirementEdit.ADD:
        if change.name in names:
            return error(
                Code.REQUIREMENT_EDIT,
                f"{where} already has a requirement `{change.name}`",
                change.span,
                f"write `replace require {change.name}` to change it, or choose another name",
            )
        assert change.requirement is not None
        reqs.append(_cited(change.requirement, ext))
        return None
    if change.name not in names:
        verb = change.edit.value
        hint = did_you_mean(change.name, names)
        if hint is None and change.edit is m.RequirementEdit.REPLACE:
            hint = f"write `add require {change.name}` to add a new requirement"
        return error(
            Code.REQUIREMENT_EDIT,
            f"cannot {verb} requirement `{change.name}`: {where} has no such requirement",
            change.span,
            hint or f"its requirements are {', '.join(names)}",
        )
    index = names.index(change.name)
    if change.edit is m.RequirementEdit.DROP:
        del reqs[index]
    else:
        assert change.requirement is not None
        reqs[index] = _cited(change.requirement, ext)
    return None


def extend(
    ext: m.Extension, current: m.Statement, book_id: str
) -> tuple[m.Eligibility | None, list[Diagnostic]]:
    """The inherited eligibility ``current`` with the extension's changes applied.

    Returns None (and the problem) when ``current`` is not an eligibility; otherwise the
    changed statement and a diagnostic for each change that could not apply.
    """
    if not isinstance(current, m.Eligibility):
        message = f"cannot extend eligibility `{ext.id}`: it is a {current.kind.value}"
        hint = f"only an eligibility can be extended; write `override {current.kind.value}`"
        return None, [error(Code.NOTHING_TO_OVERRIDE, message, ext.span, hint)]
    reqs = list(current.requirements)
    found = [d for c in ext.changes if (d := _edit(reqs, c, ext)) is not None]
    if not ext.changes:
        hint = "add `add require`, `replace require` or `drop require` lines, or remove it"
        found.append(error(Code.MISSING_CLAUSE, "this extension changes nothing", ext.span, hint))
    return current.model_copy(update={"requirements": tuple(reqs)}), found


def _rows(s: m.Statement) -> dict[str, str]:
    """The named parts of a statement an override can drop: requirement names, table rows.

    Keyed by what identifies the part, valued by how a person names it in a message.
    """
    if isinstance(s, m.Eligibility):
        return {r.name: f"require {r.name}" for r in s.requirements}
    if isinstance(s, m.Haircut):
        body = s.body
        if isinstance(body, m.AssetTable):
            names = [r.asset.name if r.asset else "otherwise" for r in body.rows]
            return {n: f"row {n}" for n in names}
        if isinstance(body, m.MaturityBuckets):
            return {_bound(b): f"row {_bound(b)}" for b in body.buckets}
    if isinstance(s, m.Margin):
        rows = _method_rows(s.method)
        return {_selector(r.when): f"row {_selector(r.when)}" for r in rows}
    return {}


def _method_rows(method: m.MarginMethod) -> tuple[m.RangeRow | m.ScanRow | m.RateRow, ...]:
    if isinstance(method, m.ScenarioGrid):
        return method.ranges
    if isinstance(method, m.SpanScan):
        return method.ranges
    if isinstance(method, m.Rates):
        return method.rows
    return ()


def _shape(s: m.Statement) -> type | None:
    """The class of what holds the parts: a haircut's body, a margin's method."""
    if isinstance(s, m.Haircut):
        return type(s.body)
    if isinstance(s, m.Margin):
        return type(s.method)
    return None


def _bound(b: m.Bucket) -> str:
    return "otherwise" if b.upper is None else f"under {value(b.upper)}"


def _selector(when: m.Expr | None) -> str:
    return "otherwise" if when is None else f"when {expr(when)}"


def dropped(old: m.Statement, new: m.Statement) -> Diagnostic | None:
    """A warning when ``new`` (an override of ``old``) leaves out some of its parts."""
    if _shape(old) != _shape(new):
        return None  # a different kind of table or method replaces the whole statement
    before, after = _rows(old), _rows(new)
    gone = [shown for key, shown in before.items() if key not in after]
    if not gone:
        return None
    what = "requirement" if isinstance(old, m.Eligibility) else "row"
    count = f"{len(gone)} {what}{'s' if len(gone) > 1 else ''}"
    hint = (
        f"write `extend eligibility {old.id}` to change only the requirements you name "
        '(`add`, `replace`, `drop require`), or `accept MLX214 because "..."` if meant'
        if isinstance(old, m.Eligibility)
        else 'restate the rows meant to stay, or `accept MLX214 because "..."` if meant'
    )
    return warning(
        Code.OVERRIDE_DROPS,
        f"this override of {old.kind.value} `{old.id}` drops {count} of the statement it "
        f"replaces: {', '.join(gone)}",
        new.span,
        hint,
    )
