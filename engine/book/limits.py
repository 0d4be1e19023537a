"""The book's limits, in one place: what a book may not exceed, checked at ``validate``.

A book past a limit is rejected like any bad book, with ``file:row: column: what is wrong``
and the figure and the limit in the message, instead of deciding with overflow warnings,
walking re-pledges for minutes or exhausting memory (issue 15). The rulebook's counterpart
is :mod:`marginlex.dsl.limits`; ``docs/book-format.md`` lists both.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import pandas as pd

from marginlex.dsl.model.domain import Relation
from marginlex.engine.book.columns import isin, lookup
from marginlex.engine.book.memory import book_memory_limit
from marginlex.engine.book.parquet_cells import (
    dates_in_range,
    non_finite_as_text,
    without_pandas_metadata,
)
from marginlex.engine.book.parse import ColumnParser
from marginlex.engine.book.problems import HEADER_ROW, Problems
from marginlex.engine.book.schema import FILES

if TYPE_CHECKING:
    import pyarrow as pa

MAX_MONEY = 1e15
"""Largest market value of one position (quantity x price x multiplier), price, strike or
collateral lot, in USD: the ledger stores money as NUMERIC(18,2) (below 10^16), and a
requirement may be several times a market value."""

MAX_ID_LENGTH = 128
"""Characters of a party, account, instrument or lot id: the ledger keeps a decision id
(``d-ms:ACCOUNT-`` and 12 digits) and an account key in VARCHAR(200), which PostgreSQL
enforces (a 250-character id was recorded on SQLite and refused mid-run on PostgreSQL)."""

MAX_POSITIONS_PER_ACCOUNT = 100_000
"""Position rows of one account: its scenario grid is positions x points figures."""

MAX_COLUMNS = 1_000
"""Columns of one book file: the widest table of the contract has 13, and a file may add a
few of its own. A 4 MB Parquet file of 20,000 empty columns took validate 4.5 minutes (each
column a table rebuilt, a frame and a warning), and a CSV header of 5,000 names 9 s."""

MAX_REPLEDGE_HOPS = 64
"""Accounts on one chain of ``rehypothecated_to`` relations: each hop of the re-pledge walk
is one merge over every lot still moving."""

MEMORY_PER_BOOK_BYTE = 200
"""Memory an evaluation takes per byte of the book's files (measured: a 2.1 MB book of 5,000
accounts peaks at 460 MB, about 150 bytes a byte over the interpreter's own)."""

MEMORY_PER_ROW = 2_000
"""Memory an evaluation takes per row of a Parquet file, whatever its compression (a
recorded run of 100k accounts, 1.3 million rows, peaks at 2.1 GB; a 314 KB Parquet file of
30 million identical positions passed the size check and took 23 GB before it was killed)."""


MEMORY_PER_TEXT_BYTE = 4
"""Memory per byte of a Parquet file's text once read: the Arrow buffers, pandas' column and
the copies validation makes (a 14 KB file naming one 400 MB text three times, dictionary
encoded, took 4.4 GB to validate)."""


def _needed(path: Path) -> int:
    """Memory reading a file would take: by its size, and for Parquet by its rows too (its
    metadata, read without the data): a file of one value repeated compresses to nothing."""
    need = path.stat().st_size * MEMORY_PER_BOOK_BYTE
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq  # noqa: PLC0415 - only a Parquet book pays for it

        try:
            meta = pq.read_metadata(path)
        except (OSError, ValueError):  # not Parquet: reading it says so
            return need
        # its pages decompressed (one text repeated, stored plain, compresses to nothing)
        unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        need = max(need, meta.num_rows * MEMORY_PER_ROW, unpacked * MEMORY_PER_TEXT_BYTE)
    return need


class TextTooLarge(ValueError):
    """A Parquet file whose text, its dictionaries expanded, would not fit in memory."""


def too_many_columns(file: str, header: list[str], problems: Problems) -> bool:
    """Refuse a file whose header (a Parquet file's schema) names more than
    :data:`MAX_COLUMNS` columns, before any row is read; True when it is refused."""
    if len(header) <= MAX_COLUMNS:
        return False
    word = "schema" if file.endswith(".parquet") else "header"
    problems.add(
        file,
        HEADER_ROW,
        "-",
        f"the {word} names {len(header):,} columns, over the limit of {MAX_COLUMNS:,} (a book "
        "file holds its table's columns, at most 13, and a few of its own): the file is not "
        "read; check how it was written",
    )
    return True


def parquet_columns(path: Path) -> list[str]:
    """A Parquet file's column names, as its schema gives them (a name may come twice).

    Raises:
        OSError, ValueError: the file cannot be read as Parquet.
    """
    import pyarrow.parquet as pq  # noqa: PLC0415 - only a Parquet book pays for it

    return list(pq.read_schema(path).names)


