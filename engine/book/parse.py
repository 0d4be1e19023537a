"""Column parsing: raw file columns (text from CSV, typed from Parquet) into typed columns.

Each parser is vectorized over the whole column and reports the rows it could not parse
to a :class:`~marginlex.engine.book.problems.Problems` collector. Rows are spreadsheet rows
(header = 1), so the raw frame's position ``i`` is row ``i + 2``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from marginlex.dsl.model.domain import ASSET_CLASSES, TICKER_PATTERN
from marginlex.engine.book.dates import MIN_YEAR, date_hint
from marginlex.engine.book.names import named_asset_near, unknown_asset, unknown_value
from marginlex.engine.book.problems import FIRST_DATA_ROW, Problems, Severity
from marginlex.engine.book.schema import DATE_DTYPE, ColType, Column
from marginlex.engine.book.spellings import number_hint

_TRUE = frozenset({"true", "1", "yes"})
_NUMBERS = frozenset({"integer", "decimal", "floating", "mixed-integer-float"})
"""What ``pandas.api.types.infer_dtype`` calls a column of numbers (a Parquet one)."""
_FALSE = frozenset({"false", "0", "no"})
_NAN_WORDS = frozenset({"nan", "-nan", "+nan"})


def _typed(col: Column, raw: pd.Series) -> bool:
    """Whether a column arrives already in its contract type (a Parquet float or date
    column), so that it is taken as it is instead of written as text and read back (0.4 s
    of a million-position book's load)."""
    if col.type is ColType.FLOAT:
        return pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw)
    return col.type is ColType.DATE and pd.api.types.is_datetime64_any_dtype(raw)


PARQUET_UTF8_HINT = "write the column as UTF-8 text (a Parquet string column)"


def undecodable(raw: pd.Series) -> tuple[pd.Series, pd.Series | None, list[str]]:
    """A Parquet binary column (Python bytes) decoded as UTF-8 text, with the cells that are
    not UTF-8 left empty: the column, their mask (None when every cell decodes) and what
    each is (the first byte that cannot be read). Decoding stops at nothing else: the
    whole column was one UnicodeDecodeError before, with no file, row or column, and the
    rest of the book was never checked. The common case, all valid, is one vectorized
    conversion."""
    if raw.dtype != object:
        return raw, None, []
    try:
        raw.astype("str")
    except UnicodeDecodeError:
        pass
    else:
        return raw, None, []
    bad = np.zeros(len(raw), dtype=bool)
    values: list[object] = []
    messages: list[str] = []
    for k, cell in enumerate(raw.tolist()):
        value = cell
        if isinstance(cell, bytes | bytearray):
            try:
                value = bytes(cell).decode("utf-8")
            except UnicodeDecodeError as exc:
                bad[k] = True
                messages.append(
                    f"not UTF-8 text: the byte 0x{cell[exc.start]:02x} cannot be read "
                    f"({exc.reason}): {PARQUET_UTF8_HINT}, not Latin-1 or Windows-1252"
                )
                value = None
        values.append(value)
    decoded = pd.Series(values, index=raw.index, dtype=object, name=raw.name)
    return decoded, pd.Series(bad, index=raw.index), messages


def as_text(raw: pd.Series) -> pd.Series:
    """A raw column as stripped text, with "" for a missing value."""
    if raw.dtype in ("str", object):
        text = raw.astype("str")
    elif pd.api.types.is_bool_dtype(raw):
        text = raw.map({True: "true", False: "false"}).astype("str")
    else:
        text = raw.astype("str")
        text = text.where(raw.notna(), "")
    if not len(text):
        # str.strip of an empty Arrow column has no chunk at all, and pandas then cannot
        # merge on it ("cannot construct ChunkedArray from empty vector"): a header-only
        # file, which is a valid book, failed every command
        return pd.Series([], index=raw.index, dtype="str")
    return text.fillna("").str.strip()


