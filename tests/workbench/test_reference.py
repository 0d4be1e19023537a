"""The field table of docs/language.md is the field registry's, not a hand-kept copy.

After a change to ``dsl/model/fields.py``, rewrite the page's block with
``MARGINLEX_REGEN_GOLDEN=1 uv run pytest tests/workbench/test_reference.py`` and review it.
"""

from __future__ import annotations

import os
from pathlib import Path

from marginlex.dsl.model.expressions import Subject
from marginlex.dsl.model.fields import FIELDS, FieldType, Kind
from marginlex.workbench.reference import BEGIN, END, field_table, fill_field_table, type_text

LANGUAGE = Path(__file__).parents[2] / "docs" / "language.md"


def test_language_page_holds_the_generated_field_table() -> None:
    page = LANGUAGE.read_text(encoding="utf-8")
    if os.environ.get("MARGINLEX_REGEN_GOLDEN") == "1":
        LANGUAGE.write_text(fill_field_table(page), encoding="utf-8")
        page = LANGUAGE.read_text(encoding="utf-8")
    assert page.count(BEGIN) == 1 and page.count(END) == 1
    assert field_table() in page, "docs/language.md: the field table differs from FIELDS"


def test_every_field_is_in_the_table_under_its_subject() -> None:
    table = field_table()
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ")][1:]
    listed: dict[str, set[str]] = {}
    subjects: list[str] = []
    for row in rows:
        first = row[0].removeprefix("| ").strip()
        subjects = first.split(", ") if first else subjects
        for s in subjects:
            listed.setdefault(s, set()).update(f.strip("` ") for f in row[1].split(","))
    assert listed == {s.value: set(fields) for s, fields in FIELDS.items()}
    assert listed[Subject.OWNER.value] == listed[Subject.CARRIER.value]


def test_type_text() -> None:
    assert type_text(FieldType(Kind.MONEY, doc="collateral")) == "money: collateral"
    assert type_text(FieldType(Kind.FRACTION)) == "percentage"
    assert type_text(FieldType(Kind.ENUM, ("call", "put"))) == "call, put"


def test_fill_replaces_only_the_block() -> None:
    page = f"before\n{BEGIN}\nstale\n{END}\nafter\n"
    assert fill_field_table(page) == f"before\n{field_table()}\nafter\n"
    assert fill_field_table("no block") == "no block"
