"""Partitioned books: a book too big for one process, cut into partition folders.

A partitioned book folder holds ``book.json``, the whole book's ``parties``, ``relations``
and ``instruments``, and a folder ``partitions/`` with one folder per partition (``p00000``,
``p00001``, ...), each holding the ``accounts``, ``positions`` and ``collateral`` of its
accounts (``docs/book-format.md``). No margin set spans two partitions: an owner's
accounts are in one partition, and a lot is pledged only to an account of its own partition.

A partition is read and validated alone with the whole book's small tables (a
:func:`read_partition`, what a Dask worker does); :func:`load_partitioned` reads every
partition into one :class:`~marginlex.engine.book.load.Book`, the same book (rows, sha256)
as the unpartitioned folder of the same rows. Problems name a partition's file by its path
in the book folder, e.g. ``partitions/p00003/positions.parquet:7: quantity: ...``.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict

from marginlex.dsl.model.domain import ASSET_CLASSES
from marginlex.engine.book.load import Book, book_from_frames
from marginlex.engine.book.problems import (
    BookError,
    BookProblem,
    Problems,
    Severity,
)
from marginlex.engine.book.schema import FILES, SPECS, ColType
from marginlex.engine.book.validate import (
    BOOK_JSON,
    OWN_TABLES,
    BookMeta,
    Parsed,
    find_file,
    read_and_validate,
    read_meta,
    read_raw,
)

PARTITIONS = "partitions"
"""The folder of a partitioned book that holds one folder per partition."""
PARTITIONED_HASH_VERSION = "marginlex-partitioned-book-sha256-v1"


def is_partitioned(folder: Path) -> bool:
    """Whether ``folder`` is a partitioned book (it has a ``partitions/`` folder)."""
    return (folder / PARTITIONS).is_dir()


def partition_name(k: int) -> str:
    """The folder name of partition ``k``.

    >>> partition_name(3)
    'p00003'
    """
    return f"p{k:05d}"


def partition_folders(folder: Path) -> list[Path]:
    """The partition folders of a partitioned book, in name order."""
    return sorted(p for p in (folder / PARTITIONS).iterdir() if p.is_dir())


class Layout(BaseModel):
    """What a client reads of a partitioned book before any partition: the partitions, every
    account id (a relation may name an account of any partition) and the problems of the
    cut itself (an account or an owner in two partitions)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    meta: BookMeta | None
    partitions: tuple[Path, ...]
    account_ids: pd.Series
    problems: tuple[BookProblem, ...]


def read_layout(folder: Path) -> Layout:
    """The layout of a partitioned book: reads ``book.json`` and two columns of each
    partition's accounts (``account_id``, ``owner_id``), never its positions."""
    problems = Problems(("book", "accounts"))
    meta = read_meta(folder, problems)
    parts = partition_folders(folder)
    if not parts:
        problems.add(f"{PARTITIONS}/", 0, "-", "no partition folder (p00000, p00001, ...)")
    _report_misplaced(folder, parts, problems)
    ids = [_account_columns(folder, part) for part in parts]
    _check_cut(folder, parts, ids, problems)
    every = pd.concat([f["account_id"] for f in ids], ignore_index=True) if ids else None
    return Layout(
        meta=meta,
        partitions=tuple(parts),
        account_ids=every if every is not None else pd.Series([], dtype="str"),
        problems=tuple(problems.to_list()),
    )


SHARED_TABLES = tuple(f.stem for f in FILES if f.stem not in OWN_TABLES)
"""The tables of a partitioned book that are the whole book's, beside ``book.json``."""
_NUMBERED = re.compile(r"p(\d{5})")


