"""The conflict pass's answers, kept between processes, so that z3 is imported only to prove.

Importing z3 costs about a quarter of a second, more than the rest of ``marginlex check``
of a rulebook; the solver's diagnostics are a function of the file's model and its resolved
rulebook (both with every span), the rulebook language's own code and z3's version. Each
answer is kept in the cache folder (:func:`marginlex.dsl.cache.cache_dir`) under the sha256
of all of these, so a changed file, base, checker or solver is proved again, and the same
ones are answered from the file: the same diagnostics, without z3.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pydantic import ValidationError

from marginlex.dsl.cache import cache_dir
from marginlex.dsl.diagnostics import Diagnostic
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.resolve import ResolvedRulebook

Prover = Callable[[m.Rulebook, ResolvedRulebook], list[Diagnostic]]


@functools.cache
def _checker_fingerprint() -> bytes:
    """The sha256 of every module of the rulebook language, and z3's version."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]  # marginlex/dsl
    for path in sorted(root.rglob("*.py")):  # the language's modules, about sixty
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    try:
        digest.update(version("z3-solver").encode())
    except PackageNotFoundError:  # pragma: no cover - z3 is a dependency
        digest.update(b"z3 ?")
    return digest.digest()


def answer_key(book: m.Rulebook, resolved: ResolvedRulebook) -> str:
    """What the conflict pass's answer for ``book`` depends on, as a sha256."""
    digest = hashlib.sha256(_checker_fingerprint())
    digest.update(book.model_dump_json().encode("utf-8") + b"\0")
    digest.update(resolved.model_dump_json().encode("utf-8"))
    return digest.hexdigest()


def remembered(book: m.Rulebook, resolved: ResolvedRulebook, prove: Prover) -> list[Diagnostic]:
    """``prove(book, resolved)``, read from the cache when the same question was proved before.

    >>> from marginlex.dsl.parser import parse
    >>> from marginlex.dsl.resolve import resolve
    >>> book = parse('rulebook r "R" parameter p = 5 USD')
    >>> remembered(book, resolve(book, lambda _: None)[0], lambda b, r: [])
    []
    """
    folder = cache_dir()
    if folder is None:
        return prove(book, resolved)
    path = folder / f"conflicts-{answer_key(book, resolved)}.json"
    known = _read(path)
    if known is not None:
        return known
    found = prove(book, resolved)
    _write(path, found)
    return found


def _read(path: Path) -> list[Diagnostic] | None:
    try:
        rows = json.loads(path.read_text("utf-8"))
        return [Diagnostic.model_validate(row) for row in rows]
    except (OSError, ValueError, TypeError, ValidationError):  # absent or damaged: prove
        return None


def _write(path: Path, found: list[Diagnostic]) -> None:
    """Write the answer whole or not at all (another process may read it meanwhile)."""
    body = json.dumps([d.model_dump(mode="json") for d in found])
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".conflicts-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(body)
        os.replace(temporary, path)
    except OSError:  # a read-only cache folder: the answer is simply not kept
        return
