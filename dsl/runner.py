"""Check files and folders end to end: read, parse, resolve, run every pass."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from marginlex.dsl import model as m
from marginlex.dsl.checks import check_resolved
from marginlex.dsl.diagnostics import Code, Diagnostic, RulebookError, error
from marginlex.dsl.loader import SUFFIX, Library, read_text, rulebook_files
from marginlex.dsl.parser import parse
from marginlex.dsl.resolve import resolve


@dataclass(frozen=True)
class FileReport:
    """The diagnostics of one file, with its text for rendering carets."""

    path: str
    source: str
    diagnostics: tuple[Diagnostic, ...]


def check_text(
    text: str,
    path: str = "<string>",
    library: Library | None = None,
) -> list[Diagnostic]:
    """Every diagnostic for one rulebook text (syntax, resolution and all passes).

    >>> [d.code.value for d in check_text('rulebook r "R" extends nowhere')]
    ['MLX202']
    """
    try:
        book = parse(text, path)
    except RulebookError as exc:
        return list(exc.diagnostics)
    return check_book(book, library or Library(Path(path).parent if path != "<string>" else None))


_BASE_MISSING = frozenset({Code.UNKNOWN_RULEBOOK, Code.CYCLIC_EXTENDS})
_NEEDS_EVERY_BASE = frozenset({Code.UNKNOWN_REFERENCE, Code.UNKNOWN_REASON_PARAMETER})


def check_book(book: m.Rulebook, library: Library) -> list[Diagnostic]:
    """Resolve a parsed rulebook and run every pass; only this file's diagnostics."""
    resolved, found = resolve(book, library.find)
    checked = check_resolved(resolved, book)
    if any(d.code in _BASE_MISSING for d in found):
        # Without every base, "no parameter named X" may only mean "X is in the base that
        # could not be loaded": report the base, not a cascade of guesses.
        checked = [d for d in checked if d.code not in _NEEDS_EVERY_BASE]
    mine = [d for d in (*found, *checked) if d.span.file == book.span.file]
    return sorted(mine, key=lambda d: (d.span.line, d.span.column, d.code.value))


def collect_files(paths: list[str]) -> tuple[list[Path], list[Diagnostic]]:
    """The .mlx files named or found under folders; FILE_ERROR for missing paths."""
    files: list[Path] = []
    problems: list[Diagnostic] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(rulebook_files(p))
        elif p.is_file():
            files.append(p)
        else:
            problems.append(
                error(
                    Code.FILE_ERROR,
                    "no such file or folder",
                    m.Span(file=raw),
                    f"rulebook files end in {SUFFIX}",
                )
            )
    return files, problems


def check_paths(paths: list[str]) -> list[FileReport]:
    """Check every rulebook file under the given paths."""
    files, problems = collect_files(paths)
    reports = [FileReport(d.span.file, "", (d,)) for d in problems]
    libraries: dict[Path, Library] = {}
    for path in files:
        library = libraries.setdefault(path.parent, Library(path.parent))
        try:
            text = read_text(path)
        except RulebookError as exc:
            reports.append(FileReport(str(path), "", exc.diagnostics))
            continue
        reports.append(FileReport(str(path), text, tuple(check_text(text, str(path), library))))
    return reports
