"""Rows of a CSV file that a stray quote runs together.

A value opened with a quote runs to the next quote, over line ends: a quote never closed
swallows the rest of the file into one value of its row, which then has too few values.
That row was said as "2 values, but the header has 5 columns", and every id on the lines
it swallowed as unknown wherever another file named it.
"""

from __future__ import annotations

import csv
import io


def quote_note(record: list[str], *, last: bool) -> str:
    """Why a row of the wrong width may be so, after a colon: a quoted value of it runs
    over line ends (empty: none does). ``last``: the row is the file's last record.

    >>> quote_note(["C3", "Inst 3,institution\\nC4,Ind 4"], last=True).split(": ")[1]
    'a quote opened in this row is never closed'
    >>> quote_note(["C3", "x"], last=True)
    ''
    """
    if not any("\n" in value for value in record):
        return ""
    lines = sum(value.rstrip("\r\n").count("\n") for value in record)  # not the file's end
    if last:
        after = "1 line after it was" if lines == 1 else f"{lines} lines after it were"
        return (
            f": a quote opened in this row is never closed: the {after} read into its value; "
            "close the quote, or delete it"
        )
    return f": a quoted value in this row runs over {lines + 1} lines: close its quote"


def swallowed_records(record: list[str]) -> list[list[str]]:
    """The records on the lines a quoted value of ``record`` ran over, read as rows of
    their own (their ids are not unknown: their rows could not be read).

    >>> swallowed_records(["C3", "Inst 3,institution\\nC4,Ind 4\\nC5,x"])
    [['C4', 'Ind 4'], ['C5', 'x']]
    """
    found: list[list[str]] = []
    for value in record:
        if "\n" in value:
            found += [r for r in csv.reader(io.StringIO(value.split("\n", 1)[1])) if r]
    return found
