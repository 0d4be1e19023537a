"""Find, read and resolve rulebooks: by path, or by id among shipped rulebooks and siblings.

The shipped rulebooks live in the ``marginlex.rulebooks`` package (``*.mlx``, also in its
sub-folders such as ``variants/``) and are found with :mod:`importlib.resources`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from marginlex.dsl.check.passes import check_resolved
from marginlex.dsl.claims import (
    SUFFIX,
    ClaimIndex,
    claim_text,
    header_replaces,
    read_text,
    rulebook_files,
    shipped_dir,
    shown_path,
)
from marginlex.dsl.diagnostics import (
    Code,
    Diagnostic,
    RulebookClaimError,
    RulebookError,
    Severity,
    did_you_mean,
    error,
)
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.parser import parse
from marginlex.dsl.resolve import ResolvedRulebook, resolve

__all__ = [
    "SUFFIX",
    "Library",
    "folders_of",
    "load_file",
    "load_rulebook",
    "read_text",
    "rulebook_files",
    "shipped_dir",
]


class Library:
    """Looks rulebooks up by id among the sibling files of the ones being loaded and the
    shipped ones (:mod:`marginlex.dsl.claims` says which file an id names, or why none
    may). Parsed files are cached by absolute path.

    Args:
        near: the folder (or folders) whose ``.mlx`` files are siblings.
        shipped: False for a closed library of the siblings only (a recorded run's texts
            replay against themselves, never against today's shipped files).
    """

    def __init__(self, near: Path | Sequence[Path] | None = None, shipped: bool = True) -> None:
        folders = [near] if isinstance(near, Path) else list(near or ())
        self._folders = folders
        self._shipped = shipped_dir() if shipped else None
        self._index: ClaimIndex | None = None
        self._cache: dict[Path, m.Rulebook | RulebookError] = {}

    @property
    def index(self) -> ClaimIndex:
        """Every file's claim, read on first use."""
        if self._index is None:
            self._index = ClaimIndex(self._folders, self._shipped)
        return self._index

    def path_of(self, rulebook_id: str) -> Path | None:
        """The file that defines a rulebook id, if any.

        Raises:
            RulebookClaimError: the id does not name one file
                (see :mod:`~marginlex.dsl.claims`).
        """
        return self.index.lookup(rulebook_id, self._replaces)

    def shown(self, path: Path | str) -> str:
        """A file as it is shown: ``shipped:sec.mlx``, or the path as given."""
        return shown_path(path, self._shipped)

    def header_diagnostics(self, book: m.Rulebook) -> list[Diagnostic]:
        """Problems with the id the book's own file claims (see :class:`ClaimIndex`)."""
        return self.index.header_diagnostics(book, Path(book.span.file))

    def _replaces(self, path: Path) -> str | None:
        try:
            book = self._parsed(path)
        except RulebookError:
            text = claim_text(path)
            return None if text is None else header_replaces(text)
        return book.header.replaces.name if book.header.replaces is not None else None

    def _parsed(self, path: Path) -> m.Rulebook:
        key = path.resolve()
        if key not in self._cache:
            try:
                self._cache[key] = parse(read_text(path), str(path))
            except RulebookError as exc:
                self._cache[key] = exc
        found = self._cache[key]
        if isinstance(found, RulebookError):
            raise found
        return found

    def find(self, rulebook_id: str) -> m.Rulebook | None:
        """The parsed rulebook with this id, or None when no file defines it.

        Raises:
            RulebookError: the file that defines the id does not parse (a base with a
                syntax error is not the same as a missing base, and is reported as such).
            RulebookClaimError: the id does not name one file.
        """
        path = self.path_of(rulebook_id)
        return None if path is None else self._parsed(path)


def load_file(path: str | Path) -> m.Rulebook:
    """Parse one rulebook file (no resolution, no checks)."""
    p = Path(path)
    return parse(read_text(p, str(path)), str(path))


def resolve_file(
    book: m.Rulebook, near: Path | None = None, library: Library | None = None
) -> tuple[ResolvedRulebook, list[Diagnostic]]:
    """Resolve a parsed rulebook against its siblings and the shipped rulebooks."""
    lib = library or Library(near)
    return resolve(book, lib.find)


def load_rulebook(
    path_or_name: str | Path,
    near: Sequence[Path] = (),
    library: Library | None = None,
    *,
    checks: bool = True,
) -> ResolvedRulebook:
    """Load, resolve and check a rulebook by path or by id (``sec``, ``cftc``,
    ``harmonized``, a shipped variant's id, or the id of a file in ``near``).

    Args:
        path_or_name: a ``.mlx`` path, or a rulebook id.
        near: folders whose files an id is looked up in too. A command line passes the
            folders of the rulebook files it was also given, so that ``--rulebook sec`` and
            a variant's ``extends sec`` can never mean two different files.
        library: resolve in this library instead (replay passes a closed one).
        checks: run the check passes. Replay turns them off: a recorded rulebook was
            checked when it was recorded, and is re-evaluated as recorded whatever today's
            checker says of it (resolution errors still raise).

    Raises:
        RulebookError: with every error diagnostic, when the rulebook is not clean, and
            when an id names no file or more than one.

    >>> load_rulebook("harmonized").bases
    ('sec', 'cftc')
    """
    path = Path(path_or_name)
    if not (path.suffix == SUFFIX and path.exists()) and not path.is_file():
        path = _path_of_id(str(path_or_name), library or Library(near))
    lib = library or Library(path.parent)
    book = load_file(path)
    resolved, diagnostics = resolve_file(book, library=lib)
    diagnostics += lib.header_diagnostics(book)
    if checks:
        diagnostics += check_resolved(resolved, book)
    errors = [d for d in diagnostics if d.severity == Severity.ERROR]
    if errors:
        raise RulebookError(errors)
    return resolved


def folders_of(names: Sequence[str | Path]) -> list[Path]:
    """The folders of the rulebook files among ``names`` (ids and paths of one command).

    A command line looks its bare ids up in these folders too (``near`` of
    :func:`load_rulebook`), so that ``--rulebook sec`` names the same file as the ``extends
    sec`` of a variant it was given with, or fails as ambiguous.

    >>> folders_of(["sec", "rulebooks/variants/harmonized_85pct_offsets.mlx"])
    [PosixPath('rulebooks/variants')]
    """
    paths = (Path(n) for n in names)
    return sorted({p.parent for p in paths if p.suffix == SUFFIX and p.is_file()})


def _path_of_id(name: str, library: Library) -> Path:
    span = m.Span(file=name)
    try:
        found = library.path_of(name)
    except RulebookClaimError as exc:
        raise RulebookError([exc.at(span)]) from None
    if found is None:
        known = sorted(library.index.claims)
        close = did_you_mean(Path(name).stem, known)
        listed = ", ".join(known) or "sec, cftc, harmonized"
        raise RulebookError(
            [
                error(
                    Code.FILE_ERROR,
                    f"no rulebook file or id `{name}`",
                    span,
                    (f"{close} or " if close else "")
                    + f"give a path to a .mlx file, or one of {listed}",
                )
            ]
        )
    return found
