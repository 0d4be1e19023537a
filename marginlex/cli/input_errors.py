"""What a command prints for a bad book, a bad rulebook or an evaluation that cannot be made:
one problem a line, never wrapped (``file:row: column: what is wrong``); and the warnings of
a book that loads, before the command goes on."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from marginlex.engine.book.load import Book


def input_error_lines(exc: BaseException) -> list[str] | None:
    """The lines that say what is wrong with the inputs; None for any other exception.

    The exception classes are imported here, so that a command's ``--help`` stays light.
    """
    from marginlex.dsl.diagnostics import RulebookError  # noqa: PLC0415
    from marginlex.engine.book.problems import BookError  # noqa: PLC0415
    from marginlex.engine.plan.compile import CompileError  # noqa: PLC0415
    from marginlex.engine.plan.context import EvaluationError  # noqa: PLC0415

    if isinstance(exc, BookError):
        return [problem.render() for problem in exc.problems]
    if isinstance(exc, RulebookError):
        return [diagnostic.render() for diagnostic in exc.diagnostics]
    if isinstance(exc, CompileError | EvaluationError | ValueError | OSError):
        return [f"error: {exc}"]  # OSError: no cluster, an unreadable file
    return None


SHOWN_WARNINGS = 10
"""A command says at most this many of a book's warnings (``validate`` says them all)."""


def loaded_book(book: Path | None, day: date | None = None) -> Book:
    """The book at ``book`` (the demo book for None), its warnings (an unknown column, a
    position in an expired contract) said on stderr, one a line, as ``validate`` says them;
    with ``day`` (``--as-of``) other than the book's date, :func:`as_of_warning` after them.

    Raises:
        BookError: the book is invalid (:func:`input_error_lines` says why).
    """
    from marginlex.engine.run import resolve_book  # noqa: PLC0415

    loaded = resolve_book(book)
    for warning in loaded.warnings[:SHOWN_WARNINGS]:
        typer.echo(warning.render(), err=True)
    if len(loaded.warnings) > SHOWN_WARNINGS:
        more = len(loaded.warnings) - SHOWN_WARNINGS
        typer.echo(f"… and {more:,} more warnings: `marginlex validate BOOK` lists them", err=True)
    said = as_of_warning(loaded, day)
    if said is not None:
        typer.echo(said, err=True)
    return loaded


def as_of_warning(book: Book, day: date | None) -> str | None:
    """What a run decided as of ``day`` (``--as-of``), not the book's own date, should know:
    the book's prices, positions and collateral are those of its date; later, what matured
    in between is priced as at expiry, which the book's warnings (against its own date) do
    not say. None when ``day`` is the book's date (or not given).

    >>> from marginlex.engine.book.load import load_demo_book
    >>> said = as_of_warning(load_demo_book(), date(2027, 1, 4))
    >>> said.startswith("warning: --as-of 2027-01-04 is not the book's as-of date 2026-06-30")
    True
    >>> said.split("; ")[1].split(" (")[0]
    '7 instruments held and 2 collateral lots mature in between'
    """
    from marginlex.engine.book.checks import matured  # noqa: PLC0415

    as_of = book.meta.as_of
    if day is None or day == as_of:
        return None
    line = (
        f"warning: --as-of {day.isoformat()} is not the book's as-of date {as_of.isoformat()}: "
        "its prices and holdings are that day's"
    )
    if day < as_of:
        return line
    held, lots = matured(book.contract_frames(), day, since=as_of)
    found = []
    if held is not None and held.any():
        n = int(held.sum())
        found.append(f"{n:,} instrument{'' if n == 1 else 's'} held")
    if lots is not None and lots.any():
        n = int(lots.sum())
        found.append(f"{n:,} collateral lot{'' if n == 1 else 's'}")
    if not found:
        return line
    return (
        f"{line}; {' and '.join(found)} mature in between (priced as at expiry, lots in the "
        "shortest maturity bucket)"
    )
