"""The rows of a table statement, keyed as a person reads them, and ``extend haircut`` /
``extend margin`` applied to them.

A haircut's ``by asset`` or ``by residual_maturity`` table and a margin method's ``range`` /
rate rows (:func:`marginlex.dsl.model.rulebook.selector_rows`) are the tables an extension
edits row by row, MLX214 lists the dropped rows of, and ``compare`` attributes deltas to.
"""

from __future__ import annotations

from marginlex.dsl.diagnostics import Code, Diagnostic, did_you_mean, error
from marginlex.dsl.format.rows import OTHERWISE, row_key
from marginlex.dsl.model import rulebook as m

#: Per table holder: the type of its rows, how they read, the field that holds them.
_HOLDERS: dict[type, tuple[type, str, str]] = {
    m.AssetTable: (m.AssetRow, "`ASSET RATE`", "rows"),
    m.MaturityBuckets: (m.Bucket, "`under|up to BOUND RATE`", "buckets"),
    m.ScenarioGrid: (m.RangeRow, "`range when ... up U down D`", "ranges"),
    m.SpanScan: (m.ScanRow, "`range when ... RANGE`", "ranges"),
    m.Rates: (m.RateRow, "`when ... RATE`", "rows"),
    m.StrategyBased: (m.RateRow, "`when ... RATE`", "others"),
}


def holder(s: m.Statement) -> m.Node | None:
    """What holds a statement's rows: a haircut's table body or a margin's method."""
    if isinstance(s, m.Haircut) and isinstance(s.body, m.AssetTable | m.MaturityBuckets):
        return s.body
    if isinstance(s, m.Margin) and type(s.method) in _HOLDERS:
        return s.method
    return None


def table_rows(s: m.Statement) -> tuple[m.TableRow, ...]:
    """The rows of a table statement in order; none for any other statement."""
    body = holder(s)
    if isinstance(body, m.AssetTable):
        return body.rows
    if isinstance(body, m.MaturityBuckets):
        return body.buckets
    if isinstance(s, m.Margin):
        return m.selector_rows(s.method)
    return ()


def keyed_rows(s: m.Statement) -> dict[str, m.TableRow]:
    """The rows of a table statement by key (the first row of a duplicated key)."""
    out: dict[str, m.TableRow] = {}
    for row in table_rows(s):
        out.setdefault(row_key(row), row)
    return out


def with_rows(s: m.Statement, rows: tuple[m.TableRow, ...]) -> m.Statement:
    """``s`` with its table's rows replaced by ``rows`` (of the table's row type)."""
    body = holder(s)
    assert body is not None
    new = body.model_copy(update={_HOLDERS[type(body)][2]: rows})
    return s.model_copy(update={"body" if isinstance(s, m.Haircut) else "method": new})


def _cited(row: m.TableRow, ext: m.Extension) -> m.TableRow:
    """The row with the extension's citation and status where it has none."""
    note = row.note or m.Note(span=row.span)
    if note.citation is not None or ext.citation is None:
        return row
    status = note.status or ext.status
    return row.model_copy(
        update={"note": note.model_copy(update={"citation": ext.citation, "status": status})}
    )


def _fit(row: m.TableRow, body: m.Node) -> m.TableRow | None:
    """``row`` as a row of ``body``'s table (``otherwise`` fits both haircut tables)."""
    want = _HOLDERS[type(body)][0]
    if isinstance(row, want):
        return row
    if want is m.AssetRow and isinstance(row, m.Bucket) and row.upper is None:
        return m.AssetRow(asset=None, outcome=row.outcome, note=row.note, span=row.span)
    return None


def _position(rows: list[m.TableRow], row: m.TableRow) -> int:
    """Where an added row goes: before ``otherwise``; a bucket in order of its bound."""
    for i, old in enumerate(rows):
        if row_key(old) == OTHERWISE:
            return i
        if isinstance(old, m.Bucket) and isinstance(row, m.Bucket) and _above(old, row):
            return i
    return len(rows)


def _above(old: m.Bucket, new: m.Bucket) -> bool:
    """Whether ``old``'s bound is above ``new``'s (both bounded)."""
    return old.upper is not None and new.upper is not None and old.upper.base > new.upper.base


