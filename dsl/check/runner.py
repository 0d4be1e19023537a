"""Check files and folders end to end: read, parse, resolve, run every pass."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from marginlex.dsl.check.answers import answer_name, keep_diagnostics, kept_diagnostics
from marginlex.dsl.claims import SHIPPED_PREFIX, SUFFIX, read_text, rulebook_files
from marginlex.dsl.diagnostics import Code, Diagnostic, RulebookError, Severity, error
from marginlex.dsl.model.span import Span

# The parser, the rulebook model and the passes are imported where a file is checked: a
# kept answer (:mod:`marginlex.dsl.check.answers`) needs none of them.
if TYPE_CHECKING:
    from marginlex.dsl.loader import Library
    from marginlex.dsl.model import rulebook as m
    from marginlex.dsl.provenance import SourceFile
    from marginlex.dsl.resolve import ResolvedRulebook


@dataclass(frozen=True)
class FileReport:
    """The diagnostics of one file, with its text for rendering carets."""

    path: str
    source: str
    diagnostics: tuple[Diagnostic, ...]
    sources: tuple[SourceFile, ...] = ()
    """With ``verbose``: the files the rulebook resolved from, bases first (clean files)."""


def check_text(
    text: str,
    path: str = "<string>",
    library: Library | None = None,
) -> list[Diagnostic]:
    """Every diagnostic for one rulebook text (syntax, resolution and all passes).

    >>> [d.code.value for d in check_text('rulebook r "R" cites "x" extends nowhere')]
    ['MLX202']
    """
    from marginlex.dsl.loader import Library  # noqa: PLC0415
    from marginlex.dsl.parser import parse  # noqa: PLC0415

    try:
        book = parse(text, path)
    except RulebookError as exc:
        return list(exc.diagnostics)
    return check_book(book, library or Library(Path(path).parent if path != "<string>" else None))


_BASE_MISSING = frozenset({Code.UNKNOWN_RULEBOOK, Code.CYCLIC_EXTENDS, Code.AMBIGUOUS_RULEBOOK})
_UNSURE_WITHOUT_BASE = frozenset(
    {Code.UNKNOWN_REFERENCE, Code.UNKNOWN_REASON_PARAMETER, Code.UNUSED_ACCEPT}
)


def check_book(book: m.Rulebook, library: Library) -> list[Diagnostic]:
    """Resolve a parsed rulebook and run every pass; only this file's diagnostics."""
    return check_resolution(book, library)[1]


def check_resolution(
    book: m.Rulebook, library: Library, solver: bool = True
) -> tuple[ResolvedRulebook, list[Diagnostic]]:
    """The resolved rulebook (best effort) and this file's diagnostics, sorted by place.

    ``solver=False``: without the SMT conflict pass
    (see :func:`~marginlex.dsl.check.passes.check_resolved`).
    """
    from marginlex.dsl.check.passes import check_resolved  # noqa: PLC0415
    from marginlex.dsl.resolve import resolve  # noqa: PLC0415

    resolved, found = resolve(book, library.find)
    clean = not any(d.severity is Severity.ERROR for d in found)
    checked = check_resolved(resolved, book, solver, clean=clean)
    if any(d.code in _BASE_MISSING for d in found):
        # Without every base, "no parameter named X" may only mean "X is in the base that
        # could not be loaded": report the base, not a cascade of guesses.
        # An `accept` may be for a finding the missing base would give.
        checked = [d for d in checked if d.code not in _UNSURE_WITHOUT_BASE]
    found += library.header_diagnostics(book) + _shipped_base_errors(book, found, library)
    mine = [d for d in (*found, *checked) if d.span.file == book.span.file]
    return resolved, sorted(mine, key=lambda d: (d.span.line, d.span.column, d.code.value))


def _shipped_base_errors(
    book: m.Rulebook, found: list[Diagnostic], library: Library
) -> list[Diagnostic]:
    """A shipped base that no longer resolves here: a file beside this one that says
    ``replaces shipped`` changed what it builds on. Shipped files are clean on their own, so
    their errors would otherwise be shown nowhere."""
    shipped = [
        d
        for d in found
        if d.span.file != book.span.file
        and d.severity == Severity.ERROR
        and library.shown(d.span.file).startswith(SHIPPED_PREFIX)
    ]
    if not shipped or not book.header.extends:
        return []
    first = shipped[0]
    shown = library.shown(first.span.file)
    first = first.model_copy(update={"span": first.span.model_copy(update={"file": shown})})
    message = f"the shipped base `{shown}` has errors when built on the rulebooks beside this file"
    hint = f"a file here says `replaces shipped`; fix it first: {first.headline()}"
    return [error(Code.UNKNOWN_RULEBOOK, message, book.header.extends[0].span, hint)]


def collect_files(paths: list[str]) -> tuple[list[Path], list[Diagnostic]]:
    """The .mlx files named or found under folders; FILE_ERROR for a missing path, or a
    folder that holds none (a mistyped folder would otherwise check "clean")."""
    files: list[Path] = []
    problems: list[Diagnostic] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = rulebook_files(p)
            files.extend(found)
            if not found:
                problems.append(
                    error(
                        Code.FILE_ERROR,
                        f"no rulebook file ({SUFFIX}) in this folder or under it",
                        Span(file=raw),
                        "give the folder that holds the rulebooks, or the files themselves",
                    )
                )
        elif p.is_file() or p.exists():  # a device or a pipe: read_text says what it is
            files.append(p)
        else:
            problems.append(
                error(
                    Code.FILE_ERROR,
                    "no such file or folder",
                    Span(file=raw),
                    f"rulebook files end in {SUFFIX}",
                )
            )
    return files, problems


def check_paths(paths: list[str], verbose: bool = False) -> list[FileReport]:
    """Check every rulebook file under the given paths.

    Args:
        paths: files and folders.
        verbose: also give each file's resolved sources (the file of every base and its
            sha256), for the files that resolve without errors.
    """
    files, problems = collect_files(paths)
    reports = [FileReport(d.span.file, "", (d,)) for d in problems]
    libraries: dict[Path, Library] = {}
    for path in files:
        try:
            text = read_text(path)
        except RulebookError as exc:
            reports.append(FileReport(str(path), "", exc.diagnostics))
            continue
        name = None if verbose else answer_name(path, text)
        kept = kept_diagnostics(name)
        if kept is not None:
            reports.append(FileReport(str(path), text, kept))
            continue
        report = _check_file(path, text, _library(libraries, path.parent), verbose)
        keep_diagnostics(name, report.diagnostics)
        reports.append(report)
    return reports


def _library(libraries: dict[Path, Library], folder: Path) -> Library:
    """The one library of ``folder`` (its files parsed once for every file checked there)."""
    from marginlex.dsl.loader import Library  # noqa: PLC0415

    return libraries.setdefault(folder, Library(folder))


def _check_file(path: Path, text: str, library: Library, verbose: bool) -> FileReport:
    from marginlex.dsl.parser import parse  # noqa: PLC0415
    from marginlex.dsl.provenance import source_files  # noqa: PLC0415

    try:
        book = parse(text, str(path))
    except RulebookError as exc:
        return FileReport(str(path), text, exc.diagnostics)
    resolved, found = check_resolution(book, library)
    clean = not any(d.severity == Severity.ERROR for d in found)
    sources = source_files(resolved) if verbose and clean else ()
    return FileReport(str(path), text, tuple(found), sources)
