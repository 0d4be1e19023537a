"""Reference tables of the docs generated from the model, so that they cannot drift.

The field table of ``docs/language.md`` ("Fields") is :func:`field_table`, written from the
field registry (:data:`marginlex.dsl.model.fields.FIELDS`) between two marker comments. The
docs site's build hook fills the block in; ``tests/workbench/test_reference.py`` fails when
the page holds another table (regenerate it with ``MARGINLEX_REGEN_GOLDEN=1``).
"""

from __future__ import annotations

import re

from marginlex.dsl.model.fields import FIELDS, FieldType, Kind

BEGIN = "<!-- generated: field table, from dsl/model/fields.py (marginlex.workbench.reference) -->"
END = "<!-- end of generated field table -->"
_BLOCK = re.compile(re.escape(BEGIN) + r"\n.*?" + re.escape(END), re.DOTALL)

_KIND_TEXT = {
    Kind.MONEY: "money",
    Kind.FRACTION: "percentage",
    Kind.DURATION: "duration",
    Kind.MULTIPLE: "multiple",
    Kind.NUMBER: "number",
    Kind.DATE: "date",
    Kind.BOOL: "true/false",
    Kind.TEXT: "text",
    Kind.SYMBOL: "name",
}


def type_text(t: FieldType) -> str:
    """What a field holds, as the table says it.

    >>> type_text(FieldType(Kind.SET, ("a", "b"), doc="signed"))
    'set of a, b: signed'
    >>> type_text(FieldType(Kind.ENUM, ("X",), open_enum=True))
    'X, or another name'
    """
    if t.kind is Kind.ENUM:
        shown = ", ".join(t.values) + (", or another name" if t.open_enum else "")
    elif t.kind is Kind.SET:
        shown = "set of " + ", ".join(t.values)
    else:
        shown = _KIND_TEXT[t.kind]
    return f"{shown}: {t.doc}" if t.doc else shown


def _subject_rows(fields: dict[str, FieldType]) -> list[tuple[str, str]]:
    """(fields, type) rows: fields of one type together, in order of first appearance."""
    grouped: dict[str, list[str]] = {}
    for name, t in fields.items():
        grouped.setdefault(type_text(t), []).append(name)
    return [(", ".join(f"`{n}`" for n in names), text) for text, names in grouped.items()]


def field_table() -> str:
    """The Markdown table of every field of every subject (subjects with the same fields
    share their rows), between the marker comments."""
    subjects: list[tuple[list[str], dict[str, FieldType]]] = []
    for subject, fields in FIELDS.items():
        same = next((s for s in subjects if s[1] == fields), None)
        if same is not None:
            same[0].append(subject.value)
        else:
            subjects.append(([subject.value], fields))
    lines = [BEGIN, "", "| subject | field | type |", "|---|---|---|"]
    for names, fields in subjects:
        for i, (shown, text) in enumerate(_subject_rows(fields)):
            lines.append(f"| {', '.join(names) if i == 0 else ''} | {shown} | {text} |")
    return "\n".join([*lines, "", END])


def fill_field_table(page: str) -> str:
    """The page with its generated block replaced by the current table (unchanged when the
    page has no block)."""
    return _BLOCK.sub(lambda _: field_table(), page)
