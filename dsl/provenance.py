"""Where a resolved rulebook came from: each file it was built from, with its sha256.

``check --verbose``, ``diff``, traces, the ledger and ``explain`` all show the same list: the
rulebook's bases in resolution order, then the rulebook itself, each as its id, its file
(``shipped:sec.mlx`` for a shipped rulebook, otherwise the path as given) and the sha256 of
its canonical text (the file as ``marginlex fmt`` prints it, UTF-8).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from marginlex.dsl.claims import RULEBOOK_ENCODING, shown_path
from marginlex.dsl.format.formatter import format_rulebook, format_text
from marginlex.dsl.loader import shipped_dir
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.resolve import ResolvedRulebook


class SourceFile(BaseModel):
    """One file a resolved rulebook was built from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    path: str
    sha256: str

    def line(self) -> str:
        """``sec  shipped:sec.mlx  sha256 3f2a…`` (the full digest)."""
        return f"{self.id}  {self.path}  sha256 {self.sha256}"


def canonical_source_text(source: m.Rulebook) -> str:
    """One rulebook file in canonical layout (its comments kept), as ``marginlex fmt`` prints."""
    path = Path(source.span.file)
    if path.is_file():
        return _formatted(path.read_text(encoding=RULEBOOK_ENCODING), str(path))
    return format_rulebook(source)


@lru_cache(maxsize=16)
def _formatted(text: str, path: str) -> str:
    """A file's canonical layout, made once per text (a run formats a base rulebook for
    itself and again for each rulebook built on it; parsing and printing cost 0.4 s)."""
    return format_text(text, path)


def text_sha256(text: str) -> str:
    """The sha256 of a canonical text's UTF-8 bytes.

    >>> text_sha256("")[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def shown_file(source: m.Rulebook) -> str:
    """The file of a source as it is shown: ``shipped:sec.mlx`` or the path as given."""
    return shown_path(source.span.file, shipped_dir())


def source_files(rulebook: ResolvedRulebook) -> tuple[SourceFile, ...]:
    """Every file of a resolved rulebook: bases first, in resolution order, itself last.

    >>> from marginlex.dsl.loader import load_rulebook
    >>> [s.path for s in source_files(load_rulebook("harmonized"))]
    ['shipped:sec.mlx', 'shipped:cftc.mlx', 'shipped:harmonized.mlx']
    """
    return tuple(
        SourceFile(id=s.id, path=shown_file(s), sha256=text_sha256(canonical_source_text(s)))
        for s in rulebook.sources
    )


def source_lines(files: tuple[SourceFile, ...], indent: str = "  ") -> list[str]:
    """One line per file, what ``check --verbose`` and ``diff`` print: bases, then itself.

    >>> f = SourceFile(id="sec", path="shipped:sec.mlx", sha256="ab" * 32)
    >>> source_lines((f,))[0][:36]
    '  itself  sec  shipped:sec.mlx  sha2'
    """
    return [
        f"{indent}{'itself' if i == len(files) - 1 else 'base':<6}  {f.line()}"
        for i, f in enumerate(files)
    ]
