"""One editor text, parsed and checked by :mod:`marginlex.dsl` as if it were its file.

The text is checked with the library of its folder (siblings and shipped rulebooks read
from disk), exactly as ``marginlex check`` checks the saved file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from marginlex.dsl import Diagnostic, Library, ResolvedRulebook, RulebookError, parse
from marginlex.dsl.check.runner import check_resolution
from marginlex.dsl.model import rulebook as m


@dataclass(frozen=True)
class Analysis:
    """What the checker says of one text, and the model it built.

    ``book`` and ``resolved`` are those of the last text that parsed (hover and navigation
    keep working while a line is half typed); ``parsed`` says whether it is this text.
    """

    path: str
    text: str
    diagnostics: tuple[Diagnostic, ...]
    book: m.Rulebook | None = None
    resolved: ResolvedRulebook | None = None
    parsed: bool = False

    @property
    def lines(self) -> list[str]:
        """The text's lines, without their ends."""
        return self.text.split("\n")

    def sources(self) -> tuple[m.Rulebook, ...]:
        """Every rulebook the text resolved from, bases first, this text's model last."""
        if self.resolved is not None:
            return self.resolved.sources
        return (self.book,) if self.book is not None else ()


class Libraries:
    """One :class:`~marginlex.dsl.Library` per folder, kept between changes (the bases are
    parsed once), dropped when a rulebook file of the folder is saved."""

    def __init__(self) -> None:
        self._by_folder: dict[Path | None, Library] = {}

    def of(self, path: str) -> Library:
        """The library a file at ``path`` resolves its ``extends`` in."""
        folder = Path(path).parent if Path(path).is_absolute() else None
        if folder not in self._by_folder:
            self._by_folder[folder] = Library(folder)
        return self._by_folder[folder]

    def forget(self, path: str) -> None:
        """A file changed on disk: its folder's rulebooks are read again on next use."""
        self._by_folder.pop(Path(path).parent, None)


def analyse(
    text: str,
    path: str,
    library: Library,
    before: Analysis | None = None,
    solver: bool = True,
) -> Analysis:
    """Parse and check ``text`` as the file ``path`` (diagnostics of this file only).

    Args:
        text: the editor's text.
        path: the file it is (its folder holds the siblings ``extends`` may name).
        library: the rulebooks it is resolved among.
        before: the previous analysis of the same document, whose model is kept when this
            text does not parse.
        solver: run the SMT conflict pass too; without it, the first answer while typing
            (:func:`complete` adds it).

    >>> a = analyse('rulebook r "R" cites "x" extends secc', "r.mlx", Library(None))
    >>> [d.code.value for d in a.diagnostics], a.parsed
    (['MLX202'], True)
    """
    try:
        book = parse(text, path)
    except RulebookError as exc:
        kept = (before.book, before.resolved) if before is not None else (None, None)
        return Analysis(path, text, tuple(exc.diagnostics), *kept, parsed=False)
    resolved, found = check_resolution(book, library, solver)
    return Analysis(path, text, tuple(found), book, resolved, parsed=True)


def complete(a: Analysis, library: Library) -> Analysis:
    """Every pass on an analysis made without the solver: what ``marginlex check`` says of
    the text (the parsed model is reused, not parsed again)."""
    if not a.parsed or a.book is None:
        return a
    resolved, found = check_resolution(a.book, library)
    return Analysis(a.path, a.text, tuple(found), a.book, resolved, parsed=True)
