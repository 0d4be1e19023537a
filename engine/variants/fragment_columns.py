"""The columns of a rulebook test file's book fragment: a key no book file has is an
error at its place (``multipler = 100`` was dropped silently, and the test ran with a
multiplier of 1), with the column it seems to stand for, as a CSV book's header says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from marginlex.engine.book.schema import FILES
from marginlex.engine.book.validate import COLUMN_NAMES, meant_columns
from marginlex.engine.variants.toml_lines import entry_line, locate


def unknown_columns(path: Path, text: str, tables: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Each key of an entry of ``tables`` (a book file's stem: its entries) that is no
    column of that file, at its line and column of ``text``, the test file's text.

    >>> said = unknown_columns(Path("t.test.toml"), "", {"positions": [{"quantty": 1}]})
    >>> said[0].split("? ")[0]
    "t.test.toml: positions.0.quantty: unknown column; did you mean 'quantity'"
    """
    found = []
    for spec in FILES:
        names = spec.names
        for i, row in enumerate(tables.get(spec.stem, [])):
            extras = [str(key) for key in row if key not in names]
            meant = meant_columns(extras, [n for n in names if n not in row])
            for key in extras:
                where = _place(text, spec.stem, i, key)
                prefix = f"{path}:{where[0]}:{where[1]}" if where else str(path)
                hint = (
                    f"; did you mean {meant[key]!r}? {COLUMN_NAMES}"
                    if key in meant
                    else f" (the columns of {spec.stem}: {', '.join(names)})"
                )
                found.append(f"{prefix}: {spec.stem}.{i}.{key}: unknown column{hint}")
    return found


def _place(text: str, table: str, index: int, key: str) -> tuple[int, int] | None:
    r"""The 1-based (line, column) of ``key`` in entry ``index`` of ``table``: a
    ``[[table]]`` entry's ``key =`` line, or within an inline table's line.

    >>> _place('positions = [\n  { a = 1, quantty = 2 },\n]\n', "positions", 0, "quantty")
    (2, 12)
    """
    found = locate(text, (table, index, key))
    if found is not None:
        return found
    line = entry_line(text, table, index)
    if line is None:
        return None
    at = re.search(rf"(?<![\w-]){re.escape(key)}\s*=", text.splitlines()[line - 1])
    return line, at.start() + 1 if at else 1
