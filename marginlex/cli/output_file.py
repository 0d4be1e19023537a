"""The files commands write when asked (``test --junit``, ``compare --report`` and
``--study``, ``stress --report``, ``explain -o``, ``render -o``): a path that cannot be written
is refused before any work, and a write that fails all the same is said in one line and
leaves no part of a file (an earlier file at that path stays as it was). Exit 1 either way,
never a traceback (``run --out``, a folder, has its own check in
:mod:`marginlex.cli.run_output`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from marginlex.cli.consoles import lazy_console

_err = lazy_console(stderr=True, highlight=False)


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be written as a file (None: it can, as far as can be told).

    >>> file_problem(Path("/nonexistent-folder/x.xml"))
    'its folder /nonexistent-folder does not exist'
    >>> file_problem(Path("/"))
    'it is a folder'
    """
    if path.is_dir():
        return "it is a folder"
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        return f"its folder {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if path.exists() and not os.access(path, os.W_OK):
        return "it is not writable"
    if not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
        return f"its folder {folder} is not writable"
    return None


Read = tuple[str, "str | Path | None"]
"""What a command reads, as a message names it (``the ledger``), and its path: a file, or a
folder whose files are read (a book's); None, or a name that is no path (a shipped
rulebook's id), reads nothing a FILE option could name."""


def read_problem(path: Path, reads: Iterable[Read]) -> str | None:
    """Why ``path`` must not be written: it is a file the command reads (None: it is not).
    Writing it replaced what was read: ``explain ID --ledger l.db -o l.db`` wrote the page
    over the ledger, every recorded decision lost.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     ledger = Path(d) / "l.db"
    ...     _ = ledger.write_bytes(b"")
    ...     print(read_problem(Path(d) / "." / "l.db", [("the ledger", str(ledger))]))
    ...     read_problem(Path(d) / "page.html", [("the ledger", ledger)]) is None
    it is the ledger this command reads: writing it would replace it
    True
    """
    if not path.exists() or path.is_dir():
        return None
    for what, given in reads:
        if given is None or not Path(given).exists():
            continue
        read = Path(given)
        if read.is_dir():  # a book folder: its files
            if _same(path.parent, read) and path.suffix in _BOOK_SUFFIXES:
                return (
                    f"it is a file of {what} this command reads ({read}): writing it would "
                    "replace it"
                )
        elif _same(path, read):
            return f"it is {what} this command reads: writing it would replace it"
    return None


_BOOK_SUFFIXES = frozenset({".csv", ".parquet", ".json"})
"""A book folder's files (``accounts.csv``, ``book.json``, ...) end so."""


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_file_or_exit(path: Path | None, option: str, reads: Iterable[Read] = ()) -> None:
    """Refuse a FILE option that cannot be written, or that names a file the command reads
    (``reads``: the ledger, a book, a rulebook), before the command does its work."""
    if path is None:
        return
    problem = file_problem(path) or read_problem(path, reads)
    if problem is not None:
        _err.print(f"error: cannot write {option} {path}: {problem}", markup=False, soft_wrap=True)
        raise typer.Exit(1)


@contextmanager
def writing(path: Path, option: str) -> Iterator[None]:
    """Around the write of a FILE option: an ``OSError`` (the disk full, the folder removed
    meanwhile) becomes one line and exit 1."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        _err.print(f"error: cannot write {option} {path}: {reason}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None


def write_file(path: Path, option: str, write: Callable[[Path], object]) -> None:
    """``write(PATH)`` under :func:`writing`, then ``wrote PATH`` on stderr. ``write`` writes
    a temporary file beside ``path`` that then takes its name (:func:`whole_file`): a write
    cut short leaves no part of a page, and an earlier file at ``path`` as it was."""
    from marginlex.dsl.format.files import whole_file  # noqa: PLC0415 - explain stays light

    with writing(path, option), whole_file(path) as temporary:
        write(temporary)
    _err.print(f"wrote {path}", markup=False, soft_wrap=True)