def _edit(
    rows: list[m.TableRow], change: m.RowChange, body: m.Node, ext: m.Extension
) -> Diagnostic | None:
    """Apply one row change to ``rows`` in place; the problem when it cannot apply."""
    keys = [row_key(r) for r in rows]
    where = f"{ext.target_kind.value} `{ext.id}`"
    row = None if change.row is None else _fit(change.row, body)
    if change.row is not None and row is None:
        shape = _HOLDERS[type(body)][1]
        message = f"this row does not fit {where}: its rows read {shape}"
        return error(Code.ROW_EDIT, message, change.span, "write the row as the table writes it")
    if change.edit is m.RequirementEdit.ADD:
        if change.key in keys:
            hint = f"write `replace row {change.key} ...` to change it"
            message = f"{where} already has a row `{change.key}`"
            return error(Code.ROW_EDIT, message, change.span, hint)
        assert row is not None
        rows.insert(_position(rows, row), _cited(row, ext))
        return None
    if change.key not in keys:
        close = did_you_mean(change.key, keys)
        if close is None and change.edit is m.RequirementEdit.REPLACE:
            close = "write `add row ...` to add a new row"
        message = f"cannot {change.edit.value} row `{change.key}`: {where} has no such row"
        listed = f"its rows are {', '.join(keys)}"
        return error(Code.ROW_EDIT, message, change.span, close or listed)
    index = keys.index(change.key)
    if row is None:
        del rows[index]
    else:
        rows[index] = _cited(row, ext)
    return None


def _kind_of(current: m.Statement) -> str:
    """What a statement without a table of rows is, as the rulebook writes it: ``an
    `ineligible because` statement``, ``a flat `rate```, ``a `more conservative of```."""
    part = current.body if isinstance(current, m.Haircut) else getattr(current, "method", None)
    if isinstance(part, m.Flat):
        written = "ineligible because" if isinstance(part.outcome, m.Ineligible) else "rate"
        return f"an `{written}` statement" if written != "rate" else "a flat `rate`"
    node = str(getattr(part, "node", ""))
    written = _WRITTEN.get(node, node.replace("_", " "))
    if not written:
        return f"a {current.kind.value} statement"
    return f"{'an' if written[0] in 'aeiou' else 'a'} `{written}`"


_WRITTEN = {  # how a statement without rows is written, where its node's name is not that
    "initial_multiple": "initial ... of maintenance",
    "concentration_add_on": "concentration add",
    "more_conservative": "more conservative of",
}


def extend_rows(
    ext: m.Extension, current: m.Statement
) -> tuple[m.Statement | None, list[Diagnostic]]:
    """The inherited table statement ``current`` with the extension's row changes applied."""
    body = holder(current)
    if body is None:
        what = _kind_of(current)
        message = f"cannot extend {ext.target_kind.value} `{ext.id}`: it has no table of rows"
        hint = f"it is {what}; write `override {current.kind.value} {ext.id}` to restate it"
        return None, [error(Code.ROW_EDIT, message, ext.span, hint)]
    rows = list(table_rows(current))
    changes = [c for c in ext.changes if isinstance(c, m.RowChange)]
    found = [d for c in changes if (d := _edit(rows, c, body, ext)) is not None]
    if not rows and changes and isinstance(body, m.AssetTable | m.MaturityBuckets):
        found.append(_emptied(ext, changes[-1]))
    return with_rows(current, tuple(rows)), found


def _emptied(ext: m.Extension, last: m.RowChange) -> Diagnostic:
    """MLX216 at the change that drops a haircut table's last row: a table of no rows is
    no text a rulebook can write (``by asset`` takes one row or more), and it valued every
    lot the haircut takes at nothing."""
    where = f"{ext.target_kind.value} `{ext.id}`"
    return error(
        Code.ROW_EDIT,
        f"this leaves {where} with no row: its table holds one row or more",
        last.span,
        "keep a row (`otherwise 100%` counts nothing of a lot), or write "
        f'`remove {ext.target_kind.value} {ext.id} cites "..."` to drop the statement',
    )
