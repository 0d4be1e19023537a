"""Where a key of a rulebook test file sits in its text, so that an error points at its line.

``tomllib`` gives values without positions; test files are small and written by hand, so the
key is found again in the text: the ``[[table]]`` occurrence its location names, then the
first ``key =`` line under it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?")


def _table_start(lines: list[str], table: str, index: int) -> int | None:
    seen = -1
    for number, text in enumerate(lines):
        header = _HEADER.match(text)
        if header and header.group(1) == table:
            seen += 1
            if seen == index:
                return number
    return None


def locate(text: str, loc: Sequence[str | int]) -> tuple[int, int] | None:
    """The 1-based (line, column) of the key a pydantic error location names, or None.

    >>> text = 'rulebook = "sec"\\n[[expect]]\\naccount = "A"\\n[[expect]]\\nrequirment = 1\\n'
    >>> locate(text, ("expect", 1, "requirment"))
    (5, 1)
    >>> locate(text, ("rulebook",))
    (1, 1)
    >>> locate(text, ("expect", 0, "nowhere")) is None
    True
    """
    lines = text.splitlines()
    start, end = 0, len(lines)
    if len(loc) >= 3 and isinstance(loc[0], str) and isinstance(loc[1], int):
        found = _table_start(lines, loc[0], loc[1])
        if found is None:
            return None
        start = found + 1
        following = (n for n in range(start, end) if _HEADER.match(lines[n]))
        end = next(following, end)
    elif len(loc) == 1:
        end = next((n for n, t in enumerate(lines) if _HEADER.match(t)), end)
    key = re.compile(rf"^(\s*){re.escape(str(loc[-1]))}\s*=")
    for number in range(start, end):
        match = key.match(lines[number])
        if match:
            return number + 1, len(match.group(1)) + 1
    return None


def entry_line(text: str, table: str, index: int) -> int | None:
    """The 1-based line of entry ``index`` of an array of tables: the ``index``-th
    ``[[table]]`` header, or the line holding the ``index``-th ``{`` of ``table = [ ... ]``
    (inline tables, one or more to a line); None when not found. A key left out of an
    entry, or a book problem of one, is reported there.

    >>> text = 'rulebook = "sec"\\npositions = [\\n  { a = 1 },\\n  { a = 2 },\\n]\\n'
    >>> entry_line(text, "positions", 1), entry_line(text, "positions", 2)
    (4, None)
    >>> entry_line('rulebook = "sec"\\n[[expect]]\\nname = "a"\\n[[expect]]\\n', "expect", 1)
    4
    """
    lines = text.splitlines()
    header = _table_start(lines, table, index)
    if header is not None:
        return header + 1
    opening = re.compile(rf"^\s*{re.escape(table)}\s*=\s*\[")
    start = next((n for n, line in enumerate(lines) if opening.match(line)), None)
    if start is None:
        return None
    seen = -1
    for number in range(start, len(lines)):
        line = lines[number].split("[", 1)[1] if number == start else lines[number]
        seen += line.count("{")
        if seen >= index:
            return number + 1
        if line.strip().startswith("]"):
            return None
    return None
