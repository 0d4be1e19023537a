"""Text from a book, a rulebook or a ledger written so that it cannot drive a terminal or
reorder what a reader sees.

An id holding ``ESC [2J`` (clear the screen) or ``ESC [31m`` shows as ``\\x1b[2J``, not as
what it does. A bidirectional control (U+202E RIGHT-TO-LEFT OVERRIDE, the "Trojan Source"
characters) would show the rest of a line in reverse, so that an id, a figure or a line of
a rulebook reads as something other than what is stored: it shows as ``\\u202e``. So do the
C1 controls (U+0080 to U+009F: U+009B starts an escape sequence on some terminals) and the
line and paragraph separators (U+2028, U+2029, U+0085: an editor starts a new line there,
the parser and the terminal do not).

The book contract takes any text, and the ledger keeps it exactly (CSV and JSON hold it as
it is); what a person reads (``explain``, the command-line tables, the console, a rulebook
error's source line) writes these characters out. A rulebook may not hold them at all
(``MLX102``). Standard library only: the light commands import it.
"""

from __future__ import annotations

import re
import unicodedata

UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)
"""The characters a person must not be shown as they are: C0 controls but tab and line feed,
DEL and the C1 controls, the bidirectional controls, and the line and paragraph separators."""

BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""The bidirectional controls (marks, embeddings, overrides, isolates)."""

SEPARATORS = frozenset("\u0085\u2028\u2029")
"""Characters an editor may take as a line end and the parser does not."""


def escaped(char: str) -> str:
    r"""One character as its escape: ``\xNN`` below U+0100, else ``\uNNNN``.

    >>> escaped("\x1b"), escaped("\u202e")
    ('\\x1b', '\\u202e')
    """
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    r"""``text`` with each :data:`UNSAFE` character written as its escape.

    >>> printable("red\x1b[31m, bell\x07, A\u202eB")
    'red\\x1b[31m, bell\\x07, A\\u202eB'
    """
    return UNSAFE.sub(lambda m: escaped(m.group()), text)


_ESCAPE = re.compile(r"\\x([0-9a-f]{2})|\\u([0-9a-f]{4})")


def unprintable(text: str) -> str:
    r"""``text`` with each escape :func:`printable` writes turned back into its character
    (only those of :data:`UNSAFE` characters: any other backslash stays): a value shown as
    ``\u202e`` in a form and sent back is the id it was.

    >>> unprintable("A\\u202eB \\x1b[2J \\x41") == "A\u202eB \x1b[2J \\x41"
    True
    """

    def back(m: re.Match[str]) -> str:
        char = chr(int(m.group(1) or m.group(2), 16))
        return char if UNSAFE.fullmatch(char) else m.group()

    return _ESCAPE.sub(back, text)


def same_width(text: str) -> str:
    r"""``text`` with each :data:`UNSAFE` character shown as one visible character, so that a
    caret under a column still points at it: a C0 control as its control picture (ESC as
    U+241B), any other as U+FFFD.

    >>> same_width("a\x1b[2Jb\u202ec")
    'a␛[2Jb�c'
    """
    return UNSAFE.sub(lambda m: _picture(m.group()), text)


def _picture(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    return "\u2421" if code == 0x7F else "\ufffd"


def char_name(char: str) -> str:
    """``U+202E (RIGHT-TO-LEFT OVERRIDE)``; a control has no name: ``U+009B``.

    >>> char_name("\u2028"), char_name("\x9b")
    ('U+2028 (LINE SEPARATOR)', 'U+009B')
    """
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


def visible(value: object) -> object:
    r"""A template's value as a page shows it (Jinja's ``finalize``): text through
    :func:`printable`, markup too (``{{ name | e }}`` is markup made of the raw text), kept
    markup (what :func:`printable` writes is plain text: nothing to escape); other values as
    they are.

    >>> from markupsafe import Markup
    >>> visible("red\x1b[31m"), visible(Markup("<b>\u202e</b>")), visible(3)
    ('red\\x1b[31m', Markup('<b>\\u202e</b>'), 3)
    """
    if not isinstance(value, str):
        return value
    shown = printable(value)
    return value.__class__(shown) if hasattr(value, "__html__") else shown
