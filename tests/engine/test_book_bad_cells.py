"""One bad cell, one problem, at its file, row and column: edits of the small good book
that once gave a traceback, no problem at all, or a problem at the wrong place."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.engine.book.load import load_book, validate_book

BOOKS = Path(__file__).parents[1] / "data" / "books"


def _book(tmp_path: Path, edits: dict[str, tuple[str, str]]) -> Path:
    """The small good book, with ``old`` replaced by ``new`` in each named file."""
    book = tmp_path / "book"
    shutil.copytree(BOOKS / "good_small", book)
    (book / "expected.txt").unlink()
    for name, (old, new) in edits.items():
        text = (book / name).read_text(encoding="utf-8")
        assert old in text
        (book / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    return book


def _rendered(book: Path) -> list[str]:
    return [p.render() for p in validate_book(book)]


_NO_YEAR_0 = "(expected YYYY-MM-DD): there is no year 0 (years run from 0001 to 9999)"


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        (  # held: the expiry check failed with "date not yet supported on Timestamps"
            "instruments.csv",
            "2026-09-18,put",
            "0000-01-01,put",
            f"instruments.csv:3: maturity: not a date '0000-01-01' {_NO_YEAR_0}",
        ),
        (  # held by nobody: loaded, recorded, and then no replay of the ledger could read it
            "instruments.csv",
            "2035-08-15",
            "-2026-07-17",
            "instruments.csv:5: maturity: not a date '-2026-07-17' (expected YYYY-MM-DD): "
            "a date has no sign",
        ),
        (
            "collateral.csv",
            "2030-01-01",
            "0000-06-30",
            f"collateral.csv:3: maturity: not a date '0000-06-30' {_NO_YEAR_0}",
        ),
        (
            "book.json",
            "2026-06-30",
            "0000-06-30",
            f"book.json: as_of: not a date '0000-06-30' {_NO_YEAR_0}",
        ),
    ],
)
def test_a_date_in_year_0_or_before_is_not_a_date(
    tmp_path: Path, name: str, old: str, new: str, expected: str
) -> None:
    book = _book(tmp_path, {name: (old, new)})
    assert _rendered(book) == [expected]
    result = CliRunner().invoke(app, ["run", str(book), "-r", "sec"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert expected in result.stderr


def _parquet(book: Path, stem: str, change: Callable[[pa.Table], pa.Table]) -> None:
    """``stem``'s CSV file as a Parquet file (maturity as date32), changed by ``change``."""
    frame = pd.read_csv(book / f"{stem}.csv", dtype=str, keep_default_na=False)
    table = pa.Table.from_pandas(frame.replace("", None), preserve_index=False)
    table = table.replace_schema_metadata(None)  # pandas' would read the columns as text
    if "maturity" in table.column_names:
        at = table.schema.get_field_index("maturity")
        days = pc.cast(pc.strptime(table.column(at), "%Y-%m-%d", "s"), pa.date32())
        table = table.set_column(at, "maturity", days)
    pq.write_table(change(table), book / f"{stem}.parquet")
    (book / f"{stem}.csv").unlink()


def _with_days(table: pa.Table, days: dict[int, int]) -> pa.Table:
    """The table with the maturity of each given row set to a day count from 1970."""
    at = table.schema.get_field_index("maturity")
    old = table.column(at).cast(pa.int32()).to_pylist()
    new = [days.get(k, d) for k, d in enumerate(old)]
    return table.set_column(at, "maturity", pa.array(new, pa.int32()).cast(pa.date32()))


def test_a_parquet_date_past_year_9999_is_one_problem_of_many(tmp_path: Path) -> None:
    """pandas failed on the whole file ("year 10183 is out of range"), with no row or
    column, and the file's other problems went unsaid."""
    book = _book(tmp_path, {"instruments.csv": ("100.00", "-1")})
    _parquet(book, "instruments", lambda t: _with_days(t, {1: 3_000_000, 3: -800_000}))
    assert _rendered(book) == [
        "instruments.parquet:2: price: negative price -1 (a price is 0 or more)",
        "instruments.parquet:3: maturity: not a date '10183-09-21' (expected YYYY-MM-DD): "
        "years run from 0001 to 9999",
        "instruments.parquet:5: maturity: not a date '-0221-09-04' (expected YYYY-MM-DD): "
        "a date has no sign",
    ]