class ColumnParser:
    """Parses the columns of one file, reporting problems against that file's name.

    ``rows`` is the spreadsheet row of each row of the frame, where they are not simply
    counted from row 2: a file with empty rows, which the frame leaves out.
    """

    def __init__(
        self,
        file: str,
        problems: Problems,
        ranks: dict[str, int],
        rows: np.ndarray | None = None,
    ) -> None:
        self.file = file
        self.problems = problems
        self.ranks = ranks
        self.rows = rows
        # Rows whose value could not be parsed, per column: later checks skip them so that
        # one bad cell gives one problem.
        self.invalid: dict[str, pd.Series] = {}
        # NaN written in an optional number column, said once the rows' needs are known
        self.nan_words: dict[str, pd.Series] = {}

    def report(
        self,
        col: str,
        mask: pd.Series | np.ndarray,
        message: str | list[str],
        severity: Severity = Severity.ERROR,
    ) -> None:
        """Report ``message`` (scalar or one per True row) at every True row of ``mask``."""
        rows = self.rows_of(mask)
        self.problems.add(
            self.file, rows, col, message, severity=severity, column_rank=self.ranks[col]
        )

    def rows_of(self, mask: pd.Series | np.ndarray) -> np.ndarray:
        """Spreadsheet rows of the True positions of a boolean mask over the frame."""
        return self.row_numbers(np.flatnonzero(np.asarray(mask, dtype=bool)))

    def row_numbers(self, positions: np.ndarray) -> np.ndarray:
        """Spreadsheet rows of rows of the frame, by position."""
        at = np.asarray(positions, dtype=np.int64)
        return at + FIRST_DATA_ROW if self.rows is None else self.rows[at]

    def report_rows(self, col: str, rows: np.ndarray, messages: list[str]) -> None:
        """Report one message per given spreadsheet row."""
        self.problems.add(self.file, rows, col, messages, column_rank=self.ranks[col])

    def report_at(self, col: str, row: int, message: str) -> None:
        """Report one problem at a given spreadsheet row (e.g. the header, row 1)."""
        self.problems.add(self.file, row, col, message, column_rank=self.ranks[col])

    def missing(self, df: pd.DataFrame, col: str) -> pd.Series:
        """Rows where ``col`` has no value and was not already reported as unparsable."""
        bad = self.invalid.get(col)
        miss = df[col].isna()
        return miss if bad is None else miss & ~bad

    def parse(self, col: Column, raw: pd.Series) -> pd.Series:
        """Parse one column to its contract dtype; unparsable values become missing."""
        if _typed(col, raw):  # a Parquet number or date column: no text to read
            if col.value_required:
                self.report(col.name, raw.isna(), "missing value")
            if col.type is ColType.FLOAT:
                return raw.astype("float64")
            # A timestamp with a time zone is the date it names where it was written: made
            # naive first (its wall time kept), or the UTC conversion moved 2026-09-18 in Tokyo
            # to 2026-09-17 15:00, a day before its expiry.
            local = raw.dt.tz_localize(None) if raw.dt.tz is not None else raw
            return pd.Series(local.dt.normalize().to_numpy(dtype=DATE_DTYPE), index=raw.index)
        if col.type is ColType.DATE and pd.api.types.infer_dtype(raw, skipna=True) in _NUMBERS:
            return self._number_dates(col, raw)
        raw, unread, messages = undecodable(raw)
        if unread is not None:  # said as such, and not also a missing or unknown value
            self.report(col.name, unread, messages)
        parsed = self._parse_text(col, raw, unread)
        if unread is not None:
            known = self.invalid.get(col.name)
            self.invalid[col.name] = unread if known is None else known | unread
        return parsed

    def _number_dates(self, col: Column, raw: pd.Series) -> pd.Series:
        """A Parquet number column (integers, decimals, floats) where a date is due: each
        value a problem. A number names no date (days from 1970, as date32 stores them, or
        an Excel serial day?): 20651 was read as an Excel serial day, 1956-07-15, where
        date32 means 2026-07-17."""
        given = raw.notna()
        if col.value_required:
            self.report(col.name, ~given, "missing value")
        self.invalid[col.name] = given
        self.report(
            col.name,
            given,
            [
                f"not a date {str(v)!r} (expected YYYY-MM-DD): the column holds numbers, "
                "which name no date: write it as a Parquet date column (date32)"
                for v in raw[given]
            ],
        )
        return pd.Series(np.full(len(raw), np.datetime64("NaT"), dtype=DATE_DTYPE), index=raw.index)

    def _parse_text(self, col: Column, raw: pd.Series, unread: pd.Series | None) -> pd.Series:
        text = as_text(raw)
        missing = text == ""
        if col.value_required:
            self.report(col.name, missing if unread is None else missing & ~unread, "missing value")
        if col.type is ColType.FLOAT:
            return self._float(col, text, missing)
        if col.type is ColType.ENUM:
            return self._enum(col, text, missing)
        if col.type is ColType.BOOL:
            return self._bool(col, text, missing)
        if col.type is ColType.DATE:
            return self._date(col, text, missing)
        if col.type is ColType.TICKER:
            return self._ticker(col, text, missing)
        nul = text.str.contains("\x00", regex=False)
        self.invalid[col.name] = nul  # not also an unknown id where it is a reference
        if nul.any():  # PostgreSQL's text cannot hold it: a recorded run failed mid-way
            self.report(
                col.name,
                nul,
                "holds a NUL character (\\x00), which text may not: the file is damaged, or "
                "not UTF-8",
            )
        return text.where(~missing).astype("str")

    def _float(self, col: Column, text: pd.Series, missing: pd.Series) -> pd.Series:
        values = pd.to_numeric(text.where(~missing), errors="coerce").astype("float64")
        nan_word = text.str.lower().isin(_NAN_WORDS)
        bad = values.isna() & ~missing & ~nan_word
        self.report(col.name, bad, [f"not a number {v!r}{number_hint(v)}" for v in text[bad]])
        # as written: 1e400 was shown as the inf it reads as, and a negative infinite price
        # was said twice, not finite and negative
        infinite = pd.Series(np.isinf(values.fillna(0.0)), index=values.index)
        self.report(
            col.name, infinite, [f"must be a finite number, got {v}" for v in text[infinite]]
        )
        if col.value_required:
            # A NaN written as such (not an empty cell) is a value, and a wrong one.
            self.report(col.name, nan_word, "must be a finite number, got NaN")
        else:  # read as the blank it stands for: said by report_nan_words, once the row's
            # needs are known (an option's NaN strike is an error, not a missing value too)
            self.nan_words[col.name] = nan_word
        self.invalid[col.name] = bad | infinite | nan_word
        return values.where(~bad & ~infinite)

    def report_nan_words(self, needed: dict[str, pd.Series] | None = None) -> None:
        """The NaN written in optional number columns: an error where the row needs the
        value (``needed``: a mask per column, an option's strike), else a warning, read as
        the empty cell it stands for (a default, a multiplier of 1, follows)."""
        for col, nan_word in self.nan_words.items():
            need = (needed or {}).get(col)
            wrong = nan_word & need if need is not None else nan_word & False
            self.report(col, wrong, "must be a finite number, got NaN")
            self.report(
                col,
                nan_word & ~wrong,
                "NaN where the cell may be left empty: read as empty; leave it empty",
                severity=Severity.WARNING,
            )
        self.nan_words = {}

    def _enum(self, col: Column, text: pd.Series, missing: pd.Series) -> pd.Series:
        known = text.isin(col.enum)
        bad = ~known & ~missing
        self.invalid[col.name] = bad
        if bad.any():
            msg = {v: unknown_value(v, col.enum) for v in text[bad].unique()}
            self.report(col.name, bad, text[bad].map(msg).tolist())
        values = pd.Categorical(text.where(known), categories=list(col.enum))
        return pd.Series(values, index=text.index, name=col.name)

    def _bool(self, col: Column, text: pd.Series, missing: pd.Series) -> pd.Series:
        low = text.str.lower()
        is_true = low.isin(_TRUE)
        bad = ~is_true & ~low.isin(_FALSE) & ~missing
        self.report(
            col.name, bad, [f"not a boolean {v!r} (expected true or false)" for v in text[bad]]
        )
        return is_true.astype("bool")

    def _date(self, col: Column, text: pd.Series, missing: pd.Series) -> pd.Series:
        parsed = pd.to_datetime(text.where(~missing), format="%Y-%m-%d", errors="coerce")
        # pandas reads year 0 and negative years, which no date of Python's has: the
        # expiry check and the ledger's replay then failed on them with a traceback
        bad = (parsed.isna() | (parsed.dt.year < MIN_YEAR)) & ~missing
        parsed = parsed.where(~bad)
        self.invalid[col.name] = bad
        self.report(
            col.name,
            bad,
            [f"not a date {v!r} (expected YYYY-MM-DD){date_hint(v)}" for v in text[bad]],
        )
        return pd.Series(parsed.to_numpy(dtype=DATE_DTYPE), index=text.index)

    def _ticker(self, col: Column, text: pd.Series, missing: pd.Series) -> pd.Series:
        known = text.isin(list(ASSET_CLASSES))
        ok = known | text.str.match(TICKER_PATTERN)
        bad = ~ok & ~missing
        self.invalid[col.name] = bad
        if bad.any():
            msg = {v: unknown_asset(v) for v in text[bad].unique()}
            self.report(col.name, bad, text[bad].map(msg).tolist())
        extras = sorted(set(text[ok & ~known].unique()))
        typos = {t: near for t in extras if (near := named_asset_near(t)) is not None}
        if typos:  # taken as a digital asset no regime accepts (worth 0): said, if a slip
            looks = text.isin(list(typos))
            self.report(
                col.name,
                looks,
                [
                    f"{t!r} is taken as a digital asset's ticker (no shipped rulebook counts "
                    f"it: worth 0); did you mean {typos[t]!r}?"
                    for t in text[looks]
                ],
                severity=Severity.WARNING,
            )
        values = pd.Categorical(text.where(ok), categories=[*ASSET_CLASSES, *extras])
        return pd.Series(values, index=text.index, name=col.name)
