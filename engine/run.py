"""Run rulebooks on a book: load, compile, evaluate, and write the results as Parquet.

What ``marginlex run`` and :func:`marginlex.evaluate` call.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from marginlex.dsl.loader import load_rulebook
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book, load_book, load_demo_book
from marginlex.engine.evaluate import evaluate
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.kernels.csv_cells import frame_cells
from marginlex.engine.outcomes import FileFormat
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.plan.context import Contexts, build_contexts

DEFAULT_RULEBOOKS = ("sec", "cftc", "harmonized")


class OutputError(ValueError):
    """An ``--out`` location the Parquet files cannot be written to (with what to do)."""


def check_out_folder(out: str | Path, ids: Sequence[str] = ()) -> Path:
    """The ``--out`` folder, refused before anything is evaluated when it, or the folder of
    one of the rulebooks ``ids`` inside it, cannot be one or cannot be written.

    Raises:
        OutputError: ``out`` (or one of its parents, or ``out/<id>``) is an existing file,
            or the folder that would hold it cannot be written.

    >>> check_out_folder("results").name
    'results'
    """
    folder = Path(out)
    for path in (*(folder / i for i in ids), folder, *folder.parents):
        if path.exists() and not path.is_dir():
            where = f"--out {out}" if path == folder else f"--out {out}: {path}"
            raise OutputError(
                f"{where} is a file, not a folder: give a folder path (it is created if missing)"
            )
    for path in (*(folder / i for i in ids), folder):
        made = next((p for p in (path, *path.parents) if p.exists()), None)
        if made is not None and not os.access(made, os.W_OK | os.X_OK):
            raise OutputError(f"--out {out}: cannot write {path}: {made} is not writable")
    return folder


def resolve_book(book: str | Path | Book | None) -> Book:
    """A loaded book: the demo book for None, a folder path loaded and validated."""
    if book is None:
        return load_demo_book()
    if isinstance(book, Book):
        return book
    return load_book(book)


def resolve_rulebook(
    rulebook: str | Path | ResolvedRulebook, near: Sequence[Path] = ()
) -> ResolvedRulebook:
    """A resolved, checked rulebook from an id, a path or a resolved rulebook; an id is
    looked up among the shipped rulebooks and the files of ``near``."""
    if isinstance(rulebook, ResolvedRulebook):
        return rulebook
    return load_rulebook(rulebook, near)


def run_rulebook(
    rulebook: str | Path | ResolvedRulebook,
    book: str | Path | Book | None = None,
    as_of: dt.date | None = None,
    graph: AccountGraph | None = None,
    *,
    contexts: Contexts | None = None,
) -> Evaluation:
    """Load (if needed), compile and evaluate one rulebook on one book.

    Args:
        rulebook: shipped id, ``.mlx`` path or resolved rulebook.
        book: book folder, loaded book, or None for the demo book.
        as_of: as-of date (default: the book's).
        graph: the book's account graph, to share it between rulebooks.
        contexts: the book's row contexts for that date
            (:func:`~marginlex.engine.plan.context.build_contexts` with ``graph``), to share
            them between rulebooks too.

    Returns:
        The evaluation.
    """
    loaded = resolve_book(book)
    day = as_of or loaded.as_of
    plan = compile_plan(resolve_rulebook(rulebook), day)
    return evaluate(plan, loaded, day, graph, contexts=contexts)


class SharedBook:
    """One book evaluated under several rulebooks: its account graph, and its row contexts
    for each as-of date, built once and shared by every rulebook (each evaluation clears the
    contexts' eligibility columns). At 100k accounts the contexts cost 0.3 s a rulebook.

    >>> shared = SharedBook(load_demo_book())
    >>> [len(shared.evaluate(r).decisions) for r in ("sec", "cftc")]
    [13, 6]
    """

    def __init__(self, book: Book) -> None:
        self.book = book
        self.graph = AccountGraph(book)
        self._contexts: dict[dt.date, Contexts] = {}

    def contexts(self, as_of: dt.date | None = None) -> Contexts:
        """The book's row contexts as of ``as_of`` (default: the book's date), made once."""
        day = as_of or self.book.as_of
        if day not in self._contexts:
            self._contexts[day] = build_contexts(self.book, day, self.graph)
        return self._contexts[day]

    def evaluate(
        self, rulebook: str | Path | ResolvedRulebook, as_of: dt.date | None = None
    ) -> Evaluation:
        """:func:`run_rulebook` on this book, with its shared graph and contexts."""
        day = as_of or self.book.as_of
        return run_rulebook(rulebook, self.book, day, self.graph, contexts=self.contexts(day))


def _parquet_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns as text so that pyarrow writes typed columns."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].astype("str")
    return out


def write_evaluation(
    evaluation: Evaluation, out: str | Path, file_format: FileFormat = FileFormat.PARQUET
) -> Path:
    """Write decisions and every trace frame under ``out/<rulebook id>/``.

    Files: ``decisions.<ext>``, ``<frame>.<ext>`` per trace frame (``.parquet``, or ``.csv``
    in UTF-8 with a header row, money as plain decimals), ``run.json`` (rulebook, version,
    as-of, book name and sha256, counts).

    Returns:
        The folder written.

    Raises:
        OutputError: the folder cannot be created or written (a file in the way, no
            permission, disk full).
    """
    parent = check_out_folder(out)
    folder = parent / evaluation.rulebook_id
    if folder.is_symlink():  # the folder it points to is replaced; the link stays
        folder = folder.resolve()
    made = [p for p in (folder.parent, *folder.parent.parents) if not p.exists()]
    staging: Path | None = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        # Written in a sibling folder and renamed into place only when whole: a disk that
        # filled mid-way left a positions.csv of 12,288 of its 20,670 bytes and no run.json,
        # which read as a complete output.
        staging = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:12]}.partial"
        staging.mkdir()  # as a plain mkdir makes it (a temporary folder would be 0700)
        _write_files(evaluation, staging, file_format)
        _replace_folder(staging, folder)
    except OSError as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        for path in made:  # the folders this write made, if nothing else is in them now
            with contextlib.suppress(OSError):
                path.rmdir()
        raise OutputError(f"--out {out}: cannot write {folder}: {exc.strerror or exc}") from exc
    return folder


def _replace_folder(staging: Path, folder: Path) -> None:
    """Put the folder written as ``staging`` in ``folder``'s place: a folder of an earlier
    run there is moved aside first, and back if the rename fails, then removed."""
    if not folder.exists():
        staging.rename(folder)
        return
    aside = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:12]}.old"
    folder.rename(aside)
    try:
        staging.rename(folder)
    except OSError:
        aside.rename(folder)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _write_files(evaluation: Evaluation, folder: Path, file_format: FileFormat) -> None:
    for name, frame in {"decisions": evaluation.decisions, **evaluation.frames}.items():
        ready = _parquet_ready(frame)
        target = folder / f"{name}.{file_format.value}"
        if file_format is FileFormat.CSV:
            frame_cells(ready).to_csv(target, index=False, encoding="utf-8", lineterminator="\n")
        else:
            ready.to_parquet(target, index=False)
    meta = {
        "rulebook_id": evaluation.rulebook_id,
        "version": evaluation.plan.version,
        "as_of": evaluation.as_of.isoformat(),
        "book_name": evaluation.book_name,
        "book_sha256": evaluation.book_sha256,
        "summary": evaluation.summary().model_dump(),
        "skipped_steps": [s.rule_id for s in evaluation.plan.skipped],
    }
    (folder / "run.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
