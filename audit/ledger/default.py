"""The ledger a newcomer gets: the demo book recorded under the shipped rulebooks, once.

``marginlex serve`` without ``--ledger`` serves it, so the console shows real decisions at
once; :func:`default_ledger_path` is the one place that says where it lives, so that other
commands can share it.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

from marginlex.audit.ledger.store import Ledger

DEMO_RULEBOOKS = ("sec", "cftc", "harmonized")
"""The shipped rulebooks the demo book is recorded under."""


def default_ledger_path() -> Path:
    """``<user data dir>/marginlex/ledger.db`` (``$XDG_DATA_HOME`` on Linux, if set).

    >>> default_ledger_path().parts[-2:]
    ('marginlex', 'ledger.db')
    """
    return Path(platformdirs.user_data_dir()) / "marginlex" / "ledger.db"


def ensure_demo_ledger(path: Path | None = None, book: Path | None = None) -> Path:
    """The ledger at ``path`` (default :func:`default_ledger_path`), the demo book (or the
    book folder ``book``) recorded into it under :data:`DEMO_RULEBOOKS` first if it holds no
    run yet (a ledger that has runs is left as it is).

    Returns:
        Where the ledger is.
    """
    where = path or default_ledger_path()
    if where.exists():
        ledger = Ledger.open(str(where), create=False)
        try:
            if ledger.runs():
                return where
        finally:
            ledger.close()
    where.parent.mkdir(parents=True, exist_ok=True)
    # The engine only when there is something to record: serving a ledger needs none of it.
    from marginlex.audit.ledger.record import record_run  # noqa: PLC0415
    from marginlex.engine.run import SharedBook, resolve_book, resolve_rulebook  # noqa: PLC0415

    loaded = resolve_book(book)
    shared = SharedBook(loaded)
    rulebooks = [resolve_rulebook(name) for name in DEMO_RULEBOOKS]
    evaluations = [shared.evaluate(rb) for rb in rulebooks]
    record_run(str(where), evaluations, rulebooks, loaded)
    return where
