"""marginlex: rules-as-code for portfolio margin and cross-margining.

The package is a thin front door. The pipeline stages live in
:mod:`marginlex.dsl` (rulebook language), :mod:`marginlex.engine` (books, graph,
evaluation) and :mod:`marginlex.audit` (traces and the ledger).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the stages are imported lazily, so that `import marginlex` stays cheap
    from marginlex.dsl.diagnostics import Diagnostic
    from marginlex.dsl.model.rulebook import Rulebook
    from marginlex.dsl.resolve import ResolvedRulebook
    from marginlex.engine.book.load import Book
    from marginlex.engine.evaluation import Evaluation

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed metadata on first use (importlib.metadata
    costs a few tens of milliseconds that ``marginlex --help`` need not pay)."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from marginlex.engine.version import ENGINE_VERSION  # noqa: PLC0415

    return ENGINE_VERSION


def evaluate(
    rulebook: str | Path | ResolvedRulebook = "sec",
    book: str | Path | Book | None = None,
    as_of: dt.date | None = None,
) -> Evaluation:
    """Decide every margin set of a book under one rulebook (the one-call front door).

    Args:
        rulebook: a shipped rulebook id (``sec``, ``cftc``, ``harmonized``), a ``.mlx``
            path, or a resolved rulebook.
        book: a book folder path or a loaded ``Book``; None runs the embedded demo book.
        as_of: a ``datetime.date`` (default: the book's as-of date).

    Returns:
        A :class:`marginlex.engine.evaluation.Evaluation` (decisions and trace frames).

    >>> import marginlex
    >>> marginlex.evaluate("sec").decisions["margin_set_id"].iloc[0]
    'ms:A01_ALICE_PM'
    """
    # Imported here so that `import marginlex` (and `marginlex --version`) stays cheap.
    from marginlex.engine.run import run_rulebook  # noqa: PLC0415

    return run_rulebook(rulebook, book, as_of)


__all__ += ["evaluate"]


def load_rulebook(path_or_name: str | Path) -> ResolvedRulebook:
    """A resolved, checked rulebook by shipped id or ``.mlx`` path (see :mod:`marginlex.dsl`)."""
    from marginlex.dsl import load_rulebook as _load  # noqa: PLC0415 - keeps `import marginlex` light

    return _load(path_or_name)


def parse(text: str, path: str = "<string>") -> Rulebook:
    """One rulebook text as the typed model, ``extends`` not yet resolved."""
    from marginlex.dsl import parse as _parse  # noqa: PLC0415 - keeps `import marginlex` light

    return _parse(text, path)


def check(text: str, path: str = "<string>") -> list[Diagnostic]:
    """Every diagnostic for one rulebook text (empty when clean)."""
    from marginlex.dsl import check_text  # noqa: PLC0415 - keeps `import marginlex` light

    return list(check_text(text, path))


__all__ += ["check", "load_rulebook", "parse"]
