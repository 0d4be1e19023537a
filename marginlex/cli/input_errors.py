"""What a command prints for a bad book, a bad rulebook or an evaluation that cannot be made:
one problem a line, never wrapped (``file:row: column: what is wrong``); and the warnings of
a book that loads, before the command goes on."""

from __future__ import annotations

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


def loaded_book(book: Path | None) -> Book:
    """The book at ``book`` (the demo book for None), its warnings (an unknown column, a
    position in an expired contract) said on stderr, one a line, as ``validate`` says them.

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
    return loaded
