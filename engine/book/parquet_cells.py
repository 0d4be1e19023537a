"""Parquet cells the contract's parsers cannot take as typed: read as text instead.

:func:`~marginlex.engine.book.limits.read_parquet` hands each table through these before
pandas sees it. A column that holds a cell pandas would refuse (a date past year 9999) or
read as something else (a NaN as a missing value) becomes text, which the column's parser
then reads as it reads a CSV cell, reporting each bad cell at its row and column. A
contract column of a nested type (a list or a struct in each cell) is refused at the schema,
by :func:`report_nested_columns`, before the file is read.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from marginlex.engine.book.dates import MAX_YEAR, MIN_YEAR
from marginlex.engine.book.problems import HEADER_ROW, Problems
from marginlex.engine.book.schema import SPECS, ColType

if TYPE_CHECKING:
    import pyarrow as pa

_EPOCH = dt.date(1970, 1, 1)
_FIRST_DAY = (dt.date(MIN_YEAR, 1, 1) - _EPOCH).days
"""0001-01-01, in days from 1970-01-01."""
_PAST_LAST_DAY = (dt.date(MAX_YEAR, 12, 31) - _EPOCH).days + 1
"""The day after 9999-12-31 (no Python date), in days from 1970-01-01."""
_TICKS_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400 * 10**9}
_INT64 = (-(2**63), 2**63 - 1)
_PARQUET_TYPE = {
    ColType.STR: "a string column",
    ColType.ENUM: "a string column",
    ColType.TICKER: "a string column",
    ColType.FLOAT: "a double (float64) column",
    ColType.BOOL: "a boolean column",
    ColType.DATE: "a date32 column",
}
"""The Parquet type to write a contract column as, by how the column is parsed."""


def report_nested_columns(path: Path, file: str, problems: Problems) -> bool:
    """Name each contract column of a Parquet file whose type holds several values a cell
    (a list, a struct, a map), at the schema's row 1; True when there is one, and the file
    is then not read. Written as text, a struct in ``name`` was a party named
    ``{'x': 1}``, and a list of ids ``['a' 'b']`` an unknown instrument, row after row.

    Raises:
        OSError, ValueError: the file cannot be read as Parquet.
    """
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    spec = SPECS.get(path.stem)
    if spec is None:
        return False
    kinds = {field.name: field.type for field in pq.read_schema(path)}
    nested = [c for c in spec.columns if c.name in kinds and pa.types.is_nested(kinds[c.name])]
    for col in nested:
        problems.add(
            file,
            HEADER_ROW,
            col.name,
            f"the schema gives this column the type {kinds[col.name]}, several values a cell: "
            f"write one value a cell, as {_PARQUET_TYPE[col.type]}",
        )
    return bool(nested)


_PANDAS_INDEX = re.compile(r"__index_level_\d+__")
"""The name pandas gives an index it writes as a column."""


def without_pandas_metadata(table: pa.Table) -> pa.Table:
    """The table's columns as its schema holds them, without the pandas metadata a writer
    may add: a pandas index written as a column (``__index_level_0__``) is dropped, and
    nothing else of the metadata is read. Rebuilt from it, a file whose metadata named a
    column as the index lost that column (``account_id``: "missing required column"), and
    one naming a column that is not there (``KeyError: 'nope'``) or a dtype that is none
    (``TypeError: data type 'NoSuchDtype' not understood``) stopped validate with a
    traceback."""
    raw = (table.schema.metadata or {}).get(b"pandas")
    try:
        meta = json.loads(raw) if raw is not None else {}
    except (ValueError, UnicodeDecodeError):  # not JSON: nothing to take from it
        meta = {}
    named = meta.get("index_columns", []) if isinstance(meta, dict) else []
    index = [
        name
        for name in (named if isinstance(named, list) else [])
        if isinstance(name, str) and _PANDAS_INDEX.fullmatch(name) and name in table.column_names
    ]
    return table.drop_columns(index).replace_schema_metadata(None)


def non_finite_as_text(table: pa.Table) -> pa.Table:
    """The table with each float column that holds a NaN or an infinity as text, which the
    number parser reads as a CSV cell: pandas reads a NaN and a null alike, and a NaN price
    was said to be a missing value."""
    import pyarrow as pa  # noqa: PLC0415 - only a Parquet book pays for it
    import pyarrow.compute as pc  # noqa: PLC0415

    for index, field in enumerate(table.schema):
        if not pa.types.is_floating(field.type):
            continue
        column = table.column(index)
        odd = pc.or_(pc.is_nan(column), pc.is_inf(column))
        if pc.any(odd).as_py():
            table = table.set_column(index, field.name, pc.cast(column, pa.string()))
    return table


def dates_in_range(table: pa.Table) -> pa.Table:
    """The table with each date or timestamp column that names a day outside Python's
    dates (year 10183, or -221) as text, which the date parser then reports cell by cell:
    pandas failed on the whole file ("year 10183 is out of range"), hiding its other
    problems.

    The day is found from the stored integer, not from ``pyarrow.compute.year``, which
    overflows past about year 292,000 in milliseconds (it said 8488 for 401704, and the
    book loaded, to fail its replay). The column's other cells become the dates they name
    (a timestamp's date where it was written), so that one bad cell is one problem: the
    column cast to text whole made every timestamp ``2026-07-17 00:00:00.000000``, not a
    date.
    """
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415

    for index, field in enumerate(table.schema):
        kind = field.type
        if not (pa.types.is_date(kind) or pa.types.is_timestamp(kind)):
            continue
        column = table.column(index)
        if pa.types.is_timestamp(kind) and kind.tz is not None:
            column = pc.local_timestamp(column)  # the wall time: its date is the one meant
        out = _outside(column)
        if out is None:
            continue
        days = pc.cast(column, pa.date32(), safe=False) if pa.types.is_timestamp(kind) else column
        text = pc.if_else(out, pc.cast(column, pa.string()), pc.cast(days, pa.string()))
        table = table.set_column(index, field.name, text)
    return table


def _outside(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """Where a date or timestamp column's cells fall outside 0001-01-01 to 9999-12-31
    (None when none does)."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415

    kind = column.type
    if pa.types.is_date32(kind):
        per_day, ticks = 1, pc.cast(column, pa.int32())
    else:
        per_day = _TICKS_PER_DAY["ms" if pa.types.is_date64(kind) else kind.unit]
        ticks = pc.cast(column, pa.int64())
    low, high = _FIRST_DAY * per_day, _PAST_LAST_DAY * per_day
    # in nanoseconds int64 runs from 1677 to 2262: no tick is outside
    checks = [pc.less(ticks, low)] if low >= _INT64[0] else []
    checks += [pc.greater_equal(ticks, high)] if high <= _INT64[1] else []
    if not checks:
        return None
    out = checks[0] if len(checks) == 1 else pc.or_(*checks)
    return out if pc.any(out).as_py() else None
