"""The conflict pass's answers, kept between processes, so that z3 is imported only to prove.

Importing z3 costs about a quarter of a second, more than the rest of ``marginlex check``
of a rulebook; the solver's diagnostics are a function of the file's model and its resolved
rulebook (both with every span), the rulebook language's own code and z3's version. Each
answer is kept in the cache folder (:func:`marginlex.dsl.cache.cache_dir`) under the sha256
of all of these, so a changed file, base, checker or solver is proved again, and the same
ones are answered from the file: the same diagnostics, without z3.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from marginlex.dsl.cache import cache_dir
from marginlex.dsl.check.answers import checker_fingerprint, keep_diagnostics, kept_diagnostics
from marginlex.dsl.diagnostics import Diagnostic
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.resolve import ResolvedRulebook

Prover = Callable[[m.Rulebook, ResolvedRulebook], list[Diagnostic]]


def answer_key(book: m.Rulebook, resolved: ResolvedRulebook) -> str:
    """What the conflict pass's answer for ``book`` depends on, as a sha256."""
    digest = hashlib.sha256(checker_fingerprint())
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
    if cache_dir() is None:
        return prove(book, resolved)
    name = f"conflicts-{answer_key(book, resolved)}.json"
    known = kept_diagnostics(name)
    if known is not None:
        return list(known)
    found = prove(book, resolved)
    keep_diagnostics(name, found)
    return found
