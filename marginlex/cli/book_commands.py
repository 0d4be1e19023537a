"""Commands of the book group: ``marginlex validate`` and ``marginlex synth``."""

from __future__ import annotations

import json
import shutil
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from marginlex.cli.help_text import examples
from marginlex.cli.output_format import JSON_ALIAS, OutputFormat, chosen, format_option
from marginlex.printable import printable

# The engine (pandas, pyarrow) is imported inside the commands: other commands start fast.
if TYPE_CHECKING:
    from marginlex.engine.book.load import Book
    from marginlex.engine.book.problems import BookProblem

_out = Console(highlight=False, emoji=False)
_err = Console(stderr=True, highlight=False, emoji=False)
FRAMES = ("parties", "accounts", "relations", "instruments", "positions", "collateral")


class BookFormat(StrEnum):
    """File format of a written book."""

    CSV = "csv"
    PARQUET = "parquet"


def _counts(book: Book) -> dict[str, int]:
    return {name: len(book.frame(name)) for name in FRAMES}


def _problem_json(p: BookProblem) -> dict[str, object]:
    return p.model_dump(mode="json")


_BOOK = typer.Argument(..., help="A book folder (CSV or Parquet files plus book.json).")
_FORMAT_OUT = format_option("table (a summary) or json (every problem and count).")
_ACCOUNTS = typer.Option(..., "--accounts", min=20, help="Number of accounts.")
_SEED = typer.Option(..., "--seed", min=0, help="Random seed: same seed, same bytes.")
_OUT = typer.Option(..., "--out", help="Folder to write the book into.")
_FORMAT = typer.Option(BookFormat.CSV, "--format", help="csv or parquet.")
_FORCE = typer.Option(
    False,
    "--force",
    help="Write into a folder that is not empty: its book files (book.json, the six tables "
    "as CSV or Parquet, partitions/) are replaced; other files are left as they are.",
)
_PARTITIONS = typer.Option(
    0,
    "--partitions",
    min=0,
    help="Write a partitioned book of this many partitions, one at a time (for books "
    "bigger than one process; see docs/book-format.md). 0: one folder of six files.",
)


def validate(
    book: Path = _BOOK, fmt: OutputFormat = _FORMAT_OUT, as_json: bool = JSON_ALIAS
) -> None:
    """Validate a book folder; list every problem as `file:row: column: what is wrong`.

    Rows are spreadsheet rows: the header is row 1, the first record row 2; row 0 is the
    file as a whole. Exit code 0 when the book is valid (warnings allowed), 1 otherwise.
    """
    as_json = chosen(fmt, as_json, "validate", csv=False) is OutputFormat.JSON
    from marginlex.engine.book.load import load_book  # noqa: PLC0415
    from marginlex.engine.book.problems import BookError, Severity  # noqa: PLC0415

    try:
        loaded: Book | None = load_book(book)
        problems = list(loaded.warnings) if loaded else []
    except BookError as exc:
        loaded, problems = None, exc.problems
    n_err = sum(p.severity is Severity.ERROR for p in problems)
    n_warn = len(problems) - n_err
    if as_json:
        doc: dict[str, object] = {
            "book": str(book),
            "valid": loaded is not None,
            "errors": n_err,
            "warnings": n_warn,
            "problems": [_problem_json(p) for p in problems],
        }
        if loaded is not None:
            doc.update(
                sha256=loaded.sha256,
                as_of=loaded.as_of.isoformat(),
                name=loaded.name,
                counts=_counts(loaded),
            )
        typer.echo(json.dumps(doc, indent=2))
    else:
        for p in problems:
            typer.echo(p.render(), err=True)
        if loaded is None:
            typer.echo(f"{book}: invalid: {n_err} error(s), {n_warn} warning(s)", err=True)
        else:
            _print_summary(loaded, n_warn)
    raise typer.Exit(0 if loaded is not None else 1)


def _print_summary(book: Book, n_warn: int) -> None:
    _out.print(
        # printable: a name holding ESC [2J cleared the terminal (the tables write it out)
        f"{printable(book.name)} (as of {book.as_of.isoformat()}): valid, {n_warn} warning(s)",
        markup=False,
        soft_wrap=True,
    )
    table = Table()
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, n in _counts(book).items():
        table.add_row(name, f"{n:,}")
    _out.print(table)
    _out.print(f"sha256 {book.sha256}", markup=False)