def _as_timestamps(tz: str | None, ticks: dict[int, int]) -> Callable[[pa.Table], pa.Table]:
    """A change making maturity a millisecond timestamp column (in ``tz``), with the given
    rows' ticks (milliseconds from 1970-01-01 UTC)."""

    def change(table: pa.Table) -> pa.Table:
        at = table.schema.get_field_index("maturity")
        days = table.column(at).cast(pa.int32()).to_pylist()
        cells = [None if d is None else d * 86_400_000 for d in days]
        cells = [ticks.get(k, c) for k, c in enumerate(cells)]
        return table.set_column(at, "maturity", pa.array(cells, pa.timestamp("ms", tz=tz)))

    return change


_YEAR_401704 = 400_000 * 365 * 86_400_000  # in milliseconds from 1970


def test_a_parquet_timestamp_past_year_9999_is_found_however_far(tmp_path: Path) -> None:
    """pyarrow's year() overflows in milliseconds (it said 8488 for 401704): the book loaded,
    run --ledger recorded it, and verify --replay failed with "year 401704 is out of range"."""
    book = _book(tmp_path, {})
    _parquet(book, "instruments", _as_timestamps(None, {1: _YEAR_401704}))
    assert _rendered(book) == [
        f"instruments.parquet:3: maturity: not a date '<value out of range: {_YEAR_401704}>' "
        "(expected YYYY-MM-DD): years run from 0001 to 9999"
    ]


def test_one_parquet_timestamp_past_9999_leaves_the_others_dates(tmp_path: Path) -> None:
    """The column was cast to text whole, so that every good timestamp of it was a problem
    too (`not a date '2026-09-18 09:00:00.000+0900' ...: write the date alone`); a cell is
    shown at its wall time where it was written."""
    book = _book(tmp_path, {})
    far = 3_000_000 * 86_400_000  # day 3,000,000 from 1970: 10183-09-21
    _parquet(book, "instruments", _as_timestamps("Asia/Tokyo", {1: far}))
    assert _rendered(book) == [
        "instruments.parquet:3: maturity: not a date '10183-09-21 09:00:00.000' "
        "(expected YYYY-MM-DD): years run from 0001 to 9999"
    ]


def _nested(column: str, cells: Callable[[object], object]) -> Callable[[pa.Table], pa.Table]:
    """A change making ``column`` hold ``cells(value)`` in each row (a list, a struct)."""

    def change(table: pa.Table) -> pa.Table:
        at = table.schema.get_field_index(column)
        nested = pa.array([cells(v) for v in table.column(at).to_pylist()])
        return table.set_column(at, column, nested)

    return change


def test_a_parquet_contract_column_of_lists_or_structs_is_named_at_the_schema(
    tmp_path: Path,
) -> None:
    """A struct in parties' name loaded as a party named "{'name': 'Alice'}", and a list of
    ids was an unknown instrument "['XYZ']" at every row; an extra column of lists is kept
    as text, as any extra column."""
    book = _book(tmp_path, {})
    _parquet(book, "parties", _nested("name", lambda v: {"name": v}))
    _parquet(book, "positions", _nested("instrument_id", lambda v: [v]))
    _parquet(book, "collateral", lambda t: t.append_column("tags", pa.array([["a"]] * 3)))
    assert _rendered(book) == [
        "parties.parquet:1: name: the schema gives this column the type struct<name: string>, "
        "several values a cell: write one value a cell, as a string column",
        "positions.parquet:1: instrument_id: the schema gives this column the type "
        "list<element: string>, several values a cell: write one value a cell, as a string column",
        "collateral.parquet:1: tags: warning: unknown column, kept and ignored",
    ]


def _integers(column: str, numbers: dict[str | None, int | None]) -> Callable[[pa.Table], pa.Table]:
    """A change making ``column`` an int64 column: each value replaced by its number."""

    def change(table: pa.Table) -> pa.Table:
        at = table.schema.get_field_index(column)
        cells = [numbers[v] for v in table.column(at).to_pylist()]
        return table.set_column(at, column, pa.array(cells, pa.int64()))

    return change


def test_parquet_integer_ids_with_a_null_keep_their_text(tmp_path: Path) -> None:
    """pandas made an integer column holding a null a float column: account 1 was "1.0" in
    positions, and every position an unknown account beside the one missing value."""
    book = _book(tmp_path, {"positions.csv": ("\nA1,XYZ,100", "\n,XYZ,100")})
    ids: dict[str | None, int | None] = {"A1": 1, "H1": 2, None: None}
    _parquet(book, "accounts", _integers("account_id", ids))
    _parquet(book, "positions", _integers("account_id", ids))
    _parquet(book, "collateral", _integers("account_id", ids))
    assert _rendered(book) == ["positions.parquet:2: account_id: missing value"]


