"""A query's rows as the database driver hands them, for reads of a whole run at once.

SQLAlchemy wraps each fetched row in a ``Row``; a run holds hundreds of thousands of
decisions, and a reader that wants a few columns of each (the earlier run a ``--since`` run
compares with, a run summary's amounts) spent more on the wrapping than on the query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

if TYPE_CHECKING:  # numpy is imported where a whole run is read: light readers stay light
    import numpy as np


def driver_marker(conn: Connection) -> str:
    """The driver's parameter marker in SQL given to it directly: ``?`` (sqlite3, qmark) or
    ``%s`` (psycopg, format)."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def insert_sql(conn: Connection, table: str, columns: tuple[str, ...]) -> str:
    """An INSERT of ``columns`` into ``table`` for the driver's ``executemany`` (plain tuples
    in column order, no SQLAlchemy processing per row)."""
    markers = ", ".join([driver_marker(conn)] * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({markers})"


def driver_rows(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` from the driver's own cursor. ``sql`` marks its parameters
    ``{p}``, written as :func:`driver_marker`."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql.format(p=driver_marker(conn)), params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def driver_columns(conn: Connection, sql: str, params: tuple[Any, ...], width: int) -> np.ndarray:
    """:func:`driver_rows` as one object array, a row of ``width`` columns per row found."""
    import numpy as np  # noqa: PLC0415

    rows = driver_rows(conn, sql, params)
    return np.array(rows, dtype=object).reshape(len(rows), width)
