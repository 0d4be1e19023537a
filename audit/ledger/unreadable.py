"""What reading a ledger value no marginlex writes raises (standard library only: the light
commands import it)."""

from __future__ import annotations

UNREADABLE = (ValueError, TypeError, KeyError, ArithmeticError)
"""The errors of a value edited by hand: a call of ``abc``, a status of ``weird``, a date of
``1796571537``, a JSON column that is not JSON (the database driver's own come besides)."""
