"""Whole answers of ``marginlex check``, kept between processes: an unchanged file is not
parsed, resolved or checked again.

Parsing a rulebook needs lark's tables, the rulebook model and every pass, about half of a
``check``; what it finds is a function of a few inputs only: the file's text and its path as
given, the working folder (a path is shown relative to it or as ``shipped:...``), every
rulebook file its library can see (the ``.mlx`` files beside it and the shipped ones, each
named and read whole: a base, a claim of the same id or a ``replaces shipped`` anywhere among
them), the rulebook language's own code (its modules and grammar) and the versions of z3,
lark and pydantic. Each answer is kept in the cache folder
(:func:`marginlex.dsl.cache.cache_dir`) under the sha256 of all of these, so any change is
checked again, and the same file is answered from the kept diagnostics. This module imports
neither lark nor the rulebook model, so that a kept answer costs neither.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pydantic import ValidationError

from marginlex.dsl.cache import cache_dir
from marginlex.dsl.claims import rulebook_files, shipped_dir
from marginlex.dsl.diagnostics import Diagnostic

ANSWER_FORMAT = b"check answer 1"
"""Part of every key: a new layout of the kept file makes every old one stale."""


@functools.cache
def checker_fingerprint() -> bytes:
    """The sha256 of every module and the grammar of the rulebook language, and z3's version."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]  # marginlex/dsl
    for path in sorted([*root.rglob("*.py"), *root.rglob("*.lark")]):  # about sixty files
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    digest.update(_version("z3-solver").encode())
    return digest.digest()


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:  # pragma: no cover - all three are dependencies
        return f"{package} ?"


def answer_name(path: Path, text: str) -> str | None:
    """The kept answer's file name for ``check`` of the file ``path`` holding ``text``: the
    sha256 of everything the answer depends on.

    None when a file of its library cannot be read (the file is then checked, never
    answered).
    """
    digest = hashlib.sha256(checker_fingerprint() + ANSWER_FORMAT)
    shipped = shipped_dir()
    try:
        where = (os.getcwd(), str(shipped.resolve()))
        library = [*rulebook_files(shipped), *rulebook_files(path.parent, recursive=False)]
        for part in (_version("lark"), _version("pydantic"), *where, str(path)):
            digest.update(os.fsencode(part) + b"\0")  # a file name need not be UTF-8
        digest.update(text.encode("utf-8") + b"\0")
        for file in library:
            digest.update(os.fsencode(file) + b"\0" + file.read_bytes() + b"\0")
    except OSError:  # a file that cannot be read, or a working folder that is gone
        return None
    return f"check-{digest.hexdigest()}.json"


def kept_diagnostics(name: str | None) -> tuple[Diagnostic, ...] | None:
    """The diagnostics kept in the cache folder's file ``name``; None when there are none
    (absent, damaged, no name or no cache folder)."""
    folder = cache_dir()
    if name is None or folder is None:
        return None
    try:
        rows = json.loads((folder / name).read_text("utf-8"))
        return tuple(Diagnostic.model_validate(row) for row in rows)
    except (OSError, ValueError, TypeError, ValidationError):
        return None


def keep_diagnostics(name: str | None, found: Iterable[Diagnostic]) -> None:
    """Keep ``found`` in the cache folder's file ``name``, written whole or not at all
    (another process may read it meanwhile); a read-only folder keeps nothing."""
    folder = cache_dir()
    if name is None or folder is None:
        return
    body = json.dumps([d.model_dump(mode="json") for d in found])
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".kept-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(body)
        os.replace(temporary, folder / name)
    except OSError:
        return