@pytest.mark.parametrize("kind", [pa.int32(), pa.decimal128(10, 0)])
def test_a_parquet_number_column_of_dates_is_said_to_hold_numbers(
    tmp_path: Path, kind: pa.DataType
) -> None:
    """20714 (2026-09-18 as date32 stores it, in days from 1970) was read as an Excel serial
    day, 1956-09-16 ("format the column as YYYY-MM-DD"): from a decimal column, and from an
    integer column once integers stayed integers."""
    book = _book(tmp_path, {})

    def numbers(table: pa.Table) -> pa.Table:
        return table.set_column(7, "maturity", table["maturity"].cast(pa.int32()).cast(kind))

    _parquet(book, "instruments", numbers)
    hint = (
        "the column holds numbers, which name no date: write it as a Parquet date column (date32)"
    )
    assert _rendered(book) == [
        f"instruments.parquet:3: maturity: not a date '20714' (expected YYYY-MM-DD): {hint}",
        f"instruments.parquet:4: maturity: not a date '20714' (expected YYYY-MM-DD): {hint}",
        f"instruments.parquet:5: maturity: not a date '23967' (expected YYYY-MM-DD): {hint}",
    ]


def _pandas_metadata(**meta: object) -> Callable[[pa.Table], pa.Table]:
    """A change giving the table the pandas metadata ``meta`` (as a writer may craft it)."""

    def change(table: pa.Table) -> pa.Table:
        columns = [
            {"name": n, "field_name": n, "pandas_type": "unicode", "numpy_type": "object"}
            for n in table.column_names
        ]
        given = {"index_columns": [], "column_indexes": [], "columns": columns, **meta}
        return table.replace_schema_metadata({b"pandas": json.dumps(given).encode()})

    return change


@pytest.mark.parametrize(
    "meta",
    [
        {"index_columns": ["nope"]},  # KeyError: 'nope'
        {"index_columns": ["account_id"]},  # the column became the index: "missing ... column"
        {"columns": [{"name": "quantity", "field_name": "quantity", "numpy_type": "NoSuch"}]},
    ],
)
def test_a_parquet_files_pandas_metadata_is_not_read(
    tmp_path: Path, meta: dict[str, object]
) -> None:
    """pyarrow rebuilt the frame from the metadata a writer put in the file: validate
    stopped with a traceback (KeyError, TypeError: data type 'NoSuch' not understood), or a
    column named the index left the table."""
    plain = _book(tmp_path / "plain", {})
    _parquet(plain, "positions", lambda t: t)
    book = _book(tmp_path / "crafted", {})
    _parquet(book, "positions", _pandas_metadata(**meta))
    assert _rendered(book) == []
    assert load_book(book).sha256 == load_book(plain).sha256


def test_an_index_pandas_wrote_as_a_column_is_left_out(tmp_path: Path) -> None:
    """pandas writes an index that is not a plain range as a column, __index_level_0__: it
    is no column of the book (not an unknown column either)."""
    book = _book(tmp_path, {})
    frame = pd.read_csv(book / "positions.csv", dtype=str).set_axis([7, 8, 9])
    frame["quantity"] = frame["quantity"].astype(float)
    frame.to_parquet(book / "positions.parquet")
    (book / "positions.csv").unlink()
    assert "__index_level_0__" in pq.read_schema(book / "positions.parquet").names
    assert _rendered(book) == []


def test_a_parquet_column_named_twice_is_named(tmp_path: Path) -> None:
    """pyarrow said "Multiple matches for FieldRef.Name(lot_id) in lot_id: dictionary<...>"."""
    book = _book(tmp_path, {})

    def twice(table: pa.Table) -> pa.Table:
        names = [*table.column_names, "lot_id"]
        return pa.Table.from_arrays([*table.columns, table.column("lot_id")], names=names)

    _parquet(book, "collateral", twice)
    assert _rendered(book) == [
        "collateral.parquet:1: lot_id: the schema names this column 2 times (columns 1, 7); "
        "keep one"
    ]


def _as_bytes(column: str, bad: dict[int, bytes]) -> Callable[[pa.Table], pa.Table]:
    """A change making ``column`` a binary column, with the given rows' bytes."""

    def change(table: pa.Table) -> pa.Table:
        at = table.schema.get_field_index(column)
        cells = [None if v is None else v.encode() for v in table.column(at).to_pylist()]
        for row, value in bad.items():
            cells[row] = value
        return table.set_column(at, pa.field(column, pa.binary()), pa.array(cells, pa.binary()))

    return change


