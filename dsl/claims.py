"""Which file a rulebook id names: the claims of sibling and shipped files, and their conflicts.

A file *claims* the id its header gives (``rulebook sec ...``). Looking an id up is safe only
when one file answers. Two sibling files claiming one id is an error naming both; a sibling
claiming the id of a shipped rulebook is an error too, unless its header says
``replaces shipped sec``: then the rulebooks beside it use it instead of the shipped one.
A compliance tool never picks a rulebook by accident.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from marginlex.dsl.diagnostics import (
    Code,
    Diagnostic,
    RulebookClaimError,
    RulebookError,
    did_you_mean,
    error,
)
from marginlex.dsl.model.span import Span

if TYPE_CHECKING:
    from marginlex.dsl.model import rulebook as m

SUFFIX = ".mlx"
SHIPPED_PREFIX = "shipped:"
_HEADER = re.compile(r"^\s*rulebook\s+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)
_REPLACES = re.compile(r"\breplaces\s+shipped\s+([A-Za-z_][A-Za-z0-9_]*)")

#: The id a file's ``replaces shipped ID`` clause names (None without one or when the file
#: does not parse); the library answers it from its parse cache.
Replaces = Callable[[Path], str | None]


@dataclass(frozen=True)
class Claim:
    """One file that says ``rulebook ID``."""

    rulebook_id: str
    path: Path
    shipped: bool
    shown: str


def header_id(text: str) -> str | None:
    """The id a rulebook text declares, found without parsing it.

    >>> header_id('# a comment\\nrulebook sec "SEC"')
    'sec'
    """
    cleaned = re.sub(r"#[^\n]*", "", text)
    found = _HEADER.search(cleaned)
    return found.group(1) if found else None


def claim_text(path: Path) -> str | None:
    r"""The text a file's header is read from to find the id it claims, or None when the file
    cannot be read. A file that is not UTF-8 still claims the id its header names (read with
    the bad bytes replaced; UTF-16 as UTF-16): a rulebook extending it is then told the file
    cannot be read, and where, not that no rulebook has the id.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "latin.mlx"
    >>> _ = path.write_bytes('rulebook latin "Café"'.encode("latin-1"))
    >>> header_id(claim_text(path) or "")
    'latin'
    >>> _ = path.write_bytes('rulebook wide "W"'.encode("utf-16"))
    >>> header_id(claim_text(path) or "")
    'wide'
    """
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if is_utf16(data):
        return data.decode("utf-16")
    return data.decode(RULEBOOK_ENCODING, errors="replace")


def header_replaces(text: str) -> str | None:
    """The id of a ``replaces shipped ID`` clause, found without parsing (for a file that
    does not parse: it is then reported as a base with errors, not as an ambiguous id).

    >>> header_replaces('rulebook sec "S"\\n  replaces shipped sec')
    'sec'
    """
    found = _REPLACES.search(re.sub(r"#[^\n]*", "", text))
    return found.group(1) if found else None


def shipped_dir() -> Path:
    """The folder of the shipped rulebooks inside the installed package."""
    return Path(str(resources.files("marginlex.rulebooks")))


RULEBOOK_ENCODING = "utf-8-sig"
"""How rulebook and rulebook-test files are read: UTF-8, a leading byte-order mark (which
Windows editors write) read as nothing, so it is neither a character of the first line nor
a column of the positions diagnostics give."""


def read_text(path: Path, shown: str | None = None) -> str:
    """Read a rulebook file, turning I/O problems into a FILE_ERROR diagnostic. A file that
    is no regular file (a link to /dev/zero was read until memory ran out) is FILE_ERROR, and
    one far past MLX002's limit is MLX002, both unread."""
    where = shown or str(path)
    try:
        if path.exists() and not path.is_file():
            raise RulebookError(
                [
                    error(
                        Code.FILE_ERROR,
                        f"cannot read the file: {NOT_A_FILE}",
                        Span(file=where),
                        "give the path of a rulebook file (.mlx), or of the folder that holds it",
                    )
                ]
            )
        size = path.stat().st_size
        if size > UNREAD_OVER:
            from marginlex.dsl.limits import too_large  # noqa: PLC0415 - lark: only now

            raise RulebookError([too_large(size, where)])
        data = path.read_bytes()
    except OSError as exc:
        raise RulebookError(
            [
                error(
                    Code.FILE_ERROR,
                    f"cannot read the file: {exc}",
                    Span(file=where),
                    "check that the file is there and that you may read it",
                )
            ]
        ) from None
    try:
        text = data.decode(RULEBOOK_ENCODING)
    except UnicodeDecodeError as exc:
        raise RulebookError([not_utf8(data, exc, where)]) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")  # as a file read as text reads


