"""The Book: a validated, typed, canonically ordered snapshot of a book folder.

``load_book(path)`` reads a folder of CSV or Parquet files plus ``book.json``
(``docs/book-format.md``), validates everything at once (raising :class:`BookError` with
every problem), and returns a frozen :class:`Book` whose frames are sorted by their ids,
so that row order in the files never matters, and whose ``sha256`` identifies the
content for the audit trail whatever the file format or row order.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import math
import shutil
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from marginlex.engine.book.columns import to_arrow
from marginlex.engine.book.derive import derive, fill_defaults
from marginlex.engine.book.problems import BookError, BookProblem, Problems, Severity
from marginlex.engine.book.schema import FILES, SPECS, ColType, Column, FileSpec
from marginlex.engine.book.validate import BookMeta, parse_file, read_and_validate

HASH_VERSION = "marginlex-book-sha256-v1"
FRAME_NAMES = tuple(f.stem for f in FILES)


class Book(BaseModel):
    """A validated book: metadata, six typed frames and the content hash.

    Frames hold the contract columns in contract order, then derived columns, then any
    unknown extra columns (as text); rows are sorted by ids with a fresh RangeIndex.
    ``docs/book-format.md`` lists every column and dtype.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    as_of: date
    currency: str
    name: str
    parties: pd.DataFrame
    accounts: pd.DataFrame
    relations: pd.DataFrame
    instruments: pd.DataFrame
    positions: pd.DataFrame
    collateral: pd.DataFrame
    sha256: str
    warnings: tuple[BookProblem, ...] = ()

    def frame(self, stem: str) -> pd.DataFrame:
        """The frame of one file by its stem, e.g. ``"accounts"``."""
        frame: pd.DataFrame = getattr(self, SPECS[stem].stem)
        return frame

    @property
    def meta(self) -> BookMeta:
        """The ``book.json`` fields."""
        return BookMeta(as_of=self.as_of, currency=self.currency, name=self.name)

    def contract_frames(self) -> dict[str, pd.DataFrame]:
        """Each frame cut to its contract columns (what :func:`write_book` writes)."""
        return {s.stem: self.frame(s.stem)[list(s.names)] for s in FILES}


def validate_book(path: str | Path) -> list[BookProblem]:
    """Every problem of a book folder (errors and warnings); empty when clean.

    >>> validate_book("no/such/folder")[0].render()
    'no/such/folder: not a book folder (no such folder)'
    """
    from marginlex.engine.book.partitioned import is_partitioned, validate_partitioned  # noqa: PLC0415

    if is_partitioned(Path(path)):
        return validate_partitioned(Path(path))
    _, problems = read_and_validate(Path(path))
    return problems.to_list()


def load_book(path: str | Path) -> Book:
    """Load and validate a book folder.

    Args:
        path: a folder with parties, accounts, (relations,) instruments, positions and
            collateral as ``.csv`` or ``.parquet``, plus ``book.json``.

    Returns:
        The typed, canonically sorted :class:`Book`.

    Raises:
        BookError: with every problem found, when there is at least one error.
    """
    from marginlex.engine.book.partitioned import is_partitioned, load_partitioned  # noqa: PLC0415

    if is_partitioned(Path(path)):
        return load_partitioned(Path(path))
    parsed, problems = read_and_validate(Path(path))
    found = problems.to_list()
    if problems.has_errors() or parsed.meta is None:
        raise BookError(found)
    return book_from_frames(parsed.meta, parsed.frames, found)


def book_from_frames(
    meta: BookMeta,
    parsed: dict[str, pd.DataFrame],
    found: list[BookProblem],
    sha256: str | None = None,
) -> Book:
    """The :class:`Book` of validated frames: sorted, defaults filled, hashed (unless
    ``sha256`` is given), derived columns added; ``found``'s warnings kept."""
    # One canonical form (defaults filled) is hashed, recorded and replayed, so a book
    # with blank optional cells and its recorded copy have the same sha256.
    frames = fill_defaults({s.stem: canonical_order(s, parsed.get(s.stem)) for s in FILES})
    digest = sha256 if sha256 is not None else content_sha256(meta, frames)
    derived = derive(frames)
    return Book(
        as_of=meta.as_of,
        currency=meta.currency,
        name=meta.name,
        sha256=digest,
        warnings=tuple(p for p in found if p.severity is Severity.WARNING),
        **derived,
    )


DEMO_PACKAGE = __name__.rpartition(".")[0] + ".demo_book"
"""The package that holds the demo book's files."""


def load_demo_book() -> Book:
    """The demo book shipped inside the package (``engine/book/demo_book``)."""
    root = importlib.resources.files(DEMO_PACKAGE)
    if isinstance(root, Path):
        return load_book(root)
    with tempfile.TemporaryDirectory() as tmp:  # a zipped install: copy the files out
        for entry in root.iterdir():
            (Path(tmp) / entry.name).write_bytes(entry.read_bytes())
        return load_book(tmp)


def canonical_order(spec: FileSpec, df: pd.DataFrame | None) -> pd.DataFrame:
    """Sort a parsed frame by the file's ids (an absent optional file: an empty frame)."""
    if df is None:
        empty = pd.DataFrame({c: pd.Series([], dtype="str") for c in spec.names})
        df, _ = parse_file(spec, empty, f"{spec.stem}.csv", Problems(()))
    return df.sort_values(list(spec.sort_by), kind="stable").reset_index(drop=True)