def read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file as ``pd.read_parquet`` reads it, its text measured first (its pandas
    metadata unread: :func:`~marginlex.engine.book.parquet_cells.without_pandas_metadata`).

    The text columns are read dictionary-encoded and each cell's length is counted from the
    dictionary before a cell is copied: a file of a few kilobytes may name one huge text in
    every row (the row count, checked before reading, does not show it), and decoding it
    would exhaust memory before any check ran.

    Raises:
        TextTooLarge: the text would take more than a book may
            (:func:`~marginlex.engine.book.memory.book_memory_limit`).
        OSError, ValueError: the file cannot be read as Parquet.
    """
    import pyarrow as pa  # noqa: PLC0415 - only a Parquet book pays for it
    import pyarrow.compute as pc  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    def is_text(kind: pa.DataType) -> bool:
        return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))

    schema = pq.read_schema(path)
    texts = [f.name for f in schema if is_text(f.type)]
    coded = [
        f.name for f in schema if pa.types.is_dictionary(f.type) and is_text(f.type.value_type)
    ]
    table = without_pandas_metadata(pq.read_table(path, read_dictionary=texts))
    size, widest = 0, ("", 0)
    for name in texts + coded:  # a column stored as a dictionary (pandas' categorical) too
        for chunk in table.column(name).chunks:
            lengths = pc.binary_length(chunk.dictionary)
            size += pc.sum(pc.take(lengths, chunk.indices)).as_py() or 0
            longest = pc.max(lengths).as_py() or 0
            widest = max(widest, (name, longest), key=lambda w: w[1])
    limit = book_memory_limit()
    if size * MEMORY_PER_TEXT_BYTE > limit:
        column, longest = widest
        raise TextTooLarge(
            f"its text columns would hold {size / 1e9:,.1f} GB once read (the longest text, "
            f"in column {column}, is {longest:,} bytes): about "
            f"{size * MEMORY_PER_TEXT_BYTE / 1e9:,.1f} GB of memory, over the limit of "
            f"{limit / 1e9:,.1f} GB (half the memory available now); a book's ids and names "
            "are short: check how the file was written"
        )
    for name in texts:  # decoded as pandas would have read them
        index = table.schema.get_field_index(name)
        plain = schema.field(name).type
        table = table.set_column(index, name, pc.cast(table.column(name), plain))
    for name in texts + coded:
        # A text column whose bytes are not UTF-8 (a writer that does not check) is read as
        # bytes, each cell that is not UTF-8 a problem at its row and column, as a binary
        # column's: decoded to str by pandas, it stopped validate with a UnicodeDecodeError
        # traceback.
        column = table.column(name)
        try:
            column.validate(full=True)
        except pa.ArrowInvalid:
            index = table.schema.get_field_index(name)
            kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
            raw = pa.large_binary() if pa.types.is_large_string(kind) else pa.binary()
            table = table.set_column(index, name, pc.cast(column, raw))
    # an integer column with a null stays integers (pandas made it float: id 1 was "1.0")
    frame: pd.DataFrame = non_finite_as_text(dates_in_range(table)).to_pandas(
        integer_object_nulls=True
    )
    return frame


def check_memory(paths: dict[Path, str], problems: Problems) -> bool:
    """Refuse a book whose files (each with the name problems give it) would need more than
    a book may take (:func:`~marginlex.engine.book.memory.book_memory_limit`); True when it
    may be read."""
    sizes = {name: p.stat().st_size for p, name in paths.items()}
    needs = {name: _needed(p) for p, name in paths.items()}
    need = sum(needs.values())
    limit = book_memory_limit()
    if need <= limit:
        return True
    largest = max(needs, key=lambda name: needs[name])
    problems.add(
        largest,
        0,
        "-",
        f"the book's files hold {sum(sizes.values()) / 1e6:,.1f} MB and would need about "
        f"{need / 1e9:,.1f} GB of memory; the limit is {limit / 1e9:,.1f} GB (half the memory "
        "available now): split the book, or run it where more memory is free",
    )
    return False


def _too_big(parser: ColumnParser, col: str, values: pd.Series, what: str) -> None:
    big = values.abs() > MAX_MONEY
    parser.report(
        col,
        big,
        [f"{what} {v:,.6g} USD is over the limit of {MAX_MONEY:,.0f} USD" for v in values[big]],
    )


def check_id_lengths(frames: dict[str, pd.DataFrame], parsers: dict[str, ColumnParser]) -> None:
    """Every id (a file's ``unique`` column) at most :data:`MAX_ID_LENGTH` characters,
    reported where the id is made, not again at each reference to it."""
    made = [(spec.stem, col.name) for spec in FILES for col in spec.columns if col.unique]
    for stem, name in made:
        if stem not in frames or name not in frames[stem]:
            continue
        length = frames[stem][name].str.len().fillna(0).to_numpy(np.int64)
        over = length > MAX_ID_LENGTH
        if over.any():
            parsers[stem].report(
                name,
                over,
                [
                    f"an id of {n:,} characters, over the limit of {MAX_ID_LENGTH}: the ledger "
                    "keeps ids in VARCHAR(200) columns with its prefixes: shorten it"
                    for n in length[over]
                ],
            )


def check_magnitudes(frames: dict[str, pd.DataFrame], parsers: dict[str, ColumnParser]) -> None:
    """Prices, strikes, lots and each position's market value within :data:`MAX_MONEY`
    (infinite and NaN figures are reported by the row checks; they are skipped here)."""
    if "instruments" in frames:
        df, p = frames["instruments"], parsers["instruments"]
        for col in ("price", "strike"):
            _too_big(p, col, _finite(df[col]), col)
    if "collateral" in frames:
        _too_big(
            parsers["collateral"], "market_value", _finite(frames["collateral"]["market_value"]),
            "market value",
        )  # fmt: skip
    if "positions" not in frames or "instruments" not in frames:
        return
    pos, ins = frames["positions"], frames["instruments"]
    unit = _finite(ins["price"]) * _finite(ins["multiplier"].fillna(1.0))
    each = lookup(pos["instrument_id"], ins["instrument_id"], unit).astype("float64")
    with np.errstate(over="ignore", invalid="ignore"):
        value = _finite(pos["quantity"]).abs() * each.fillna(0.0).abs()
    big = value > MAX_MONEY
    parsers["positions"].report(
        "quantity",
        big,
        [
            f"quantity {q:,.6g} x price x multiplier {u:,.6g} is a market value of "
            f"{_usd(v)}, over the limit of {MAX_MONEY:,.0f} USD (the ledger holds NUMERIC(18,2))"
            for q, u, v in zip(pos["quantity"][big], each[big], value[big], strict=True)
        ],
    )


def _usd(value: float) -> str:
    return f"{value:,.6g} USD" if np.isfinite(value) else "more than 1.8e+308 USD (float64's limit)"


def _finite(values: pd.Series) -> pd.Series:
    """The figures as float64, with NaN where a figure is missing or not finite."""
    out = pd.to_numeric(values, errors="coerce").astype("float64")
    return out.where(np.isfinite(out.fillna(0.0)))


def check_positions_per_account(
    frames: dict[str, pd.DataFrame], parsers: dict[str, ColumnParser]
) -> None:
    """At most :data:`MAX_POSITIONS_PER_ACCOUNT` rows per account: reported once per account,
    at its first row past the limit."""
    if "positions" not in frames:
        return
    account = frames["positions"]["account_id"]
    codes, _ = pd.factorize(account)  # a missing id: -1
    counts = np.bincount(codes[codes >= 0])
    if not len(counts) or counts.max() <= MAX_POSITIONS_PER_ACCOUNT:
        return  # every book but a hostile one: no per-row work (Series.map took 0.7 s)
    rank = account.groupby(account, sort=False).cumcount() + 1
    first_over = (rank == MAX_POSITIONS_PER_ACCOUNT + 1) & account.notna()
    parsers["positions"].report(
        "account_id",
        first_over,
        [
            f"account {a!r} has {n:,} positions, over the limit of "
            f"{MAX_POSITIONS_PER_ACCOUNT:,}: split it, or net its rows by instrument"
            for a, n in zip(account[first_over], counts[codes[first_over.to_numpy()]], strict=True)
        ],
    )


def check_repledge_chains(
    frames: dict[str, pd.DataFrame], parsers: dict[str, ColumnParser]
) -> None:
    """No chain of ``rehypothecated_to`` longer than :data:`MAX_REPLEDGE_HOPS` accounts.

    Cycles are allowed (the walk stops where one closes), so the measure is the longest
    path of the graph of its strongly connected components, each counted by its size: an
    upper bound on the hops of the walk, found in linear time."""
    if "relations" not in frames:
        return
    rel = frames["relations"]
    mask = (rel["relation"].astype("str") == Relation.REHYPOTHECATED_TO.value) & (
        rel["src"].notna() & rel["dst"].notna()
    )
    if not mask.any():
        return
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_edges_from(zip(rel["src"][mask], rel["dst"][mask], strict=True))
    dag = nx.condensation(graph)
    for node in dag.nodes:
        dag.nodes[node]["size"] = len(dag.nodes[node]["members"])
    sizes = _chain_sizes(dag)
    end = max(sizes, key=lambda node: sizes[node])
    if sizes[end] <= MAX_REPLEDGE_HOPS:
        return
    members = pd.Series(sorted(dag.nodes[end]["members"]), dtype="str")
    into = mask & pd.Series(isin(rel["dst"], members), index=rel.index)
    first = into & (into.cumsum() == 1)
    parsers["relations"].report(
        "dst",
        first,
        f"a chain of rehypothecated_to relations passes through {sizes[end]:,} accounts to "
        f"here, over the limit of {MAX_REPLEDGE_HOPS:,}: collateral is re-pledged at most "
        "that often",
    )


def _chain_sizes(dag: nx.DiGraph[int]) -> dict[int, int]:
    """For each component, the most accounts on a chain that ends there (topological order)."""
    best: dict[int, int] = {}
    for node in nx.topological_sort(dag):
        before = max((best[p] for p in dag.predecessors(node)), default=0)
        best[node] = before + dag.nodes[node]["size"]
    return best
