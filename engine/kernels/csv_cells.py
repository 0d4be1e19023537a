"""CSV that a spreadsheet opens as data: a text cell never starts a formula.

Ids, names and citations come from books, rulebooks and the command line, so any of them may
begin with ``=``, ``+``, ``-`` or ``@``, which a spreadsheet reads as a formula
(``=HYPERLINK(...)`` in an account id, say: CSV injection). Every CSV that marginlex writes
for people and programs (``run --format csv``, ``run --out … --out-format csv``, ``ledger
--format csv``, ``ledger runs --format csv`` and the console's CSV downloads) writes such a
cell with a leading apostrophe, as OWASP advises: spreadsheets show the text as written, and
a program that reads the file sees the apostrophe. A cell that is a number (``-3.50``,
``+1e5``) is written as it is. A book's own files (``synth``, ``write_book``) are data the
loader reads back and keep every cell exactly.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas only where a frame is written: ledger commands stay light
    import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as the start of a formula (OWASP's list)."""
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def cell(value: object) -> object:
    """A cell as written: text that would start a formula gets a leading apostrophe.

    >>> cell('=HYPERLINK("http://x.example")'), cell("@SUM(A1)"), cell("-2+3")
    ('\\'=HYPERLINK("http://x.example")', "'@SUM(A1)", "'-2+3")
    >>> cell("-3.50"), cell("A-1"), cell(-3.5), cell(None)
    ('-3.50', 'A-1', -3.5, None)
    """
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A header line and one line a row, every cell through :func:`cell`.

    >>> print(csv_text(["id", "call"], [["=1+1", -2.5]]), end="")
    id,call
    '=1+1,-2.5
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([cell(name) for name in header])
    writer.writerows([cell(value) for value in row] for row in rows)
    return out.getvalue()


def frame_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with :func:`cell` applied to its text columns (column by column).

    >>> import pandas as pd
    >>> frame_cells(pd.DataFrame({"a": ["=x", "-1", None], "n": [-1.0, 2.0, 3.0]}))["a"].tolist()
    ["'=x", '-1', nan]
    """
    import pandas as pd  # noqa: PLC0415 - see the TYPE_CHECKING import

    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype(object)  # a category may be written two ways
        elif not (pd.api.types.is_string_dtype(column) or column.dtype == object):
            continue
        text = column.astype("str")
        starts = text.str.startswith(FORMULA_START).fillna(False)
        risky = starts & ~text.str.fullmatch(_NUMBER.pattern).fillna(False) & column.notna()
        if risky.any():
            out[name] = column.where(~risky, "'" + text)
    return out