def undecodable_at(data: bytes, exc: UnicodeDecodeError) -> tuple[int, int]:
    r"""The line and column (from 1, in characters) of the byte ``exc`` stopped at.

    >>> data = "a\nbé".encode("latin-1")
    >>> try:
    ...     data.decode("utf-8")
    ... except UnicodeDecodeError as exc:
    ...     undecodable_at(data, exc)
    (2, 2)
    """
    before = data[: exc.start]
    line = before.count(b"\n") + 1
    start = before.rfind(b"\n") + 1
    return line, len(before[start:].decode(RULEBOOK_ENCODING, errors="replace")) + 1


UTF16 = "the file is UTF-16 text, not UTF-8"
"""What a reader says of a file saved as UTF-16 (Windows Notepad's "Unicode", Excel's
"Unicode Text"), whose every other byte is a zero to a UTF-8 reader."""


def is_utf16(data: bytes) -> bool:
    """Whether ``data`` is UTF-16 text: a byte-order mark, then UTF-16 that decodes.

    >>> is_utf16("rulebook r".encode("utf-16")), is_utf16("rulebook r".encode("utf-8"))
    (True, False)
    """
    if data[:2] not in (b"\xff\xfe", b"\xfe\xff"):
        return False
    try:
        data.decode("utf-16")
    except UnicodeDecodeError:
        return False
    return True


def not_utf8_text(data: bytes, exc: UnicodeDecodeError) -> str:
    """``not UTF-8 text: byte 0xe9 (invalid continuation byte)``: what a TOML file's reader
    says after the line and column of :func:`undecodable_at` (:data:`UTF16` for UTF-16)."""
    if is_utf16(data):
        return UTF16
    return f"not UTF-8 text: byte 0x{data[exc.start]:02x} ({exc.reason})"


def not_utf8(data: bytes, exc: UnicodeDecodeError, where: str) -> Diagnostic:
    r"""MLX001 for a file that is not UTF-8, naming the line and column of the first byte
    that cannot be read.

    >>> data = 'rulebook r\n  cites "café"'.encode("latin-1")
    >>> try:
    ...     data.decode("utf-8")
    ... except UnicodeDecodeError as exc:
    ...     print(not_utf8(data, exc, "r.mlx").message)
    cannot read the file: not UTF-8 text: byte 0xe9 at line 2, column 13 (invalid continuation byte)
    >>> data = 'rulebook r'.encode("utf-16")
    >>> try:
    ...     data.decode("utf-8")
    ... except UnicodeDecodeError as exc:
    ...     print(not_utf8(data, exc, "r.mlx").message)
    cannot read the file: the file is UTF-16 text, not UTF-8
    """
    if is_utf16(data):
        return error(
            Code.FILE_ERROR,
            f"cannot read the file: {UTF16}",
            Span(file=where, line=1, column=1, end_line=1, end_column=2),
            "save the file as UTF-8 (in Notepad: Save As, Encoding UTF-8; Windows calls "
            "UTF-16 'Unicode')",
        )
    line, column = undecodable_at(data, exc)
    return error(
        Code.FILE_ERROR,
        f"cannot read the file: not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}, "
        f"column {column} ({exc.reason})",
        Span(file=where, line=line, column=column, end_line=line, end_column=column + 1),
        "save the file as UTF-8 (an editor set to Latin-1 or Windows-1252 writes an "
        "accented letter as one such byte)",
    )


NOT_A_FILE = "not a regular file (a folder, a device or a pipe)"
UNREAD_OVER = 2_000_000
"""A rulebook file this large (four times MLX002's limit, ``dsl/limits.py``, which a
second check of an unchanged file does not import) is MLX002 before it is read (a few
bytes past the limit, a byte-order mark may make it fit: those are read)."""


def rulebook_files(folder: Path, recursive: bool = True) -> list[Path]:
    """The ``.mlx`` files under a folder, sorted."""
    pattern = f"**/*{SUFFIX}" if recursive else f"*{SUFFIX}"
    return sorted(p for p in folder.glob(pattern) if p.is_file())


def shown_path(path: Path | str, shipped: Path | None) -> str:
    """A file as diagnostics, traces and the ledger show it: ``shipped:sec.mlx`` for a shipped
    rulebook (wherever the package is installed), otherwise the path as given."""
    if shipped is not None:
        try:
            inside = Path(path).resolve().relative_to(shipped.resolve())
        except ValueError:
            return str(path)
        return SHIPPED_PREFIX + inside.as_posix()
    return str(path)


