"""Book problems: the typed record of what is wrong with a book, and their collector.

A problem is reported as ``file:row: column: message``. ``row`` is the spreadsheet row:
the header is row 1, so the first data record is row 2, for CSV and Parquet alike.
Row 0 means the file as a whole (a missing file, or a field of ``book.json``).
"""

from __future__ import annotations

import re
from enum import StrEnum

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from marginlex.printable import printable

HEADER_ROW = 1
FIRST_DATA_ROW = 2


_LONG_WORD = re.compile(r"\S{201,}")


def _cut_long_words(text: str) -> str:
    """``text`` with each run of more than 200 characters without a space cut to its first
    100 and its length: a problem quotes the cell it is about, and a cell of 10 million
    characters made a 10 MB line.

    >>> _cut_long_words("unknown instrument " + "Y" * 1000)[-32:]
    'YYYYYYYYYYYY… (1,000 characters)'
    """
    return _LONG_WORD.sub(lambda m: f"{m[0][:100]}… ({len(m[0]):,} characters)", text)


class Severity(StrEnum):
    """An error rejects the book; a warning is reported and the book is still loaded."""

    ERROR = "error"
    WARNING = "warning"


class BookProblem(BaseModel):
    """One thing wrong with a book.

    Attributes:
        file: file name inside the book folder, e.g. ``accounts.csv``.
        row: spreadsheet row (header = 1, first record = 2); 0 for the whole file.
        column: the column (or book.json field); ``-`` when none applies.
        message: what is wrong, in words a person can act on.
        severity: error or warning.

    >>> BookProblem(file="accounts.csv", row=3, column="owner_id",
    ...             message="unknown party 'P9'").render()
    "accounts.csv:3: owner_id: unknown party 'P9'"
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    row: int
    column: str
    message: str
    severity: Severity = Severity.ERROR

    def render(self) -> str:
        """The problem as ``file:row: column: message`` (warnings say so); a problem of a
        whole file (row 0) or of a whole row (column ``-``) names no row or column.

        >>> BookProblem(file="book.json", row=0, column="-", message="missing").render()
        'book.json: missing'
        """
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        where = self.file if self.row == 0 else f"{self.file}:{self.row}"
        column = "" if self.column in ("-", "") else f" {self.column}:"
        # printable: a header's column name is quoted as written, and one holding ESC [2J
        # cleared the terminal it was printed to (U+202E reversed the rest of the line)
        return printable(_cut_long_words(f"{where}:{column} {prefix}{self.message}"))


class BookError(ValueError):
    """A book was rejected; ``problems`` lists every problem found (errors and warnings)."""

    def __init__(self, problems: list[BookProblem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity is Severity.ERROR]
        lines = "\n".join(p.render() for p in problems)
        super().__init__(f"the book has {len(errors)} error(s):\n{lines}")


class Problems:
    """Collects problems in bulk (one call per failing check, not per row)."""

    def __init__(self, file_order: tuple[str, ...]) -> None:
        self._order = {name: i for i, name in enumerate(file_order)}
        self._parts: list[pd.DataFrame] = []

    def add(
        self,
        file: str,
        rows: np.ndarray | int,
        column: str,
        message: str | pd.Series | list[str],
        *,
        severity: Severity = Severity.ERROR,
        column_rank: int = 0,
    ) -> None:
        """Record one problem per row in ``rows`` (``message`` scalar or one per row)."""
        rows_arr = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        if rows_arr.size == 0:
            return
        msgs = message if isinstance(message, str) else list(message)
        self._parts.append(
            pd.DataFrame(
                {
                    "file": file,
                    "row": rows_arr,
                    "column": column,
                    "message": msgs,
                    "severity": severity.value,
                    "file_rank": self._order.get(_stem(file), len(self._order)),
                    "column_rank": column_rank,
                }
            )
        )

    def has_errors(self) -> bool:
        """True when at least one error (not warning) was recorded."""
        return any((p["severity"] == Severity.ERROR.value).any() for p in self._parts)

    def to_list(self) -> list[BookProblem]:
        """All problems, ordered by file, row, column and message."""
        if not self._parts:
            return []
        df = pd.concat(self._parts, ignore_index=True)
        df = df.sort_values(["file_rank", "file", "row", "column_rank", "column", "message"])
        return [
            BookProblem(file=f, row=int(r), column=c, message=m, severity=Severity(s))
            for f, r, c, m, s in zip(
                df["file"], df["row"], df["column"], df["message"], df["severity"], strict=True
            )
        ]


def _stem(file: str) -> str:
    """A file's stem, whatever folder of the book it is in (``partitions/p00001/accounts.csv``
    ranks as ``accounts``)."""
    return file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
