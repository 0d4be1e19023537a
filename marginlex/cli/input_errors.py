"""What a command prints for a bad book, a bad rulebook or an evaluation that cannot be made:
one problem a line, never wrapped (``file:row: column: what is wrong``)."""

from __future__ import annotations


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