def _column_bytes(s: pd.Series, kind: ColType) -> bytes:
    if kind is ColType.FLOAT:
        v = s.to_numpy(dtype="float64", na_value=np.nan)
        # One NaN bit pattern and no negative zero, so equal values hash equal.
        return (np.where(np.isnan(v), np.nan, v) + 0.0).astype("<f8").tobytes()
    if kind is ColType.BOOL:
        return s.to_numpy(dtype="uint8").tobytes()
    if kind is ColType.DATE:
        return s.to_numpy(dtype="datetime64[s]").astype("<i8").tobytes()
    text = s.astype("str").fillna("\x00").tolist()
    return "\x1f".join(text).encode("utf-8")


def stored_columns(spec: FileSpec, df: pd.DataFrame) -> list[Column]:
    """The columns written and hashed: every contract column but a late one no row sets."""
    return [
        c
        for c in spec.columns
        if not c.late or (c.name in df.columns and _any_set(df[c.name], c.type))
    ]


def _any_set(s: pd.Series, kind: ColType) -> bool:
    """Does some row set a late column: a true flag, or any value of another type."""
    if kind is ColType.BOOL:
        return bool(s.fillna(False).astype(bool).any())
    return bool(s.notna().any())


def content_sha256(meta: BookMeta, frames: dict[str, pd.DataFrame]) -> str:
    """SHA-256 of a book's canonical content: book.json fields and the contract columns.

    Frames must already be in canonical order. Extra columns and derived columns are not
    hashed: they never change a decision.
    """
    h = hashlib.sha256(HASH_VERSION.encode())
    h.update(json.dumps(meta.model_dump(mode="json"), sort_keys=True).encode())
    for spec in FILES:
        df = frames[spec.stem]
        h.update(f"\n{spec.stem}:{len(df)}\n".encode())
        for col in stored_columns(spec, df):
            data = _column_bytes(df[col.name], col.type)
            h.update(f"{col.name}:{col.type.value}:{len(data)}\n".encode())
            h.update(data)
    return h.hexdigest()


def _text_frame(spec: FileSpec, df: pd.DataFrame) -> pd.DataFrame:
    out: dict[str, pd.Series] = {}
    for col in stored_columns(spec, df):
        s = df[col.name]
        if col.type is ColType.DATE:
            out[col.name] = s.dt.strftime("%Y-%m-%d").fillna("")
        elif col.type is ColType.BOOL:
            out[col.name] = s.map({True: "true", False: "false"})
        elif col.type is ColType.FLOAT:
            # repr is the shortest text that reads back to the same float64.
            out[col.name] = pd.Series(["" if math.isnan(x) else repr(x) for x in s.tolist()])
        else:
            out[col.name] = s.astype("str").fillna("")
    return pd.DataFrame(out)


def _arrow_table(spec: FileSpec, df: pd.DataFrame) -> pa.Table:
    arrays, names = [], []
    for col in stored_columns(spec, df):
        s = df[col.name]
        if col.type is ColType.DATE:
            arr = pa.array(s.to_numpy(dtype="datetime64[D]"), type=pa.date32())
        elif col.type is ColType.BOOL:
            arr = pa.array(s.to_numpy(dtype="bool"))
        elif col.type is ColType.FLOAT:
            arr = pa.array(s.to_numpy(dtype="float64"), from_pandas=True)
        else:  # astype("str")'s texts, in Arrow without a Python object per row
            arr = to_arrow(s).cast(pa.string())
        arrays.append(arr)
        names.append(col.name)
    return pa.Table.from_arrays(arrays, names=names)


def write_book(
    meta: BookMeta, frames: dict[str, pd.DataFrame], out: str | Path, fmt: str = "csv"
) -> Path:
    """Write a book folder (contract columns only); same frames give the same bytes.

    Args:
        meta: the book.json fields.
        frames: a frame per file stem, with at least the contract columns, typed as loaded.
        out: the folder to write (created; existing book files are replaced).
        fmt: ``"csv"`` or ``"parquet"``.

    Returns:
        The folder written.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown format {fmt!r}: expected csv or parquet")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "book.json").write_text(
        json.dumps(meta.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8"
    )
    return write_tables(frames, folder, fmt)


def write_tables(frames: dict[str, pd.DataFrame], folder: Path, fmt: str = "csv") -> Path:
    """Write the tables of ``frames`` (a frame per file stem, any subset) into ``folder``
    as :func:`write_book` writes them (a partition of a partitioned book is three)."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown format {fmt!r}: expected csv or parquet")
    folder.mkdir(parents=True, exist_ok=True)
    for spec in FILES:
        if spec.stem not in frames:
            continue
        df = frames[spec.stem].reset_index(drop=True)
        for stale in (folder / f"{spec.stem}.csv", folder / f"{spec.stem}.parquet"):
            stale.unlink(missing_ok=True)
        if fmt == "csv":
            _text_frame(spec, df).to_csv(
                folder / f"{spec.stem}.csv", index=False, lineterminator="\n"
            )
        else:
            pq.write_table(_arrow_table(spec, df), folder / f"{spec.stem}.parquet")
    return folder


def copy_book(src: str | Path, dst: str | Path) -> Path:
    """Copy a book folder's files (for tests that plant problems in a good book)."""
    shutil.copytree(src, dst, dirs_exist_ok=True)
    return Path(dst)
