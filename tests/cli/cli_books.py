"""Books the command-line tests make (imported by name, like ``console_books``)."""

from __future__ import annotations

import csv
import shutil
import sys
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path

from marginlex.engine.book.limits import MAX_ID_LENGTH

sys.path.append(str(Path(__file__).parents[1] / "engine"))  # the evaluator tests' books
from _evaluate_books import rename_ids


def renamed_demo(to: Path, renamed: Mapping[str, str]) -> Path:
    """The demo book's files copied into ``to`` (made), every CSV cell that is a key of
    ``renamed`` replaced by its value: an id renamed wherever the book names it."""
    to.mkdir(parents=True)
    for entry in (files("marginlex.engine.book") / "demo_book").iterdir():
        if entry.name.endswith((".csv", ".json")):
            shutil.copy(str(entry), to / entry.name)
    for path in to.glob("*.csv"):
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        rows = [rows[0]] + [[renamed.get(v, v) for v in row] for row in rows[1:]]
        with path.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)
    return to


HOSTILE_IDS = (
    "acct {k} with spaces",
    "O'Brien {k}",
    'say "hi" {k}',
    "a,b,{k}",
    "back\\slash\\{k}",
    "<script>alert({k})</script>",
    "café-é-{k}",
    "账户{k}",
    "🚀💸{k}",
    "حساب{k}",
    "{n:03d}{t}",
    "{n}e3{t}",
    "={k}+1",
    "+{k}",
    "-{k}",
    "@SUM({k})",
    "a/b?c=1&d#e%41 {k}",
    "from->to {k}",  # an arrow, not between spaces as a segregation path's
    "{k}x",  # made as long as an id may be
)
"""What a new user's ids hold: spaces, quotes, commas, backslashes, markup, letters of other
scripts (right to left too), emoji, numbers (``007``, ``1e3``), a leading ``=``, ``+``,
``-`` or ``@``, URL syntax, an arrow, and the longest id a book takes (the last, padded with ``x``);
``{k}``, ``{n}`` and ``{t}`` make each unique."""


def _hostile_names(old: list[str], kind: str) -> dict[str, str]:
    """A hostile id (:data:`HOSTILE_IDS`, in turn) for each of ``old``; a tag keeps the ids of
    parties, instruments and lots apart from the accounts'."""
    tag = {"account": "", "party": "P", "instrument": "I", "lot": "L"}[kind]
    made = {}
    for n, v in enumerate(old):
        pattern = HOSTILE_IDS[n % len(HOSTILE_IDS)]
        made[v] = pattern.format(k=f"{tag}{n}", n=n, t=tag)
        if pattern == HOSTILE_IDS[-1]:
            made[v] = made[v].ljust(MAX_ID_LENGTH, "x")
    return made


def hostile_book(plain: Path, to: Path) -> dict[str, str]:
    """``plain`` (a book folder of CSV files) copied to ``to`` with every account, party,
    instrument and lot id made hostile (:data:`HOSTILE_IDS`) wherever the book names it,
    the rulebooks' own words kept; the new account ids, mapped to the old."""
    shutil.copytree(plain, to)
    return rename_ids(to, _hostile_names)
