"""Text from a book or a rulebook written so that it cannot drive a terminal: an id holding
``ESC [2J`` (clear the screen) or ``ESC [31m`` shows as ``\\x1b[2J``, not as what it does.

The book contract takes any text, and the ledger keeps it exactly (CSV and JSON hold it as
it is); what a person reads (``explain``, the command-line tables, the console) writes
control characters out.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def printable(text: str) -> str:
    """``text`` with each control character but tab and newline written as ``\\xNN``.

    >>> printable("red\\x1b[31m, bell\\x07")
    'red\\\\x1b[31m, bell\\\\x07'
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
