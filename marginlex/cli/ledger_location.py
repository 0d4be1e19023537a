"""The one default ledger of ``run --record``, ``ledger``, ``explain`` and ``verify``.

In order: the ``--ledger`` option, else ``$MARGINLEX_LEDGER``, else ``./marginlex-ledger.db``
when that file exists (a project's own ledger, next to its books), else the user's default
ledger, ``default_ledger_path()`` (the one ``marginlex serve`` shows).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "MARGINLEX_LEDGER"  # marginlex.audit.ledger.store.ENV_VAR, without sqlalchemy
LOCAL = "marginlex-ledger.db"


def ledger_location(option: str | None) -> str:
    """Where to read or record: the option, the variable, the local file, the user default."""
    if option:
        return option
    if os.environ.get(ENV_VAR):
        return os.environ[ENV_VAR]
    if Path(LOCAL).is_file():
        return LOCAL
    from marginlex.audit.ledger.default import default_ledger_path  # noqa: PLC0415

    return str(default_ledger_path())
