"""The impact preview's work: the rulebooks a variant may start from, its checking (the
language server's :func:`~marginlex.workbench.lsp.analysis.analyse`, so ``marginlex check``'s
diagnostics), its comparison with the base (:func:`~marginlex.engine.variants.compare.compare`)
and "Save as" into the folder the console was given.

A base is named by a key: ``shipped:ID`` (a shipped rulebook or variant) or ``ledger:SHA256``
(a bundle recorded in the ledger, whose own sources are its library: nothing of today's
shipped files enters it). Nothing here writes to the ledger; only :func:`save` writes a file.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from marginlex.audit.ledger.recorded_inputs import load_bundle
from marginlex.dsl import Diagnostic, Library, ResolvedRulebook
from marginlex.dsl.claims import RULEBOOK_ENCODING
from marginlex.dsl.diagnostics import Severity
from marginlex.dsl.format.files import replace_text
from marginlex.dsl.format.formatter import format_text
from marginlex.dsl.loader import load_rulebook, shipped_dir
from marginlex.workbench.lsp.analysis import Analysis, analyse

if TYPE_CHECKING:
    from marginlex.audit.ledger.store import Ledger
    from marginlex.engine.book.load import Book
    from marginlex.engine.variants.compare import CompareResult

NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


class WorkbenchError(ValueError):
    """What the officer asked cannot be done (the message says why, in words)."""


class Start(StrEnum):
    """How the text starts: a new variant extending the base, or the base's own text."""

    VARIANT = "variant"
    EDIT = "edit"


@dataclass(frozen=True)
class BaseChoice:
    """One rulebook a variant may start from."""

    key: str
    label: str


def shipped_ids() -> list[str]:
    """The shipped rulebooks and variants, by id (their file names)."""
    root = shipped_dir()
    return sorted(p.stem for p in [*root.glob("*.mlx"), *(root / "variants").glob("*.mlx")])


def choices(ledger: Ledger | None) -> list[BaseChoice]:
    """Every base: the shipped rulebooks, then each bundle recorded in the ledger."""
    from marginlex.console.queries import recorded_rulebooks  # noqa: PLC0415

    found = [BaseChoice(f"shipped:{i}", f"{i} (shipped)") for i in shipped_ids()]
    for ref, _uses in recorded_rulebooks(ledger) if ledger is not None else []:
        label = f"{ref.id} {ref.version} (recorded, {ref.sha256[:12]})"
        found.append(BaseChoice(f"ledger:{ref.sha256}", label))
    return found


@dataclass(frozen=True)
class Workspace:
    """A base, resolved, with the library a text extending it is checked in.

    ``folder`` is where the text is checked as if saved (the ``--rulebooks`` folder for a
    shipped base, the recorded sources' folder for a recorded one; None: no folder).
    """

    key: str
    base: ResolvedRulebook
    base_text: str
    library: Library
    folder: Path | None


def _shipped(rulebook_id: str, rulebooks: Path | None) -> Workspace:
    if rulebook_id not in shipped_ids():
        raise WorkbenchError(f"no shipped rulebook {rulebook_id!r}")
    library = Library(rulebooks)
    path = library.path_of(rulebook_id)
    assert path is not None  # a shipped id names its file
    text = path.read_text(encoding=RULEBOOK_ENCODING)  # a `replaces shipped` file may have a BOM
    return Workspace(f"shipped:{rulebook_id}", load_rulebook(path), text, library, rulebooks)


def _recorded(sha256: str, ledger: Ledger | None) -> Workspace:
    bundle = ledger.rulebook_text(sha256) if ledger is not None else None
    if bundle is None:
        raise WorkbenchError(f"no rulebook with sha256 {sha256!r} in the ledger")
    base = load_bundle(bundle)
    texts = {str(s["id"]): str(s["text"]) for s in json.loads(bundle)["sources"]}
    folder = _recorded_folder(sha256, texts)
    library = Library(folder, shipped=False)  # the recorded bases, never today's files
    return Workspace(f"ledger:{sha256}", base, texts[base.id], library, folder)


_SCRATCH: list[tempfile.TemporaryDirectory[str]] = []  # one for the process, removed at exit
_SCRATCH_LOCK = threading.Lock()


