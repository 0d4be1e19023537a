"""Ids that read alike but differ: invisible characters in them, and look-alike spellings.

Every table and page shows ``A000001`` and ``A000001`` followed by a zero-width space alike,
or a Latin ``A000001`` and one written with a Cyrillic ``А``; a relation, a pledge or a
position meant for one may name the other, and ``run`` showed two identical-looking rows.
An id holding an invisible or control character is an error (nothing in an id needs one),
and so is one holding ``;`` or ``" -> "``, which join ids in every output
(:data:`ID_SEPARATORS`);
two ids of a column that look alike (Unicode TR39's confusables, as the
``confusable-homoglyphs`` package keeps them) are a warning, since both may be meant.
"""

from __future__ import annotations

import contextlib
import functools
import unicodedata
from collections.abc import Iterator
from contextvars import ContextVar

import numpy as np
import pandas as pd
from confusable_homoglyphs import confusables

_RECORDED: ContextVar[bool] = ContextVar("recorded_book", default=False)


@contextlib.contextmanager
def recorded_book() -> Iterator[None]:
    """Within it, an id holding an invisible or control character, or a separator, is a warning,
    not an error: a book a ledger recorded before the check held one is replayed as it was."""
    token = _RECORDED.set(True)
    try:
        yield
    finally:
        _RECORDED.reset(token)


def invisible_is_error() -> bool:
    """Whether an id holding an invisible character is an error here (not in a book
    :func:`recorded_book` reads back)."""
    return not _RECORDED.get()


_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp"})
"""Unicode categories of characters that show as nothing, or break the line: controls
(a newline, a tab), format characters (a zero-width space, a joiner, a direction mark, a
byte-order mark), line and paragraph separators."""

_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
"""Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt): characters a
renderer shows as nothing though their category is not a format one (a combining grapheme
joiner, variation selectors, the Hangul fillers); Python's ``unicodedata`` has no such
property."""


def _ignorable(char: str) -> bool:
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in _DEFAULT_IGNORABLE)


_CONTROL_NAMES = {
    "\t": "CHARACTER TABULATION",
    "\n": "LINE FEED",
    "\r": "CARRIAGE RETURN",
    "\x0b": "LINE TABULATION",
    "\x0c": "FORM FEED",
    "\x1b": "ESCAPE",
    "\x7f": "DELETE",
    "\x85": "NEXT LINE",
}
"""Names of the controls Python's ``unicodedata.name`` has none for."""

_MARKS = str.maketrans("", "", "\u200e\u200f")  # the data wraps right-to-left letters in them


def quoted(value: str) -> str:
    """An id as problems quote it: its repr, with its escaped form too where the two differ
    (a Cyrillic ``А`` shows as a Latin A; the escaped form tells them apart).

    >>> quoted("A01"), quoted("\\u0410000001")
    ("'A01'", "'А000001' ('\\\\u0410000001')")
    """
    shown, escaped = repr(value), ascii(value)
    return shown if shown == escaped else f"{shown} ({escaped})"


def invisible_character(value: str) -> str | None:
    """What is wrong with an id holding an invisible or control character (None: it holds
    none): the first such, by code point, name and position (counted from 1).

    >>> invisible_character("A000001\\u200b")
    'holds an invisible character, U+200B ZERO WIDTH SPACE, at position 8: remove it'
    >>> invisible_character("A0\\n01"), invisible_character("A01")
    ('holds a control character, U+000A LINE FEED, at position 3: remove it', None)
    >>> invisible_character("A01\\ufe0f")
    'holds an invisible character, U+FE0F VARIATION SELECTOR-16, at position 4: remove it'
    """
    for position, char in enumerate(value, start=1):
        category = unicodedata.category(char)
        invisible = category in _INVISIBLE or _ignorable(char)
        if invisible and char != "\x00":  # a NUL is said as such when parsed
            name = unicodedata.name(char, _CONTROL_NAMES.get(char, ""))
            kind = "a control" if category == "Cc" else "an invisible"
            named = f" {name}" if name else ""
            return (
                f"holds {kind} character, U+{ord(char):04X}{named}, at position {position}: "
                "remove it"
            )
    return None


def invisible_ids(ids: pd.Series, present: pd.Series) -> dict[int, str]:
    """What is wrong with each id (of ``present`` ones) holding an invisible or control
    character, by its position in ``ids``; only ids outside printable ASCII are looked at
    (the common case is one vectorized test)."""
    plain = ids.str.fullmatch(r"[\x20-\x7e]*").astype("bool")
    odd = np.flatnonzero((present & ~plain).to_numpy(dtype=bool))
    said = {int(k): invisible_character(str(ids.iloc[k])) for k in odd}
    return {k: m for k, m in said.items() if m is not None}


PATH_SEPARATOR = " -> "
"""What joins the parties, accounts and lots of a segregation path (the graph's reach and
lot flows write it, the trace splits there)."""

