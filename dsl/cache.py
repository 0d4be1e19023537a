"""The user's cache folder: what marginlex works out once and keeps between processes.

Four things are kept: the LALR tables of the grammar (:mod:`marginlex.dsl.parser`), the
conflict pass's answers (:mod:`marginlex.dsl.check.conflict_cache`), ``check``'s answers
(:mod:`marginlex.dsl.check.answers`) and the root
``marginlex --help`` as drawn for a terminal (``marginlex.cli.root_help``). Each file is named for
everything its content depends on, so a stale file is never read, only left unused.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "MARGINLEX_CACHE_DIR"


def cache_dir() -> Path | None:
    """``$MARGINLEX_CACHE_DIR``, else ``$XDG_CACHE_HOME/marginlex``, else ``~/.cache/marginlex``.

    The user's own folder, never a shared temporary one (lark's cache is a pickle). None when
    ``MARGINLEX_CACHE_DIR`` is empty (the cache is off) or the folder cannot be made.

    >>> folder = cache_dir()
    >>> folder is None or folder.is_dir()
    True
    """
    folder = os.environ.get(CACHE_ENV)
    if folder is None:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        folder = str(Path(base) / "marginlex")
    if not folder:
        return None
    try:
        Path(folder).mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None
    return Path(folder)