def _report_misplaced(folder: Path, parts: list[Path], problems: Problems) -> None:
    """Files and folders a partitioned book holds where nothing reads them, each an error
    (a book decided without them would leave rows out unsaid): a partition's table beside
    ``book.json``, a whole-book table or ``book.json`` in a partition, a link in
    ``partitions/`` to nothing, and a gap in partitions numbered as ``synth`` numbers them."""
    first = f"{PARTITIONS}/{parts[0].name}" if parts else f"{PARTITIONS}/p00000"
    for stem in OWN_TABLES:
        for path in (folder / f"{stem}.csv", folder / f"{stem}.parquet"):
            if path.exists() or path.is_symlink():
                problems.add(
                    path.name,
                    0,
                    "-",
                    f"a partitioned book holds its {stem} in its partition folders "
                    f"({first}/{path.name}, ...), so this file is not read: move its rows "
                    "into the partitions, or delete it",
                )
    for part in parts:
        for name in (BOOK_JSON, *(f"{s}{e}" for s in SHARED_TABLES for e in (".csv", ".parquet"))):
            path = part / name
            if path.exists() or path.is_symlink():
                what = "name and date" if name == BOOK_JSON else Path(name).stem
                problems.add(
                    f"{PARTITIONS}/{part.name}/{name}",
                    0,
                    "-",
                    "a partition holds only accounts, positions and collateral: the book's "
                    f"{what} are read beside {PARTITIONS}/, so this file is not read: delete "
                    "it, or move its rows there",
                )
    broken: set[str] = set()
    for entry in sorted((folder / PARTITIONS).iterdir()):
        if entry.is_symlink() and not entry.exists():
            broken.add(entry.name)
            problems.add(
                f"{PARTITIONS}/{entry.name}",
                0,
                "-",
                f"a link to {os.readlink(entry)!r}, which is not there: the partition it "
                "stands for would be left out; restore what it names, or delete the link",
            )
    _report_partition_files(folder, problems)
    numbers = [_NUMBERED.fullmatch(p.name) for p in parts]
    if parts and all(numbers):
        found = {int(m.group(1)) for m in numbers if m}
        gone = [partition_name(k) for k in range(max(found)) if k not in found]
        gone = [name for name in gone if name not in broken]
        for name in gone[:10]:
            problems.add(
                f"{PARTITIONS}/{name}",
                0,
                "-",
                f"missing: the partitions run {parts[0].name} to {parts[-1].name} without it, "
                "and its accounts would be left out unsaid: restore it (or renumber the "
                "others)",
            )
        if len(gone) > 10:
            problems.add(
                f"{PARTITIONS}/", 0, "-", f"… and {len(gone) - 10} more partitions missing"
            )


def _report_partition_files(folder: Path, problems: Problems) -> None:
    """A file in ``partitions/`` that is named as a partition (``p00003``, ``p00003.zip``)
    or as a partition's table (``accounts.parquet``), an error: it holds rows no partition
    folder reads, and the book decided without them (a file ``p00003`` after ``p00002``
    is no gap either). Other files there (``README.txt``) are left alone."""
    tables = {f"{stem}{ending}" for stem in OWN_TABLES for ending in (".csv", ".parquet")}
    for entry in sorted((folder / PARTITIONS).iterdir()):
        if entry.is_dir() or not entry.exists():  # a broken link is said above
            continue
        if _NUMBERED.fullmatch(entry.name.split(".")[0]) or entry.name in tables:
            problems.add(
                f"{PARTITIONS}/{entry.name}",
                0,
                "-",
                "a file, not a partition folder, so not read: the rows it holds would be left "
                f"out unsaid: put them in a folder ({PARTITIONS}/{partition_name(0)}/"
                "accounts.parquet, ...), or delete it",
            )


def _account_columns(folder: Path, part: Path) -> pd.DataFrame:
    """``account_id`` and ``owner_id`` of a partition's accounts as text (empty when the
    file cannot be read: the partition's own validation says why)."""
    empty = pd.DataFrame(
        {"account_id": pd.Series([], dtype="str"), "owner_id": "", "row": 0, "file": ""}
    )
    path = find_file(part, "accounts", Problems(()))
    if path is None:
        return empty
    raw = read_raw(path, Problems(()))  # the partition's own validation reports problems
    if raw is None or not {"account_id", "owner_id"} <= set(raw.frame.columns):
        return empty
    ids = raw.frame[["account_id", "owner_id"]].astype("str")
    return ids.assign(row=raw.spreadsheet_rows(), file=path.relative_to(folder).as_posix())


def _check_cut(
    folder: Path, parts: list[Path], ids: list[pd.DataFrame], problems: Problems
) -> None:
    """An account in two partitions, or an owner's accounts in two: a margin set could span
    partitions. Each is reported at the later partition's row."""
    numbered = [f.assign(part=k) for k, f in enumerate(ids) if len(f)]
    if not numbered:
        return
    rows = pd.concat(numbered, ignore_index=True)
    first = rows.groupby("account_id", sort=False)["part"].transform("min")
    again = rows["part"] != first
    _report_cut(problems, rows[again], parts, first[again], ("account_id", "account", ONE_PART))
    owner_first = rows.groupby("owner_id", sort=False)["part"].transform("min")
    split = (rows["part"] != owner_first) & ~again
    _report_cut(problems, rows[split], parts, owner_first[split], ("owner_id", "owner", ONE_OWNER))


