"""Find, read and resolve rulebooks: by path, or by id among shipped rulebooks and siblings.

The shipped rulebooks live in the ``marginlex.rulebooks`` package (``*.mlx``, also in its
sub-folders such as ``variants/``) and are found with :mod:`importlib.resources`.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from marginlex.dsl.check.passes import check_resolved
from marginlex.dsl.diagnostics import Code, Diagnostic, RulebookError, Severity, error
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.parser import parse
from marginlex.dsl.resolve import ResolvedRulebook, resolve

SUFFIX = ".mlx"
_HEADER = re.compile(r"^\s*rulebook\s+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


def shipped_dir() -> Path:
    """The folder of the shipped rulebooks inside the installed package."""
    return Path(str(resources.files("marginlex.rulebooks")))


def rulebook_files(folder: Path, recursive: bool = True) -> list[Path]:
    """The ``.mlx`` files under a folder, sorted."""
    pattern = f"**/*{SUFFIX}" if recursive else f"*{SUFFIX}"
    return sorted(p for p in folder.glob(pattern) if p.is_file())


def read_text(path: Path, shown: str | None = None) -> str:
    """Read a rulebook file, turning I/O problems into a FILE_ERROR diagnostic."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        span = m.Span(file=shown or str(path))
        raise RulebookError(
            [error(Code.FILE_ERROR, f"cannot read the file: {exc}", span)]
        ) from None


def _header_id(text: str) -> str | None:
    cleaned = re.sub(r"#[^\n]*", "", text)
    found = _HEADER.search(cleaned)
    return found.group(1) if found else None


class Library:
    """Looks rulebooks up by id: first the sibling files of the one being loaded, then the
    shipped ones. Parsed files are cached by absolute path."""

    def __init__(self, near: Path | None = None) -> None:
        folders = [near] if near is not None else []
        self._folders = [*folders, shipped_dir()]
        self._index: dict[str, Path] | None = None
        self._cache: dict[Path, m.Rulebook | RulebookError] = {}

    def _build_index(self) -> dict[str, Path]:
        index: dict[str, Path] = {}
        for i, folder in enumerate(self._folders):
            for path in rulebook_files(folder, recursive=i == len(self._folders) - 1):
                try:
                    found = _header_id(path.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError):
                    continue
                if found is not None:
                    index.setdefault(found, path)
        return index

    def path_of(self, rulebook_id: str) -> Path | None:
        """The file that defines a rulebook id, if any."""
        if self._index is None:
            self._index = self._build_index()
        return self._index.get(rulebook_id)

    def find(self, rulebook_id: str) -> m.Rulebook | None:
        """The parsed rulebook with this id, or None when no file defines it.

        Raises:
            RulebookError: the file that defines the id does not parse (a base with a
                syntax error is not the same as a missing base, and is reported as such).
        """
        path = self.path_of(rulebook_id)
        if path is None:
            return None
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


def load_rulebook(path_or_name: str | Path) -> ResolvedRulebook:
    """Load, resolve and check a rulebook by path or by shipped id (``sec``, ``cftc``,
    ``harmonized``, or a variant's id).

    Raises:
        RulebookError: with every error diagnostic, when the rulebook is not clean.

    >>> load_rulebook("harmonized").bases
    ('sec', 'cftc')
    """
    path = Path(path_or_name)
    if not (path.suffix == SUFFIX and path.exists()) and not path.is_file():
        found = Library().path_of(str(path_or_name))
        if found is None:
            span = m.Span(file=str(path_or_name))
            raise RulebookError(
                [
                    error(
                        Code.FILE_ERROR,
                        f"no rulebook file or id `{path_or_name}`",
                        span,
                        "give a path to a .mlx file, or one of sec, cftc, harmonized",
                    )
                ]
            )
        path = found
    book = load_file(path)
    resolved, diagnostics = resolve_file(book, path.parent)
    diagnostics += check_resolved(resolved, book)
    errors = [d for d in diagnostics if d.severity == Severity.ERROR]
    if errors:
        raise RulebookError(errors)
    return resolved