ID_SEPARATORS = {
    ";": "separates ids in every output (a margin set's account_ids)",
    PATH_SEPARATOR: "joins the steps of a segregation path in every output "
    "(account -> lot -> account)",
}
"""What joins ids in every output, and where: ``;`` a margin set's account ids (the decisions'
``account_ids`` column, CSV cells, the ledger's lookups), ``" -> "`` the parties, accounts
and lots of a segregation path (:data:`PATH_SEPARATOR`; the trace records the
path as a list split there). An id holding one read as two ids there (``run
--format json`` showed the account ``semi;colon`` as the accounts ``semi`` and ``colon``,
and a trace recorded the path of the account ``fund A -> B`` as ``["fund A", "B", ...]``),
so no id may hold one."""


def separator_ids(ids: pd.Series, present: pd.Series) -> np.ndarray:
    """Where an id (of ``present`` ones) holds one of :data:`ID_SEPARATORS` (a vectorized
    test for each).

    >>> ids = pd.Series(["A1", "a;b", "A -> B", "A->B", None])
    >>> separator_ids(ids, ids.notna()).tolist()
    [False, True, True, False, False]
    """
    holds = np.zeros(len(ids), dtype=bool)
    for separator in ID_SEPARATORS:
        holds |= ids.str.contains(separator, regex=False).fillna(False).to_numpy(dtype=bool)
    holds &= present.to_numpy(dtype=bool)
    return holds


def separator_message(value: str) -> str:
    """What is wrong with an id holding one of :data:`ID_SEPARATORS` (the first it holds):
    where, why and what to do.

    >>> separator_message("semi;colon").split(", which")[0]
    "id 'semi;colon' holds ';' at position 5"
    >>> separator_message("fund A -> B").split(", which")[0]
    "id 'fund A -> B' holds ' -> ' at position 7"
    """
    at, separator = min((value.find(s), s) for s in ID_SEPARATORS if s in value)
    return (
        f"id {quoted(value)} holds {separator!r} at position {at + 1}, which "
        f"{ID_SEPARATORS[separator]}: use another character"
    )


@functools.cache
def _prototypes() -> dict[str, str]:
    """Each confusable character's prototype: its group's (the characters confusable with
    it, with them, and so on: the data's lists are not symmetric, a Latin ``O`` lists ``0``
    where a Cyrillic ``О`` does not) ASCII character first, then lowest code point."""
    parent: dict[str, str] = {}

    def root(c: str) -> str:
        while parent.setdefault(c, c) != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for char, glyphs in confusables.confusables_data.items():
        for glyph in glyphs:
            text = glyph["c"].translate(_MARKS)
            if len(char) == 1 and len(text) == 1:
                a, b = root(char), root(text)
                if a != b:
                    parent[max(a, b, key=_rank)] = min(a, b, key=_rank)
    return {c: root(c) for c in parent}


def _rank(c: str) -> tuple[bool, int]:
    return (not c.isascii(), ord(c))


def _prototype(char: str) -> str:
    """The character a confusable one stands for (:func:`_prototypes`), so that a Cyrillic
    ``А``, a Greek ``Α`` and a Latin ``A`` are all one, as are a Latin ``O`` and a Cyrillic
    ``О``; a default-ignorable character stands for nothing (TR39 drops it)."""
    if _ignorable(char):
        return ""
    return _prototypes().get(char, char)


def skeleton(value: str) -> str:
    """An id as it looks (after Unicode TR39's skeleton): NFKC-normalized, then each
    character its confusables' :func:`_prototype`. Two ids with one skeleton look alike.

    >>> skeleton("\\u0410000001") == skeleton("A000001")
    True
    >>> skeleton("\\u041eRD1") == skeleton("ORD1"), skeleton("ACCT_\\u0406") == skeleton("ACCT_I")
    (True, True)
    """
    return "".join(_prototype(c) for c in unicodedata.normalize("NFKC", value))


@functools.cache
def _ascii_table() -> dict[int, str]:
    return {k: _prototype(chr(k)) for k in range(128)}


def lookalikes(ids: pd.Series, present: pd.Series) -> list[tuple[int, int, bool]]:
    """The ids that look like an earlier id of the column though they differ: for each, its
    position, the earlier one's, and whether the two are equal once NFKC-normalized (they
    read the same; else they look alike). Only pairs where one of the two is outside ASCII
    are said (ASCII ids alike, ``O`` and ``0``, are the book's own spelling), and only
    when some id is: the common case is one vectorized test."""
    odd = (present & ~ids.str.isascii().astype("bool")).to_numpy(dtype=bool)
    if not odd.any():
        return []
    shown = present.to_numpy(dtype=bool)
    forms = ids.str.translate(_ascii_table()).astype("object")
    forms[odd] = [skeleton(v) for v in ids[odd]]
    first_of: dict[str, int] = {}
    found = []
    for k, form in enumerate(forms):
        if not shown[k] or (odd[k] and invisible_character(ids.iloc[k]) is not None):
            continue  # an id holding an invisible character is an error already
        e = first_of.setdefault(form, k)
        value, first = ids.iloc[k], ids.iloc[e]
        if value != first and (odd[k] or odd[e]):
            same = unicodedata.normalize("NFKC", value) == unicodedata.normalize("NFKC", first)
            found.append((k, e, same))
    return found