ONE_PART = "an account belongs to one partition"
ONE_OWNER = "an owner's accounts are in one partition (a margin set may join them)"


def _report_cut(
    problems: Problems,
    rows: pd.DataFrame,
    parts: list[Path],
    first: pd.Series,
    check: tuple[str, str, str],
) -> None:
    """Report ``rows`` (column, what, why in ``check``), each naming the first partition."""
    col, name, why = check
    for file, group in rows.assign(first=first).groupby("file", sort=True):  # a few files
        where = [f"{PARTITIONS}/{parts[k].name}" for k in group["first"]]
        messages = [
            f"{name} {v!r} is also in {w}: {why}" for v, w in zip(group[col], where, strict=True)
        ]
        problems.add(str(file), group["row"].to_numpy(), col, messages)


def read_partition(
    folder: Path, part: Path, account_ids: pd.Series | None = None
) -> tuple[Parsed, Problems]:
    """One partition with the whole book's small tables, read and validated as a book."""
    return read_and_validate(folder, own=part, book_accounts=account_ids)


def load_partition(
    folder: Path, part: Path, account_ids: pd.Series | None = None, sha256: str | None = None
) -> Book:
    """One partition as a :class:`Book` (the whole book's name and date; ``sha256`` when
    given, else the partition's content hash).

    Raises:
        BookError: with every problem of the partition, when there is an error.
    """
    parsed, problems = read_partition(folder, part, account_ids)
    found = problems.to_list()
    if problems.has_errors() or parsed.meta is None:
        raise BookError(found)
    return book_from_frames(parsed.meta, parsed.frames, found, sha256)


def partitioned_sha256(meta: BookMeta, partition_hashes: list[str]) -> str:
    """The sha256 a run reports for a partitioned book it did not read whole: a hash of its
    ``book.json`` fields and its partitions' content hashes, in partition order."""
    h = hashlib.sha256(PARTITIONED_HASH_VERSION.encode())
    h.update(meta.model_dump_json().encode())
    for digest in partition_hashes:  # one per partition
        h.update(f"\n{digest}".encode())
    return h.hexdigest()


def validate_partitioned(folder: Path) -> list[BookProblem]:
    """Every problem of a partitioned book: its cut, then each partition's (the whole
    book's small tables' problems once)."""
    layout = read_layout(folder)
    found = list(layout.problems)
    for part in layout.partitions:  # one partition in memory at a time
        _, problems = read_partition(folder, part, layout.account_ids)
        found.extend(problems.to_list())
    return list(dict.fromkeys(found))


def load_partitioned(folder: Path) -> Book:
    """A partitioned book read whole: every partition's rows in one :class:`Book`, with the
    sha256 of the same rows unpartitioned.

    Raises:
        BookError: with every problem (:func:`validate_partitioned`'s), when one is an error.
    """
    layout = read_layout(folder)
    found = list(layout.problems)
    shared: dict[str, pd.DataFrame] = {}
    own: dict[str, list[pd.DataFrame]] = {stem: [] for stem in OWN_TABLES}
    for part in layout.partitions:  # one partition parsed at a time
        parsed, problems = read_partition(folder, part, layout.account_ids)
        found.extend(problems.to_list())
        for stem, frame in parsed.frames.items():
            if stem in own:
                own[stem].append(frame)
            else:
                shared.setdefault(stem, frame)
    found = list(dict.fromkeys(found))
    if layout.meta is None or any(p.severity is Severity.ERROR for p in found):
        raise BookError(found)
    frames = {**shared, **{s: concat_parsed(s, f) for s, f in own.items() if f}}
    return book_from_frames(layout.meta, frames, found)


def concat_parsed(stem: str, frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Parsed frames of one table, one after another, typed as the parser types the table
    read whole: a categorical column's categories are the contract's values, then (a
    ticker column) the other tickers met, sorted."""
    out = pd.concat(frames, ignore_index=True)
    for col in SPECS[stem].columns:
        if col.type not in (ColType.ENUM, ColType.TICKER) or col.name not in out:
            continue
        fixed = list(col.enum) if col.type is ColType.ENUM else list(ASSET_CLASSES)
        met = {str(c) for f in frames for c in f[col.name].cat.categories}
        categories = [*fixed, *sorted(met - set(fixed))]
        text = out[col.name].astype("object")
        out[col.name] = pd.Series(pd.Categorical(text, categories=categories), index=out.index)
    return out