_PARQUET_NOT_UTF8 = (
    "write the column as UTF-8 text (a Parquet string column), not Latin-1 or Windows-1252"
)


def test_parquet_bytes_that_are_not_utf8_are_named_and_the_rest_checked(tmp_path: Path) -> None:
    """A binary column holding a Latin-1 byte failed validate with a traceback
    (UnicodeDecodeError in astype("str")), and run with a bare "'utf-8' codec can't
    decode byte 0xff" naming no file, row or column; the book's other problems went unsaid."""
    book = _book(tmp_path, {"instruments.csv": ("100.00", "-5")})
    _parquet(book, "parties", _as_bytes("name", {3: "Alice Arch\xe9r".encode("latin-1")}))
    _parquet(book, "positions", _as_bytes("account_id", {0: b"\xff\xfe"}))
    _parquet(book, "accounts", _as_bytes("account_id", {}))  # binary, all UTF-8: read as text
    expected = [
        "parties.parquet:5: name: not UTF-8 text: the byte 0xe9 cannot be read (invalid "
        f"continuation byte): {_PARQUET_NOT_UTF8}",
        "instruments.csv:2: price: negative price -5 (a price is 0 or more)",
        "positions.parquet:2: account_id: not UTF-8 text: the byte 0xff cannot be read "
        f"(invalid start byte): {_PARQUET_NOT_UTF8}",
    ]
    assert _rendered(book) == expected
    result = CliRunner().invoke(app, ["run", str(book), "-r", "sec"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert all(line in result.stderr for line in expected)


def _unchecked_text(column: str, bad: dict[int, bytes], coded: bool = False) -> Callable:
    """A change making ``column`` a Parquet *string* column (dictionary-coded with
    ``coded``) whose bytes are those given at their rows: built from raw buffers, as a
    writer that does not check UTF-8 writes it."""

    def change(table: pa.Table) -> pa.Table:
        at = table.schema.get_field_index(column)
        cells = [v.encode() for v in table.column(at).to_pylist()]
        for row, value in bad.items():
            cells[row] = value
        values = sorted(set(cells)) if coded else cells
        ends = np.cumsum([0, *(len(c) for c in values)]).astype(np.int32)
        buffers = [None, pa.py_buffer(ends.tobytes()), pa.py_buffer(b"".join(values))]
        text = pa.Array.from_buffers(pa.string(), len(values), buffers)
        if coded:
            indices = pa.array([values.index(c) for c in cells], pa.int32())
            text = pa.DictionaryArray.from_arrays(indices, text)
        return table.set_column(at, column, text)

    return change


@pytest.mark.parametrize("coded", [False, True])
def test_parquet_string_columns_that_are_not_utf8_are_named_and_the_rest_checked(
    tmp_path: Path, coded: bool
) -> None:
    """A Parquet string column (not binary) holding bytes that are not UTF-8 stopped
    validate with a UnicodeDecodeError traceback from pyarrow's StringScalar.as_py."""
    book = _book(tmp_path, {"instruments.csv": ("100.00", "-5")})
    _parquet(book, "positions", _unchecked_text("account_id", {1: b"A\xedX"}, coded))
    expected = [
        "instruments.csv:2: price: negative price -5 (a price is 0 or more)",
        "positions.parquet:3: account_id: not UTF-8 text: the byte 0xed cannot be read "
        f"(invalid continuation byte): {_PARQUET_NOT_UTF8}",
    ]
    assert _rendered(book) == expected
    result = CliRunner().invoke(app, ["run", str(book), "-r", "sec"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_rows_after_a_ragged_row_keep_their_numbers(tmp_path: Path) -> None:
    """The unnamed-column, empty-row and repeated-header problems counted the rows after
    a ragged row one too low each (ordinary cell problems were right)."""
    positions = "account_id,instrument_id,quantity,\nA1,XYZ,100,\n"
    rows = "A1,XYZ_P90,-1\n,,,\nH1,ES_2609,2,\naccount_id,instrument_id,quantity,\nH1,XYZ,3,x\n"
    book = _book(tmp_path, {})
    (book / "positions.csv").write_text(positions + rows, encoding="utf-8")
    assert _rendered(book) == [
        "positions.csv:3: 3 values, but the header has 4 columns",
        "positions.csv:4: warning: 1 empty row (no value in any column) left out: row 4",
        "positions.csv:6: this row repeats the header (files joined together?): delete it",
        "positions.csv:7: column 4 has no name in the header but holds 'x': name it, or "
        "delete the column",
    ]


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        (  # also "negative price -inf"
            "instruments.csv",
            "XYZ,stock,,,,,100.00",
            "XYZ,stock,,,,,-inf",
            "instruments.csv:2: price: must be a finite number, got -inf",
        ),
        (  # shown as "got inf"
            "instruments.csv",
            "XYZ,stock,,,,,100.00",
            "XYZ,stock,,,,,1e400",
            "instruments.csv:2: price: must be a finite number, got 1e400",
        ),
        (  # also a warning that it is read as empty
            "instruments.csv",
            "90,0.30",
            "90,NaN",
            "instruments.csv:3: implied_vol: must be a finite number, got NaN",
        ),
        (  # also "unknown account"
            "positions.csv",
            "H1,ES_2609",
            "H\x001,ES_2609",
            "positions.csv:4: account_id: holds a NUL character (\\x00), which text may not: "
            "the file is damaged, or not UTF-8",
        ),
        (
            "collateral.csv",
            "L3,H1,USD,10.00",
            "L3,H1,USD,-1e999",
            "collateral.csv:4: market_value: must be a finite number, got -1e999",
        ),
    ],
)
def test_one_bad_cell_is_one_problem_as_written(
    tmp_path: Path, name: str, old: str, new: str, expected: str
) -> None:
    assert _rendered(_book(tmp_path, {name: (old, new)})) == [expected]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (float("nan"), "instruments.parquet:2: price: must be a finite number, got NaN"),
        (float("-inf"), "instruments.parquet:2: price: must be a finite number, got -inf"),
        (None, "instruments.parquet:2: price: missing value"),
    ],
)
def test_a_parquet_nan_is_not_a_missing_value(
    tmp_path: Path, value: float | None, expected: str
) -> None:
    """A NaN price in a Parquet file was said to be a missing value."""
    book = _book(tmp_path, {})

    def price(table: pa.Table) -> pa.Table:
        at = table.schema.get_field_index("price")
        prices = [value, *pc.cast(table.column(at), pa.float64()).to_pylist()[1:]]
        return table.set_column(at, "price", pa.array(prices, pa.float64()))

    _parquet(book, "instruments", price)
    assert _rendered(book) == [expected]


