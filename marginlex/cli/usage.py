"""One rule for exit codes: 2 for a usage error, 1 for a failure.

typer and click already exit 2 on a bad option, a missing argument or a bad choice; the
checks the commands make themselves (two rulebooks at least, a date that is a date, a
scenario given) go through :func:`usage_error` so that they exit 2 as well. Everything else
that goes wrong (a bad book, a rulebook that does not load, a failed test) exits 1.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

import typer

from marginlex.cli.consoles import lazy_console

USAGE = 2
FAILURE = 1

_err = lazy_console(stderr=True, highlight=False)


def usage_error(message: str, command: str | None = None) -> typer.Exit:
    """Print ``error: message`` (and where to look) on stderr; the exit to raise (code 2)."""
    _err.print(f"error: {message}", markup=False, soft_wrap=True)
    if command is not None:
        _err.print(f"see `marginlex {command} --help`", markup=False, soft_wrap=True)
    return typer.Exit(USAGE)


def moment(value: str) -> dt.datetime:
    """``--since`` / ``--until``: a date or an ISO date and time (UTC unless it has an offset).

    >>> moment("2026-06-30")
    datetime.datetime(2026, 6, 30, 0, 0)
    >>> moment("2026-06-30T14:05Z").isoformat()
    '2026-06-30T14:05:00+00:00'
    """
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date or time: write YYYY-MM-DD or YYYY-MM-DDTHH:MM "
            "(UTC, unless an offset such as +02:00 follows)"
        ) from None


def amount(value: str) -> Decimal:
    """``--call-above``: an amount in USD, written as a number (a spelling for people is told
    how to write it).

    >>> amount("1000.50")
    Decimal('1000.50')
    >>> try:
    ...     amount("$1000")
    ... except typer.BadParameter as exc:
    ...     print(exc.message)
    '$1000' is not an amount: leave out the currency sign
    """
    from marginlex.engine.book.spellings import number_hint  # noqa: PLC0415 - light

    text = value.strip()
    try:
        found = Decimal(text)
    except InvalidOperation:
        found = None
    if found is None or not found.is_finite():
        how = number_hint(text) or ": write digits, with a point for decimals (1000.50)"
        raise typer.BadParameter(f"{value!r} is not an amount{how}")
    return found


_HEX = re.compile("[0-9a-f]+")


def head_hash(value: str) -> str:
    """``verify --expect-head``: a whole entry hash, 64 hex digits (a shown prefix such as
    ``7361db06c623…`` would be reported as a chain cut back, which it is not).

    >>> head_hash(" " + "AB" * 32)[:8]
    'abababab'
    >>> try:
    ...     head_hash("7361db06c623…")
    ... except typer.BadParameter as exc:
    ...     print(exc.message.split(": ")[0])
    '7361db06c623…' is 12 hex digits of a hash
    """
    text = value.strip().lower()
    if len(text) == 64 and _HEX.fullmatch(text):
        return text
    shown = text.rstrip("…").rstrip(".")
    what = f"{len(shown)} hex digits of a hash" if _HEX.fullmatch(shown) else "not a hash"
    raise typer.BadParameter(
        f"{value!r} is {what}: give the whole head hash, 64 hex digits, as `marginlex verify` "
        'prints it after "head #N"'
    )


def ledger_given(value: str | None) -> str | None:
    """``--ledger``'s check: a SQLite path or a URL, never empty (``--ledger ""`` read as
    not given: ``run`` recorded nothing and said nothing, ``verify`` read another ledger).

    >>> ledger_given("l.db")
    'l.db'
    >>> try:
    ...     ledger_given(" ")
    ... except typer.BadParameter as exc:
    ...     print(exc.message.split(":")[0])
    the ledger is empty
    """
    if value is not None and not value.strip():
        raise typer.BadParameter(
            "the ledger is empty: give a SQLite path or a postgresql+psycopg:// URL, or leave "
            "the option out"
        )
    return value


def as_of_date(value: str | None, command: str) -> dt.date | None:
    """``--as-of`` as a date (None when not given); a usage error when it is not one.

    >>> as_of_date("2026-06-30", "run")
    datetime.date(2026, 6, 30)
    """
    if value is not None and not value.strip():  # "" ran silently on the book's date
        raise usage_error(
            "--as-of is empty: write a date, YYYY-MM-DD, or leave the option out to use the "
            "book's as_of",
            command,
        )
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        raise usage_error(f"--as-of {value!r} is not a date: write YYYY-MM-DD", command) from None
