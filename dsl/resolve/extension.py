"""``extend``, and what an ``override`` drops from the statement it replaces.

An extension edits an inherited eligibility requirement by requirement (``add require``,
``replace require``, ``drop require``), or a haircut table or margin method row by row
(``add row``, ``replace row``, ``drop row``: :mod:`.rows`), so that a variant never
restates, and never silently loses, the requirements and rows it does not mean to touch. An
``override`` that restates a statement and leaves out some of its requirements or table rows
is warned about (MLX214): the rows a variant forgot are the costliest mistake a checker can
catch.
"""

from __future__ import annotations

from marginlex.dsl.diagnostics import Code, Diagnostic, did_you_mean, error, warning
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.resolve.rows import extend_rows, keyed_rows


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
) -> tuple[m.Statement | None, list[Diagnostic]]:
    """The inherited statement ``current`` with the extension's changes applied.

    Returns None (and the problem) when ``current`` is not of the extension's kind (or, for
    rows, has no table); otherwise the changed statement and a diagnostic for each change
    that could not apply.
    """
    if current.kind != ext.target_kind:
        kind = ext.target_kind.value
        message = f"cannot extend {kind} `{ext.id}`: it is a {current.kind.value}"
        hint = f"write `extend {current.kind.value} {ext.id}` or `override {current.kind.value}`"
        return None, [error(Code.NOTHING_TO_OVERRIDE, message, ext.span, hint)]
    if not ext.changes:
        lines = (
            "`add require`, `replace require` or `drop require`"
            if ext.target_kind is m.StatementKind.ELIGIBILITY
            else "`add row`, `replace row` or `drop row`"
        )
        hint = f"add {lines} lines, or remove it"
        missing = [error(Code.MISSING_CLAUSE, "this extension changes nothing", ext.span, hint)]
    else:
        missing = []
    missing += _edited_twice(ext)
    if not isinstance(current, m.Eligibility):
        changed, found = extend_rows(ext, current)
        return changed, found + missing
    reqs = list(current.requirements)
    edits = [c for c in ext.changes if isinstance(c, m.RequirementChange)]
    found = [d for c in edits if (d := _edit(reqs, c, ext)) is not None]
    return current.model_copy(update={"requirements": tuple(reqs)}), found + missing


def _edited_twice(ext: m.Extension) -> list[Diagnostic]:
    """An error at each change of a row or requirement the extension already changed: the
    last would win without a word (``replace row MMF 7%`` then ``replace row MMF 9%``)."""
    seen: dict[str, int] = {}
    found = []
    for c in ext.changes:
        key = change_key(c)
        if key in seen:
            found.append(
                error(
                    change_code(c),
                    f"{key} is already changed at line {seen[key]} of this extension",
                    c.span,
                    "change each row or requirement once: keep the edit you mean",
                )
            )
        else:
            seen[key] = c.span.line
    return found


def change_key(c: m.RowChange | m.RequirementChange) -> str:
    """What an ``extend`` line changes, as a person names it: ``row MMF``, ``require x``."""
    return f"row {c.key}" if isinstance(c, m.RowChange) else f"require {c.name}"


def change_code(c: m.RowChange | m.RequirementChange) -> Code:
    """The code of a problem with an ``extend`` line: a row's edit or a requirement's."""
    return Code.ROW_EDIT if isinstance(c, m.RowChange) else Code.REQUIREMENT_EDIT


def _rows(s: m.Statement) -> dict[str, str]:
    """The named parts of a statement an override can drop: requirement names, table rows.

    Keyed by what identifies the part, valued by how a person names it in a message.
    """
    if isinstance(s, m.Eligibility):
        return {r.name: f"require {r.name}" for r in s.requirements}
    return {key: f"row {key}" for key in keyed_rows(s)}


def _shape(s: m.Statement) -> type | None:
    """The class of what holds the parts: a haircut's body, a margin's method."""
    if isinstance(s, m.Haircut):
        return type(s.body)
    if isinstance(s, m.Margin):
        return type(s.method)
    return None


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
        else f"write `extend {old.kind.value} {old.id}` to change only the rows you name "
        '(`add`, `replace`, `drop row`), or `accept MLX214 because "..."` if meant'
    )
    return warning(
        Code.OVERRIDE_DROPS,
        f"this override of {old.kind.value} `{old.id}` drops {count} of the statement it "
        f"replaces: {', '.join(gone)}",
        new.span,
        hint,
    )