def _recorded_folder(sha256: str, texts: dict[str, str]) -> Path:
    """The folder a recorded bundle's sources are written to: once per bundle for the life
    of the console (every check, preview and save of a text on it reads the same folder,
    where each call used to leave one behind), inside one scratch folder removed when the
    console stops."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):  # a folder name: a sha256 and nothing else
        raise WorkbenchError(f"not a rulebook sha256: {sha256!r}")
    with _SCRATCH_LOCK:
        if not _SCRATCH:
            _SCRATCH.append(tempfile.TemporaryDirectory(prefix="marginlex-workbench-"))
        folder = Path(_SCRATCH[0].name) / sha256
        if not folder.is_dir():
            folder.mkdir()
            for source_id, text in texts.items():
                (folder / f"{source_id}.mlx").write_text(text, encoding="utf-8")
    return folder


def remove_scratch() -> None:
    """Remove the scratch folder now (the console's shutdown: uvicorn ends a SIGTERM by
    raising the signal again, and the process dies before exit handlers run)."""
    with _SCRATCH_LOCK:
        while _SCRATCH:
            _SCRATCH.pop().cleanup()


def workspace(key: str, ledger: Ledger | None, rulebooks: Path | None) -> Workspace:
    """The base a key names.

    Raises:
        WorkbenchError: the key names no shipped rulebook and no recorded bundle.
    """
    kind, _, ident = key.partition(":")
    if kind == "shipped":
        return _shipped(ident, rulebooks)
    if kind == "ledger":
        return _recorded(ident, ledger)
    raise WorkbenchError(f"not a base: {key!r} (shipped:ID or ledger:SHA256)")


def start_text(ws: Workspace, start: Start) -> str:
    """The text the editor opens with: a new variant of the base, or the base's own text."""
    if start is Start.EDIT:
        return ws.base_text
    h = ws.base.header
    since = h.effective.start if h.effective is not None else None
    lines = [
        f'rulebook my_variant "{h.title}: a variant"',
        *([f"  jurisdiction {h.jurisdiction}"] if h.jurisdiction else []),
        f'  version "{h.version or "1"}-variant"',
        *([f"  effective from {since.isoformat()}"] if since is not None else []),
        '  cites "what this variant explores"',
        f"  extends {h.id}",
        "",
        "# override a statement of the base here, e.g. `override parameter ID = ...`",
    ]
    return "\n".join(lines) + "\n"


def text_path(ws: Workspace, name: str) -> str:
    """The path a text is checked as (in the workspace's folder, named after ``name``)."""
    file = f"{name if NAME.fullmatch(name) else 'my_variant'}.mlx"
    return str(ws.folder / file) if ws.folder is not None else file


def check(ws: Workspace, text: str, name: str) -> Analysis:
    """The checker's diagnostics of the text, as if saved as ``name``.mlx beside the base (a
    leading byte-order mark dropped, as ``marginlex check`` reads a file)."""
    return analyse(text.removeprefix("\ufeff"), text_path(ws, name), ws.library)


def errors(a: Analysis) -> list[Diagnostic]:
    """The diagnostics that fail ``marginlex check``."""
    return [d for d in a.diagnostics if d.severity is Severity.ERROR]


def diagnostics_json(a: Analysis) -> str:
    """The diagnostics as the browser script reads them."""
    return json.dumps(
        {
            "clean": not a.diagnostics,
            "diagnostics": [
                {
                    "line": d.span.line,
                    "column": d.span.column,
                    "end_line": d.span.end_line,
                    "end_column": d.span.end_column,
                    "code": d.code.value,
                    "severity": d.severity.value,
                    "message": d.message,
                    "hint": d.hint,
                }
                for d in a.diagnostics
            ],
        }
    )


def preview(ws: Workspace, a: Analysis, book: Book) -> CompareResult:
    """The variant compared with its base on the book (attribution per statement).

    Raises:
        WorkbenchError: the text does not check (no errors allowed).
    """
    from marginlex.engine.variants.compare import compare  # noqa: PLC0415

    if errors(a) or a.resolved is None or not a.parsed:
        raise WorkbenchError("the text has errors: fix them before a preview")
    variant = a.resolved
    if variant.id == ws.base.id:  # the base's own text, edited: told apart by its label
        header = variant.header.model_copy(update={"id": f"{variant.id}_edited"})
        variant = variant.model_copy(update={"header": header})
    return compare([ws.base, variant], book)


def save(ws: Workspace, text: str, name: str, rulebooks: Path | None) -> Path:
    """Write the formatted text to ``rulebooks``/``name``.mlx, when it checks clean there.

    Raises:
        WorkbenchError: no folder was given, the name is not a plain rulebook file name (or
            leads outside the folder), the file exists, or the text does not check clean.
    """
    if rulebooks is None:
        raise WorkbenchError("saving needs a rulebook folder: start with --rulebooks DIR")
    text = text.removeprefix("\ufeff")  # as check reads it: saved without the mark
    if not NAME.fullmatch(name):
        raise WorkbenchError(
            f"refusing the name '{name}': lower-case letters, digits and _, starting "
            "with a letter (no folders: the file goes into the rulebook folder)"
        )
    folder = rulebooks.resolve()
    target = (folder / f"{name}.mlx").resolve()
    if target.parent != folder:
        raise WorkbenchError(f"refusing {name!r}: it is outside {rulebooks}")
    if target.exists():
        raise WorkbenchError(f"{target.name} exists in {rulebooks}: choose another name")
    here = Workspace(ws.key, ws.base, ws.base_text, Library(folder), folder)
    found = check(here, text, name).diagnostics
    if found:
        raise WorkbenchError(
            f"not saved: the text does not check clean in {rulebooks} "
            f"({found[0].code.value} {found[0].message}, {len(found)} in all)"
        )
    try:
        replace_text(target, format_text(text, str(target)), new=True)
    except FileExistsError as exc:  # saved meanwhile by another request
        raise WorkbenchError(f"{target.name} exists in {rulebooks}: choose another name") from exc
    except OSError as exc:  # a full disk, a folder made read-only: nothing is left behind
        reason = exc.strerror or str(exc)
        raise WorkbenchError(
            f"not saved: cannot write {target.name} in {rulebooks}: {reason}"
        ) from exc
    return target
