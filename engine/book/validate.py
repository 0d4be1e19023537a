"""Reading and validating a book folder: every problem at once, vectorized.

:func:`read_and_validate` reads each file (CSV or Parquet), parses every column to its
contract dtype, then runs the row checks (values, conditional requirements, duplicates)
and the cross-file checks (dangling references). It never stops at the first problem.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from marginlex.dsl.claims import UTF16, is_utf16
from marginlex.engine.book.checks import (
    check_expired,
    check_references,
    check_repeated_positions,
    check_rows,
)
from marginlex.engine.book.dates import date_hint
from marginlex.engine.book.ids import (
    invisible_ids,
    invisible_is_error,
    lookalikes,
    quoted,
    separator_ids,
    separator_message,
)
from marginlex.engine.book.limits import (
    TextTooLarge,
    check_id_lengths,
    check_magnitudes,
    check_memory,
    check_positions_per_account,
    check_repledge_chains,
    parquet_columns,
    read_parquet,
    too_many_columns,
)
from marginlex.engine.book.memory import NOT_A_FILE
from marginlex.engine.book.names import plain_name
from marginlex.engine.book.parquet_cells import report_nested_columns
from marginlex.engine.book.parse import ColumnParser, undecodable
from marginlex.engine.book.problems import FIRST_DATA_ROW, HEADER_ROW, Problems, Severity
from marginlex.engine.book.quotes import quote_note, swallowed_records
from marginlex.engine.book.schema import FILES, FileSpec

BOOK_JSON = "book.json"
OWN_TABLES = ("accounts", "positions", "collateral")
"""The tables a partition of a partitioned book holds (the others are the whole book's)."""
_FILE_ORDER = ("book", *(f.stem for f in FILES))


class BookMeta(BaseModel):
    """The contents of ``book.json``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    as_of: date
    currency: str = "USD"
    name: str


class Parsed(BaseModel):
    """Typed frames of a book folder (files that could not be read are absent)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    meta: BookMeta | None
    frames: dict[str, pd.DataFrame]
    file_names: dict[str, str]


NOT_REGULAR = f"{NOT_A_FILE}: give it as a file"
MAX_BOOK_JSON_BYTES = 1_000_000
"""book.json holds three short fields: anything near a megabyte is not a book's metadata."""


def find_file(folder: Path, stem: str, problems: Problems, book: Path | None = None) -> Path | None:
    """The CSV or Parquet file for ``stem`` (both present is an error: which one is meant?);
    ``book``: the book folder, whose path inside it names the file (a partition's)."""
    csv, parquet = folder / f"{stem}.csv", folder / f"{stem}.parquet"
    if csv.exists() and parquet.exists():
        shown = _shown(book or folder, csv)
        problems.add(shown, 0, "-", f"both {csv.name} and {parquet.name} exist; keep one")
        return None
    return csv if csv.exists() else parquet if parquet.exists() else None


class RawFile(NamedTuple):
    """A file's columns as read, and the spreadsheet row of each of its rows where they are
    not counted from row 2 on (None: they are), in a file with rows left out as empty."""

    frame: pd.DataFrame
    rows: np.ndarray | None
    unread: pd.DataFrame | None = None
    """The rows that could not be read (of the wrong width, or run together by a quote),
    by the header's columns: their ids are not unknown where other files name them."""

    def spreadsheet_rows(self) -> np.ndarray:
        """Each row's spreadsheet row, counted from row 2 where no row was left out."""
        return _spreadsheet_rows(len(self.frame), self.rows)


def read_raw(path: Path, problems: Problems, shown: str | None = None) -> RawFile | None:
    """A file's columns as read: text for CSV (no NA guessing), native types for Parquet;
    rows with no value left out, those between rows with a warning, and columns the header
    leaves unnamed (``shown``: the file as problems name it)."""
    file = shown or path.name
    if not path.is_file():  # a link to /dev/zero read forever, past any memory check
        problems.add(file, 0, "-", NOT_REGULAR)
        return None
    try:
        if path.suffix == ".parquet":
            names = parquet_columns(path)
            if (
                too_many_columns(file, names, problems)
                or _report_repeated_columns(file, names, problems)
                or report_nested_columns(path, file, problems)
            ):
                return None
            return _without_empty_rows(read_parquet(path), file, problems)
        header = _csv_header(path)
        if header is not None and (
            too_many_columns(file, header, problems)
            or _report_blank_first_line(path, file, header, problems)
            or _report_excel_separator_line(file, header, problems)
            or _report_separator(file, header, problems)
            or _report_repeated_columns(file, header, problems)
        ):
            return None
        # A blank line is a row of empty values, as a spreadsheet shows it: skipped, every
        # row after it was reported a row too early.
        frame = _read_csv(path)
        frame = _without_unnamed_columns(frame, header or [], file, problems)
        return _without_repeated_headers(_without_empty_rows(frame, file, problems), file, problems)
    except TextTooLarge as exc:
        problems.add(file, 0, "-", str(exc))
        return None
    except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid, a ValueError
        if path.suffix == ".csv" and _report_encoding(path, file, problems):
            return None
        if path.suffix == ".csv" and (ragged := _report_ragged_rows(path, file, problems)):
            return _without_rows(ragged, file, problems)
        if path.suffix == ".csv" and header and _header_only(path):
            # pyarrow reads a header with no line ending after it as no columns at all
            # ("cannot read the file: No columns to parse from file"): a table of no rows
            return _without_rows(_Ragged([header], set(), []), file, problems)
        problems.add(file, 0, "-", f"cannot read the file: {exc}".splitlines()[0])
        return None


def _read_csv(path: Path) -> pd.DataFrame:
    """A CSV file's cells as text. pyarrow reads it in blocks of 1 MiB and refused a row
    longer than one ("cannot read the file: straddling object straddles two block
    boundaries (try to increase block size?)", which no option of marginlex increases):
    such a file is read by pandas' own parser, so that each cell is checked as any other
    (an id of 10 million characters is named at its row and column)."""
    try:
        return pd.read_csv(
            path, dtype=str, keep_default_na=False, engine="pyarrow", skip_blank_lines=False
        )
    except ValueError as exc:  # pyarrow's ArrowInvalid
        if "straddling object" not in str(exc):
            raise
    return pd.read_csv(path, dtype=str, keep_default_na=False, engine="c", skip_blank_lines=False)


def _without_unnamed_columns(
    frame: pd.DataFrame,
    header: list[str],
    file: str,
    problems: Problems,
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """The frame without the columns its header leaves unnamed (an Excel export of a sheet
    whose used range is wider than the table ends each line with commas; they were read as
    one column named twice, or as unknown columns named "Unnamed: 3"): left out when they
    hold no value, an error at the first value when they do. ``rows``: each row's
    spreadsheet row, where they are not counted from row 2 on."""
    unnamed = [k for k, name in enumerate(header) if not name.strip() and k < len(frame.columns)]
    for k in unnamed:
        column = frame[frame.columns[k]]
        held = ~_no_value(column)
        if held.any():
            first = int(np.flatnonzero(held)[0])
            problems.add(
                file,
                _spreadsheet_rows(len(frame), rows)[first],
                "-",
                f"column {k + 1} has no name in the header but holds {column.iloc[first]!r}: "
                "name it, or delete the column",
            )
    return frame.drop(columns=[frame.columns[k] for k in unnamed])


def _spreadsheet_rows(count: int, rows: np.ndarray | None) -> np.ndarray:
    """``rows``, or when None the spreadsheet rows of ``count`` rows counted from row 2."""
    return rows if rows is not None else np.arange(count, dtype=np.int64) + FIRST_DATA_ROW


def _without_empty_rows(
    frame: pd.DataFrame, file: str, problems: Problems, rows: np.ndarray | None = None
) -> RawFile:
    """The frame without its rows that hold no value at all, and the spreadsheet row of each
    row kept. Rows past the last row with a value go silently (an Excel sheet's used range
    runs past the table: ",,,,,," rows, each reported as a missing value in every required
    column before); one warning names those between rows (a blank line among them).
    ``rows``: each row's spreadsheet row, where they are not counted from row 2 on (rows of
    the wrong width were left out before)."""
    empty = _rows_where(frame, lambda column, _: _no_value(column))
    if empty is None:
        return RawFile(frame, rows)
    every = _spreadsheet_rows(len(frame), rows)
    numbers = every[~empty]
    last = int(numbers[-1]) if len(numbers) else FIRST_DATA_ROW
    inside = every[empty]
    inside = inside[inside < last]
    if len(inside):
        shown = ", ".join(str(int(r)) for r in inside[:_LISTED_ROWS])
        more = f" and {len(inside) - _LISTED_ROWS:,} more" if len(inside) > _LISTED_ROWS else ""
        which = f"rows {shown}{more}" if len(inside) > 1 else f"row {shown}"
        problems.add(
            file,
            int(inside[0]),
            "-",
            f"{len(inside):,} empty row{'s' if len(inside) > 1 else ''} (no value in any "
            f"column) left out: {which}",
            severity=Severity.WARNING,
        )
    return RawFile(frame[~empty].reset_index(drop=True), numbers)


_LISTED_ROWS = 5


def _without_repeated_headers(raw: RawFile, file: str, problems: Problems) -> RawFile:
    """The rows that repeat the header (two exports joined into one file) as one error each,
    left out of the checks: each cell was reported on its own before ("unknown account
    'account_id'", "not a number 'quantity'")."""
    frame = raw.frame
    again = _rows_where(
        frame, lambda column, name: (column == name).to_numpy(dtype=bool, na_value=False)
    )
    if again is None:
        return raw
    numbers = raw.spreadsheet_rows()
    problems.add(
        file, numbers[again], "-", "this row repeats the header (files joined together?): delete it"
    )
    return RawFile(frame[~again].reset_index(drop=True), numbers[~again])


def _rows_where(
    frame: pd.DataFrame, test: Callable[[pd.Series, str], np.ndarray]
) -> np.ndarray | None:
    """The rows where ``test`` (of a column and its name) holds in every column, None when
    there are none; the first column is tested alone first, which settles the usual case."""
    if not len(frame.columns) or not len(frame):
        return None
    mask = test(frame[frame.columns[0]], str(frame.columns[0]))
    if not mask.any():
        return None
    for column in frame.columns[1:]:
        mask = mask & test(frame[column], str(column))
    return mask if mask.any() else None


def _no_value(column: pd.Series) -> np.ndarray:
    """Cells with no value: null, or empty text."""
    missing = column.isna().to_numpy(dtype=bool)
    if column.dtype in ("str", object):
        return missing | (column == "").to_numpy(dtype=bool, na_value=False)
    return missing


UTF8_HINT = "save the file as UTF-8 (in Excel: Save As, CSV UTF-8)"


def _report_encoding(path: Path, file: str, problems: Problems) -> bool:
    """Name a CSV file that is not UTF-8 (only once its read failed): UTF-16 (Excel's
    "Unicode text") by its byte-order mark, else the row and column of the first byte that
    is not UTF-8 (a Latin-1 or Windows-1252 é). pyarrow said "In CSV column #1: CSV
    conversion error to large_string: invalid UTF8 data", or for UTF-16 that a row had 1
    value where the header had 7."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if is_utf16(data):  # the whole file: no row of it reads
            problems.add(file, 0, "-", _not_utf8(data, exc, UTF8_HINT, utf16=True))
            return True
        before = list(csv.reader(io.StringIO(data[: exc.start].decode("utf-8-sig"))))
        ended = not before or data[: exc.start].endswith((b"\n", b"\r"))
        row = len(before) + 1 if ended else len(before)
        field = 0 if ended else len(before[-1]) - 1
        header = before[0] if before and row > HEADER_ROW else []
        column = header[field] if field < len(header) and header[field] else "-"
        problems.add(file, row, column, _not_utf8(data, exc, UTF8_HINT, utf16=False))
        return True
    return False


def _not_utf8(data: bytes, exc: UnicodeDecodeError, hint: str, *, utf16: bool) -> str:
    """What a book file that does not read as UTF-8 is (``utf16``: :func:`is_utf16` of it),
    and ``hint``, how to save it: UTF-16 as a whole, else the first byte that cannot be read
    (a Latin-1 é)."""
    if utf16:
        return f"{UTF16}: {hint}"
    return (
        f"not UTF-8 text: the byte 0x{data[exc.start]:02x} cannot be read ({exc.reason}): "
        f"{hint}, not Latin-1 or Windows-1252"
    )


def _csv_header(path: Path) -> list[str] | None:
    """A CSV file's header row as Python's csv module reads it (a leading byte-order mark
    dropped); None when it cannot be read so (the full read then says why)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            return next(csv.reader(fh), None)
    except (UnicodeDecodeError, csv.Error):
        return None


_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _report_separator(file: str, header: list[str], problems: Problems) -> bool:
    """Name a file whose columns are separated by something else than commas: its header
    reads as one column (every book file has several) that a semicolon, tab or bar splits.
    Excel saves "CSV" with semicolons where the decimal separator is a comma, and each row
    then failed on its own ("2 values, but the header has 1 columns", once per row)."""
    if len(header) != 1:
        return False
    for separator, name in _SEPARATORS.items():
        names = header[0].split(separator)
        if len(names) > 1:
            problems.add(
                file,
                HEADER_ROW,
                "-",
                f"the header reads as one column: its {len(names)} names are separated by "
                f"{name}, not commas: save the file as comma-separated CSV (in Excel: Save "
                "As, CSV UTF-8 (Comma delimited)), with a point as the decimal separator",
            )
            return True
    return False


def _report_blank_first_line(path: Path, file: str, header: list[str], problems: Problems) -> bool:
    """Name a first line that is empty: the header must be the first line. Empty lines
    above it read as a header of no columns, and each row after was a problem of its own
    ("3 values, but the header has 0 columns", once per row); a file of empty lines only
    read as a column named "Unnamed: 0"."""
    if header:
        return False
    with path.open(newline="", encoding="utf-8-sig") as fh:
        at = next((k for k, record in enumerate(csv.reader(fh), 1) if record), None)
    if at is None:
        problems.add(file, 0, "-", "the file holds only empty lines (expected a header row)")
    else:
        lines = "the empty line" if at == 2 else f"the {at - 1} empty lines"
        problems.add(
            file,
            HEADER_ROW,
            "-",
            f"the first line is empty, not the header (the first line that holds anything is "
            f"line {at}): delete {lines} above it",
        )
    return True


def _report_excel_separator_line(file: str, header: list[str], problems: Problems) -> bool:
    """Name a first line that is Excel's separator hint (``sep=,``, ``sep=;``): Excel writes
    it for a file meant to open in Excel, and it read as a header of one column "sep=" (each
    required column missing, each row one value too wide)."""
    line = ",".join(header).strip()
    if len(header) > 2 or not re.fullmatch(r"sep=.?", line):
        return False
    problems.add(
        file,
        HEADER_ROW,
        "-",
        f"the first line is {line!r}, Excel's separator hint, not the header: delete that "
        "line (or save the file as CSV UTF-8 (Comma delimited), which does not write it)",
    )
    return True


def _report_repeated_columns(file: str, header: list[str], problems: Problems) -> bool:
    """Name each column the header (a Parquet file's schema) holds more than once (which one
    would be meant?)."""
    header_word = "schema" if file.endswith(".parquet") else "header"
    places: dict[str, list[int]] = {}
    for number, name in enumerate(header, start=1):
        if name.strip():  # a column without a name is not named twice: see below
            places.setdefault(name, []).append(number)
    repeated = {name: at for name, at in places.items() if len(at) > 1}
    for name, at in repeated.items():
        shown = ", ".join(str(n) for n in at)
        problems.add(
            file,
            HEADER_ROW,
            name or "-",
            f"the {header_word} names this column {len(at)} times (columns {shown}); keep one",
        )
    return bool(repeated)


class _Ragged(NamedTuple):
    """A CSV file's records (header first) and the data rows whose width is wrong."""

    records: list[list[str]]
    bad: set[int]  # positions among the data records
    unread: list[list[str]]  # the bad records, and those a quote ran into them


def _report_ragged_rows(path: Path, file: str, problems: Problems) -> _Ragged | None:
    """Name the rows whose number of values differs from the header's (only on failure);
    the records, to check the other rows (None: nothing named: the file fails otherwise)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            records = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if not records:
        problems.add(file, 0, "-", "the file is empty (expected a header row)")
        return _Ragged([[]], set(), [])
    width = len(records[0])
    bad, unread = set(), []
    for k, record in enumerate(records[1:]):
        if record and len(record) != width:
            values = "value" if len(record) == 1 else "values"
            columns = "column" if width == 1 else "columns"
            message = f"{len(record)} {values}, but the header has {width} {columns}"
            message += quote_note(record, last=k == len(records) - 2)
            if not "".join(record).strip():
                message = "a line of spaces only: delete the spaces (an empty line is left out)"
            problems.add(file, k + FIRST_DATA_ROW, "-", message)
            bad.add(k)
            unread += [record, *swallowed_records(record)]
    return _Ragged(records, bad, unread) if bad else None


def _header_only(path: Path) -> bool:
    """Whether a CSV file holds one line (its header) and nothing after it."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            return next(reader, None) is not None and next(reader, None) is None
    except (OSError, UnicodeDecodeError, csv.Error):
        return False


def _without_rows(ragged: _Ragged, file: str, problems: Problems) -> RawFile | None:
    """The file's other rows, each checked as usual under its own spreadsheet row: a row
    of the wrong width hid every problem of the rows after it until it was fixed."""
    header, *data = ragged.records
    if not header:
        return None
    kept = [k for k in range(len(data)) if k not in ragged.bad]
    rows = [data[k] or [""] * len(header) for k in kept]
    frame = pd.DataFrame(rows, columns=pd.Index(range(len(header))), dtype="str")
    frame.columns = pd.Index(_deduplicated(header))
    numbers = np.asarray(kept, dtype=np.int64) + FIRST_DATA_ROW
    frame = _without_unnamed_columns(frame, header, file, problems, numbers)
    kept_rows = _without_empty_rows(frame, file, problems, numbers)
    raw = _without_repeated_headers(kept_rows, file, problems)
    width = len(header)
    unread = [(r + [""] * width)[:width] for r in ragged.unread]
    return raw._replace(unread=pd.DataFrame(unread, columns=_deduplicated(header), dtype="str"))


def _deduplicated(names: list[str]) -> list[str]:
    """Column names as pandas reads a header (a name repeated gets ``.1``, ``.2``)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        out.append(name if count == 0 else f"{name}.{count}")
        seen[name] = count + 1
    return out


def read_meta(folder: Path, problems: Problems) -> BookMeta | None:
    """Read ``book.json``: as_of (a date), currency (USD only), name."""
    path = folder / BOOK_JSON
    if not path.exists():
        problems.add(BOOK_JSON, 0, "-", f"required file is missing{_near_file(folder, 'book')}")
        return None
    if not path.is_file():
        problems.add(BOOK_JSON, 0, "-", NOT_REGULAR)
        return None
    size = path.stat().st_size
    if size > MAX_BOOK_JSON_BYTES:
        problems.add(
            BOOK_JSON,
            0,
            "-",
            f"{size:,} bytes, over the limit of {MAX_BOOK_JSON_BYTES:,}: it holds as_of, "
            "currency and name",
        )
        return None
    try:
        raw = path.read_bytes()
        # utf-8-sig: a byte-order mark (as Windows editors save UTF-8) is read as nothing
        data = json.loads(
            raw.decode("utf-8-sig"), object_pairs_hook=_Fields, parse_int=_json_integer
        )
    except UnicodeDecodeError as exc:  # a ValueError, but the file is not JSON's problem
        said = _not_utf8(raw, exc, "save the file as UTF-8", utf16=is_utf16(raw))
        problems.add(BOOK_JSON, 0, "-", said)
        return None
    except (OSError, ValueError) as exc:
        problems.add(BOOK_JSON, 0, "-", f"not valid JSON: {exc}")
        return None
    except RecursionError:  # arrays or objects nested thousands deep: not a book's metadata
        problems.add(BOOK_JSON, 0, "-", "not valid JSON: nested too deeply to read")
        return None
    if not isinstance(data, dict):
        problems.add(BOOK_JSON, 0, "-", "must be a JSON object with as_of, currency and name")
        return None
    if (half := _lone_surrogate(data)) is not None:
        problems.add(BOOK_JSON, 0, "-", half)
        return None
    return _meta_fields(data, problems)


def _lone_surrogate(data: dict[str, object]) -> str | None:
    """What is wrong with a field of book.json, or its value, that holds half of a UTF-16
    surrogate pair (``"\\ud800"``), which JSON reads but is no character: a name holding one
    stopped ``validate`` with a UnicodeEncodeError traceback as it was printed."""
    for key, value in data.items():
        for text in (key, value):
            if isinstance(text, str) and (half := _SURROGATE.search(text)) is not None:
                return (
                    f"{key!r} holds \\u{ord(half.group()):04x}, half of a UTF-16 surrogate "
                    "pair, which is no character: write the character itself (or both halves "
                    "of its pair, \\ud83d\\ude00 for one emoji)"
                )
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


_JSON_DIGITS = 100
"""Digits of the longest integer book.json is read with: none of its fields is a number,
and Python refuses to read one of over 4,300 digits, with a hint for programmers
("use sys.set_int_max_str_digits()")."""


def _json_integer(text: str) -> int:
    """An integer of book.json, refused past :data:`_JSON_DIGITS` digits."""
    digits = len(text.lstrip("-"))
    if digits > _JSON_DIGITS:
        raise ValueError(
            f"an integer of {digits:,} digits: book.json holds as_of (a date), currency and "
            "name, as text; write them as in docs/book-format.md"
        )
    return int(text)


class _Fields(dict[str, object]):
    """A JSON object that remembers the keys it was given more than once, with every value
    (``json`` keeps the last silently: a book.json holding two as_of dates was read as the
    second, while a person reading the file from the top sees the first)."""

    def __init__(self, pairs: list[tuple[str, object]]) -> None:
        super().__init__(pairs)
        seen: dict[str, list[object]] = {}
        for key, value in pairs:
            seen.setdefault(key, []).append(value)
        self.twice = {key: values for key, values in seen.items() if len(values) > 1}


def _meta_fields(data: dict[str, object], problems: Problems) -> BookMeta | None:
    ok = True
    for key, values in getattr(data, "twice", {}).items():
        given = " and ".join(repr(v) for v in values)
        problems.add(BOOK_JSON, 0, key, f"given {len(values)} times ({given}): give it once")
        ok = False
    for key in sorted(set(data) - {"as_of", "currency", "name"}):
        problems.add(BOOK_JSON, 0, key, "unknown field, ignored", severity=Severity.WARNING)
    as_of = data.get("as_of")
    try:
        parsed_as_of = date.fromisoformat(str(as_of)) if as_of is not None else None
    except ValueError:
        parsed_as_of = None
    if as_of is None:
        problems.add(BOOK_JSON, 0, "as_of", "missing value (a date, YYYY-MM-DD)")
        ok = False
    elif parsed_as_of is None or not isinstance(as_of, str) or len(as_of) != 10:
        hint = date_hint(as_of) if isinstance(as_of, str) else ""
        problems.add(BOOK_JSON, 0, "as_of", f"not a date {as_of!r} (expected YYYY-MM-DD){hint}")
        ok = False
    currency = data.get("currency", "USD")
    if currency != "USD":
        problems.add(BOOK_JSON, 0, "currency", f"only USD is supported, got {currency!r}")
        ok = False
    name = data.get("name")
    if name is None or (isinstance(name, str) and not name.strip()):
        problems.add(BOOK_JSON, 0, "name", "missing value (a non-empty string)")
        ok = False
    elif not isinstance(name, str):
        problems.add(BOOK_JSON, 0, "name", f"must be a text (a JSON string), got {name!r}")
        ok = False
    if not ok or parsed_as_of is None or not isinstance(name, str):
        return None
    return BookMeta(as_of=parsed_as_of, currency="USD", name=name)


def parse_file(
    spec: FileSpec,
    raw: pd.DataFrame,
    file: str,
    problems: Problems,
    rows: np.ndarray | None = None,
) -> tuple[pd.DataFrame, ColumnParser]:
    """Check the header and parse every column; extra columns are kept as text. ``rows``:
    each row's spreadsheet row, where they are not counted from row 2 on."""
    names = spec.names
    extras = [str(c) for c in raw.columns if c not in names]
    ranks = {n: i for i, n in enumerate((*names, *extras))}
    parser = ColumnParser(file, problems, ranks, rows)
    meant = meant_columns(extras, [n for n in names if n not in raw.columns])
    written = {name: extra for extra, name in meant.items()}
    for col in spec.columns:
        if col.name not in raw.columns and col.header_required:
            hint = f": is {written[col.name]!r} it? {COLUMN_NAMES}" if col.name in written else ""
            parser.report_at(col.name, HEADER_ROW, f"missing required column{hint}")
    required = {c.name for c in spec.columns if c.header_required}
    for extra in extras:
        if meant.get(extra) in required:
            continue  # said once, at the required column it stands for
        hint = f"; did you mean {meant[extra]!r}? {COLUMN_NAMES}" if extra in meant else ""
        problems.add(
            file,
            HEADER_ROW,
            extra,
            f"unknown column, kept and ignored{hint}",
            severity=Severity.WARNING,
            column_rank=ranks[extra],
        )
    index = pd.RangeIndex(len(raw))
    raw = raw.set_axis(index, axis=0)
    out: dict[str, pd.Series] = {}
    for col in spec.columns:
        if col.name in raw.columns:
            out[col.name] = parser.parse(col, raw[col.name])
        else:
            # An absent column is all missing; a required one was reported once above.
            quiet = ColumnParser(file, Problems(_FILE_ORDER), ranks)
            out[col.name] = quiet.parse(col, pd.Series([""] * len(raw), index=index, dtype="str"))
    for extra in extras:  # ignored, but read: a byte that is not UTF-8 is said, not raised
        text, unread, messages = undecodable(raw[extra])
        if unread is not None:
            parser.report(extra, unread, messages, severity=Severity.WARNING)
        out[extra] = text.astype("str")
    return pd.DataFrame(out, index=index), parser


COLUMN_NAMES = "(column names are lower case, words joined by _)"


def meant_columns(extras: list[str], absent: list[str]) -> dict[str, str]:
    """The contract column each unknown header name seems to stand for, among those the
    header lacks: the same once lower-cased with words joined by ``_`` ("Account ID",
    "account-id"), or one typo away ("instrumentid")."""
    meant: dict[str, str] = {}
    for extra in extras:
        plain = plain_name(extra)
        if plain in absent:
            meant[extra] = plain
            continue
        close = difflib.get_close_matches(plain, absent, n=1, cutoff=0.85)
        if close:
            meant[extra] = close[0]
    return meant


_SPREADSHEETS = (".xlsx", ".xls", ".xlsm", ".ods", ".numbers")


def _near_file(folder: Path, stem: str) -> str:
    """What the folder holds in place of a missing file, after a colon (empty: nothing
    like it): the same name in other capitals or with another ending, a workbook saved
    as such, a file named twice over by an editor (``positions.csv.txt``)."""
    try:
        near = sorted(
            p.name for p in folder.iterdir() if p.name.lower().split(".")[0] == stem and p.is_file()
        )
    except OSError:
        return ""
    if not near:
        return ""
    name = near[0]
    if name.lower().endswith(_SPREADSHEETS):
        return f": {name} is there, a spreadsheet workbook: save its sheet as CSV UTF-8, {stem}.csv"
    wanted = ("book.json",) if stem == "book" else (f"{stem}.csv", f"{stem}.parquet")
    case = " (names are lower case)" if name.lower() in wanted else ""
    return f": {name} is there: name it {' or '.join(wanted)}{case}"


def _empty_partition(folder: Path, part: Path, problems: Problems) -> bool:
    """Whether a partition holds none of its tables, not even under a name like theirs
    (``Accounts.xlsx``): then one problem names the partition and what it lacks, in no
    file format, not a missing ``.csv`` for each table (in a book of Parquet files)."""
    if any(
        _near_file(part, stem) or any(map(Path.exists, _candidates(part, stem)))
        for stem in OWN_TABLES
    ):
        return False
    problems.add(
        f"{_shown(folder, part)}/",
        0,
        "-",
        f"an empty partition: it holds none of its tables ({', '.join(OWN_TABLES)}); put "
        "them there as the other partitions hold them, or delete the folder (and renumber "
        "the ones after it)",
    )
    return True


def _ending(folder: Path) -> str:
    """The file ending a missing table is named with: ``.parquet`` where the folder's other
    tables are Parquet files (none CSV), else ``.csv``."""
    tables = [p.suffix for s in FILES for p in _candidates(folder, s.stem) if p.exists()]
    return ".parquet" if tables and set(tables) == {".parquet"} else ".csv"


def _candidates(folder: Path, stem: str) -> tuple[Path, Path]:
    return folder / f"{stem}.csv", folder / f"{stem}.parquet"


def _shown(folder: Path, path: Path) -> str:
    """A file as problems name it: its path inside the book folder (a partition's files
    are under ``partitions/``)."""
    return path.relative_to(folder).as_posix() if path.is_relative_to(folder) else path.name


def check_unique(spec: FileSpec, df: pd.DataFrame, parser: ColumnParser) -> None:
    """Duplicate ids: every repeat is reported with the row of the first occurrence."""
    for col in spec.columns:
        if not col.unique:
            continue
        ids = df[col.name]
        present = ids.notna()
        dup = ids.duplicated(keep="first") & present
        if dup.any():
            firsts = present & ~ids.duplicated(keep="first")
            first_row = pd.Series(parser.rows_of(firsts), index=ids[firsts].to_numpy())
            msgs = [f"duplicate id {quoted(v)} (first at row {first_row[v]})" for v in ids[dup]]
            parser.report(col.name, dup, msgs)
        _lookalike_ids(ids, present, col.name, parser)


def _lookalike_ids(ids: pd.Series, present: pd.Series, column: str, parser: ColumnParser) -> None:
    """An error at each id holding an invisible or control character (a zero-width space, a
    newline: :func:`~marginlex.engine.book.ids.invisible_character`) or a separator of ids in
    outputs, ``;`` or ``" -> "`` (:func:`~marginlex.engine.book.ids.separator_ids`), and a
    warning at each
    id that reads the same as an earlier one, though stored differently: equal once
    Unicode-normalized (NFKC: "É" as one character or as E and a combining accent, a
    full-width "Ａ"), or looking alike (Unicode TR39's confusables: a Cyrillic "А" for a
    Latin "A"). Every table and page shows the two alike, and a relation, a pledge or a
    position meant for one may name the other."""
    severity = Severity.ERROR if invisible_is_error() else Severity.WARNING
    joined = separator_ids(ids, present)
    if joined.any():
        said = [separator_message(str(v)) for v in ids[joined]]
        parser.report(column, joined, said, severity=severity)
    hidden = invisible_ids(ids, present)
    if hidden:
        at = np.zeros(len(ids), dtype=bool)
        at[list(hidden)] = True
        parser.report(
            column,
            at,
            [f"id {quoted(str(ids.iloc[k]))} {m}" for k, m in sorted(hidden.items())],
            severity=severity,
        )
    found = lookalikes(ids, present)
    if not found:
        return
    rows = parser.row_numbers(np.asarray([e for _, e, _ in found]))
    mask = np.zeros(len(ids), dtype=bool)
    msgs = []
    for (k, e, same), row in zip(found, rows, strict=True):
        v, f = ids.iloc[k], ids.iloc[e]
        how = "reads the same as" if same else "looks like"
        mask[k] = True
        msgs.append(
            f"id {v!r} {how} {f!r} (row {row}) but is stored differently, {v!a} against "
            f"{f!a}: give each id one spelling"
        )
    parser.report(column, mask, msgs, severity=Severity.WARNING)


def read_and_validate(
    folder: Path, own: Path | None = None, book_accounts: pd.Series | None = None
) -> tuple[Parsed, Problems]:
    """Read every file of a book folder and collect every problem.

    Args:
        folder: the book folder.
        own: a partition's folder (``docs/book-format.md``, partitioned books): accounts,
            positions and collateral are read there, and problems name them by their path
            inside the book folder.
        book_accounts: every account id of a partitioned book (a relation may name an
            account of another partition).

    Returns:
        The parsed frames (for files that could be read) and the problems found.
    """
    problems = Problems(_FILE_ORDER)
    if not folder.is_dir():
        # The whole path, as given: the folder's last name alone would read like a file of
        # the book, and a path to one of the book's files wants a different fix.
        why = (
            "it is a file; give the folder that holds book.json and the tables"
            if folder.is_file()
            else "no such folder"
        )
        problems.add(str(folder), 0, "-", f"not a book folder ({why})")
        return Parsed(meta=None, frames={}, file_names={}), problems
    meta = read_meta(folder, problems)
    where = {s.stem: own if own is not None and s.stem in OWN_TABLES else folder for s in FILES}
    tables = [p for s in FILES for p in _candidates(where[s.stem], s.stem)]
    if not check_memory({p: _shown(folder, p) for p in tables if p.is_file()}, problems):
        return Parsed(meta=meta, frames={}, file_names={}), problems
    frames: dict[str, pd.DataFrame] = {}
    names: dict[str, str] = {}
    parsers: dict[str, ColumnParser] = {}
    unread: dict[str, pd.Series] = {}
    empty = own is not None and _empty_partition(folder, own, problems)
    for spec in FILES:
        present = [p for p in _candidates(where[spec.stem], spec.stem) if p.exists()]
        path = find_file(where[spec.stem], spec.stem, problems, folder)
        shown = _shown(folder, path or where[spec.stem] / f"{spec.stem}{_ending(where[spec.stem])}")
        names[spec.stem] = shown
        if path is None:
            if spec.required and not present and not (empty and spec.stem in OWN_TABLES):
                hint = _near_file(where[spec.stem], spec.stem)
                problems.add(shown, 0, "-", f"required file is missing{hint}")
            continue
        raw = read_raw(path, problems, shown)
        if raw is not None:
            frames[spec.stem], parsers[spec.stem] = parse_file(
                spec, raw.frame, shown, problems, raw.rows
            )
            if raw.unread is not None and spec.names[0] in raw.unread:
                unread[spec.stem] = raw.unread[spec.names[0]].str.strip()
    for spec in FILES:
        if spec.stem in frames:
            check_unique(spec, frames[spec.stem], parsers[spec.stem])
            check_rows(spec.stem, frames[spec.stem], parsers[spec.stem])
    check_references(frames, parsers, book_accounts, unread)
    if meta is not None:
        check_expired(frames, parsers, meta.as_of)
    check_repeated_positions(frames, parsers)
    check_magnitudes(frames, parsers)
    check_id_lengths(frames, parsers)
    check_positions_per_account(frames, parsers)
    check_repledge_chains(frames, parsers)
    return Parsed(meta=meta, frames=frames, file_names=names), problems