def test_a_quote_never_closed_is_named_at_its_row(tmp_path: Path) -> None:
    """It was "2 values, but the header has 5 columns", and each party on the lines it ran
    over was an unknown party of every account it owned."""
    book = _book(tmp_path, {"parties.csv": ("BDF,Harbor", 'BDF,"Harbor')})
    assert _rendered(book) == [
        "parties.csv:4: 2 values, but the header has 5 columns: a quote opened in this row "
        "is never closed: the 1 line after it was read into its value; close the quote, or "
        "delete it"
    ]


def test_the_ids_of_a_ragged_row_are_not_unknown_elsewhere(tmp_path: Path) -> None:
    book = _book(tmp_path, {"parties.csv": ("ALICE,Alice Archer,", "ALICE,Alice,Archer,")})
    assert _rendered(book) == ["parties.csv:5: 6 values, but the header has 5 columns"]


def test_a_row_longer_than_a_mebibyte_is_read_and_its_cell_named_briefly(tmp_path: Path) -> None:
    """A CSV row past pyarrow's 1 MiB block was "positions.csv: cannot read the file:
    straddling object straddles two block boundaries (try to increase block size?)", a size
    no option sets; read by pandas' parser, its cell is checked as any other, and the problem
    quotes its first 100 characters and its length, not 10 MB of it."""
    huge = "Y" * 10_000_000
    book = _book(tmp_path, {"positions.csv": ("A1,XYZ,100", f"A1,{huge},100")})
    # the cell quoted is 'YYY…Y' (10,000,000 Y and its 2 quotes): its first 100 characters
    # are the quote and 99 Y
    assert _rendered(book) == [
        f"positions.csv:2: instrument_id: unknown instrument '{'Y' * 99}… (10,000,002 "
        "characters) (not in instruments.csv)"
    ]
    # a long text where any text goes (a party's name) is read, and the book is valid
    named = _book(tmp_path / "named", {"parties.csv": ("Alice Archer", "Alice " + "A" * 2**21)})
    assert _rendered(named) == []