class ClaimIndex:
    """Every claim of the sibling folders (not recursive) and the shipped folder (recursive).

    A sibling that is a shipped file (the shipped folder checked in place) counts once, as
    shipped.
    """

    def __init__(self, near: Iterable[Path], shipped: Path | None) -> None:
        self.shipped = shipped
        self.claims: dict[str, list[Claim]] = {}
        seen: set[Path] = set()
        if shipped is not None:
            self._scan(rulebook_files(shipped), True, seen)
        for folder in near:
            self._scan(rulebook_files(folder, recursive=False), False, seen)

    def _scan(self, files: list[Path], shipped: bool, seen: set[Path]) -> None:
        for path in files:
            key = path.resolve()
            if key in seen:
                continue
            seen.add(key)
            text = claim_text(path)
            found = None if text is None else header_id(text)
            if found is not None:
                shown = shown_path(path, self.shipped)
                self.claims.setdefault(found, []).append(Claim(found, path, shipped, shown))

    def shipped_ids(self) -> list[str]:
        """The ids the shipped rulebooks claim."""
        return sorted(i for i, cs in self.claims.items() if any(c.shipped for c in cs))

    def lookup(self, rulebook_id: str, replaces: Replaces) -> Path | None:
        """The one file that an id names, or None when no file claims it.

        Raises:
            RulebookClaimError: two sibling files claim the id, or a sibling claims a shipped
                id without ``replaces shipped``.
        """
        claims = self.claims.get(rulebook_id, [])
        siblings = [c for c in claims if not c.shipped]
        shipped = [c for c in claims if c.shipped]
        if len(siblings) > 1 or len(shipped) > 1:
            raise _ambiguous(rulebook_id, siblings if len(siblings) > 1 else shipped)
        if siblings and shipped:
            if replaces(siblings[0].path) == rulebook_id:
                return siblings[0].path
            raise _ambiguous(rulebook_id, [*siblings, *shipped])
        return claims[0].path if claims else None

    def header_diagnostics(self, book: m.Rulebook, path: Path) -> list[Diagnostic]:
        """Problems with the id a file claims: shared with a sibling, a shipped id taken
        without saying so, or a ``replaces shipped`` that replaces nothing."""
        key = path.resolve()
        others = [c for c in self.claims.get(book.id, []) if c.path.resolve() != key]
        if any(c.shipped for c in self.claims.get(book.id, []) if c.path.resolve() == key):
            return []  # the shipped file itself
        found = []
        siblings = [c for c in others if not c.shipped]
        if siblings:
            found.append(_ambiguous(book.id, siblings, also=True).at(book.header.span))
        if self.shipped is not None:
            found += self._shipped_problems(book, [c for c in others if c.shipped])
        return found

    def _shipped_problems(self, book: m.Rulebook, shipped: list[Claim]) -> list[Diagnostic]:
        replaces = book.header.replaces
        if replaces is None:
            if not shipped:
                return []
            message = (
                f"rulebook `{book.id}` takes the id of the shipped rulebook `{shipped[0].shown}`"
            )
            hint = (
                f"write `replaces shipped {book.id}` in the header to use this file instead "
                "of the shipped one beside it, or give it another id"
            )
            return [error(Code.SHADOWS_SHIPPED, message, book.header.span, hint)]
        if replaces.name != book.id:
            message = (
                f"rulebook `{book.id}` cannot replace `{replaces.name}`: a rulebook replaces "
                "only the shipped rulebook with its own id"
            )
            hint = f"write `replaces shipped {book.id}`, or remove the clause"
            return [error(Code.NOTHING_TO_REPLACE, message, replaces.span, hint)]
        if not shipped:
            message = f"no shipped rulebook has the id `{replaces.name}`: nothing to replace"
            hint = did_you_mean(replaces.name, self.shipped_ids()) or "remove the clause"
            return [error(Code.NOTHING_TO_REPLACE, message, replaces.span, hint)]
        return []


def _ambiguous(rulebook_id: str, claims: list[Claim], also: bool = False) -> RulebookClaimError:
    files = ", ".join(f"`{c.shown}`" for c in claims)
    if also:
        message = f"rulebook id `{rulebook_id}` is also claimed by {files}"
    else:
        message = f"rulebook id `{rulebook_id}` is claimed by {len(claims)} files: {files}"
    sibling = next((c for c in claims if not c.shipped), None)
    if any(c.shipped for c in claims) and sibling is not None:
        hint = (
            f"write `replaces shipped {rulebook_id}` in the header of `{sibling.shown}` to "
            "use it instead of the shipped rulebook, or give it another id"
        )
    else:
        hint = "give each rulebook its own id, so that an id names one file"
    return RulebookClaimError(Code.AMBIGUOUS_RULEBOOK, message, hint)