def synth(  # noqa: PLR0917 - typer passes options by position
    accounts: int = _ACCOUNTS,
    seed: int = _SEED,
    out: Path = _OUT,
    fmt: BookFormat = _FORMAT,
    partitions: int = _PARTITIONS,
    force: bool = _FORCE,
) -> None:
    """Write a deterministic synthetic book (about 10 positions and 2 lots per account)."""
    start = time.perf_counter()
    try:
        _clear_or_refuse(out, force)
        counts = _write_synth(accounts, seed, out, fmt, partitions)
    except OSError as exc:
        # e.g. --out names an existing file, or a folder one cannot write to.
        reason = exc.strerror or str(exc)
        _err.print(f"error: cannot write the book to {out}: {reason}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except ValueError as exc:  # too few accounts for the partitions asked
        _err.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except MemoryError:
        held = f"{accounts:,} accounts" + (f" in {partitions:,} partitions" if partitions else "")
        _err.print(
            f"error: not enough memory to make {held} (each partition is made whole in "
            "memory): ask for fewer accounts, or more --partitions with --format parquet",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    took = time.perf_counter() - start
    sizes = ", ".join(f"{counts[n]:,} {n}" for n in FRAMES)
    _err.print(f"wrote {out} in {took:.1f} s: {sizes}", markup=False, soft_wrap=True)


def _clear_or_refuse(out: Path, force: bool) -> None:
    """A folder that holds anything is not written over unless ``force``: then its book
    files go first, so that no table is left in both formats (a book no one can load).

    Raises:
        OSError: ``out`` is a file, the folder is not empty and ``force`` is off (a
            hand-made book would be lost), or a book file cannot be removed.
    """
    if out.exists() and not out.is_dir():  # it said "File exists"
        raise OSError("it is a file, not a folder: give a folder for --out (made if absent)")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not force:
        raise OSError(
            f"the folder is not empty (synth writes a new book: give another --out, or "
            f"--force to replace the book files in {out})"
        )
    from marginlex.engine.book.partitioned import PARTITIONS  # noqa: PLC0415
    from marginlex.engine.book.schema import FILES  # noqa: PLC0415

    names = ["book.json", *(f"{s.stem}.{x}" for s in FILES for x in ("csv", "parquet"))]
    for name in names:
        (out / name).unlink(missing_ok=True)
    if (out / PARTITIONS).is_dir():
        shutil.rmtree(out / PARTITIONS)


def _write_synth(
    accounts: int, seed: int, out: Path, fmt: BookFormat, partitions: int
) -> dict[str, int]:
    """Write the book (partition by partition when ``partitions``); its rows per table.

    Raises:
        MemoryError: a partition would not fit in the memory a book may take.
    """
    from marginlex.engine.synth.generate import check_synth_memory  # noqa: PLC0415

    check_synth_memory(accounts, partitions)
    if partitions:
        from marginlex.engine.synth.partitioned import write_partitioned_synth  # noqa: PLC0415

        def told(j: int, rows: dict[str, int]) -> None:
            _err.print(
                f"partition {j + 1}/{partitions}: {rows['positions']:,} positions",
                markup=False,
            )

        return write_partitioned_synth(
            accounts, seed, partitions, out, fmt=fmt.value, progress=told
        )
    from marginlex.engine.book.load import write_book  # noqa: PLC0415
    from marginlex.engine.synth.generate import DEFAULT_AS_OF, synth_book  # noqa: PLC0415

    meta, frames = synth_book(accounts, seed, DEFAULT_AS_OF)
    write_book(meta, frames, out, fmt.value)
    return {n: len(frames[n]) for n in FRAMES}


def register(app: typer.Typer) -> None:
    """Add this group's commands to the marginlex app."""
    app.command(
        "validate",
        epilog=examples("marginlex validate my_book/", "marginlex validate my_book/ --format json"),
    )(validate)
    app.command(
        "synth",
        epilog=examples(
            "marginlex synth --accounts 1000 --seed 7 --out big_book/",
            "marginlex synth --accounts 100000 --seed 7 --format parquet --partitions 8 "
            "--out parts/",
        ),
    )(synth)
