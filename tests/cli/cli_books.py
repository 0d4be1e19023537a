"""Books the command-line tests make (imported by name, like ``console_books``)."""

from __future__ import annotations

import csv
import re
import shutil
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path

import pandas as pd

from marginlex.engine.book.limits import MAX_ID_LENGTH


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


def _rulebook_words() -> set[str]:
    """Every word the shipped rulebooks write: a party or class group a rule names
    (``carrier member_of "FICC"``, ``SPX``) keeps its id."""
    folder = Path(__file__).parents[2] / "rulebooks"
    return {w for f in folder.glob("*.mlx") for w in re.findall(r"[A-Za-z0-9_.]+", f.read_text())}


def _hostile_names(values: pd.Series, tag: str, keep: set[str]) -> dict[str, str]:
    """A hostile id (:data:`HOSTILE_IDS`, in turn) for each of ``values`` not in ``keep``;
    ``tag`` keeps the ids of parties, instruments and lots apart from the accounts'."""
    old = sorted({v for v in values if v and v not in keep})
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
    read = {f.stem: pd.read_csv(f, dtype=str, keep_default_na=False) for f in to.glob("*.csv")}
    keep = _rulebook_words()
    accounts = _hostile_names(read["accounts"]["account_id"], "", keep)
    parties = _hostile_names(read["parties"]["party_id"], "P", keep)
    instruments = _hostile_names(read["instruments"]["instrument_id"], "I", keep)
    lots = _hostile_names(read["collateral"]["lot_id"], "L", keep)
    either = {**accounts, **parties}
    columns = {
        "accounts": {"account_id": accounts, "owner_id": parties, "carrier_id": parties},
        "parties": {"party_id": parties},
        "instruments": {
            "instrument_id": instruments,
            "underlying": instruments,
            "class_group": instruments,  # a class group defaults to the underlying's id
        },
        "positions": {"account_id": accounts, "instrument_id": instruments},
        "collateral": {
            "lot_id": lots,
            "account_id": accounts,
            "pledged_to": accounts,
            "instrument_id": instruments,
        },
        "relations": {"src": either, "dst": either},
    }
    for name, frame in read.items():
        for column, new in columns.get(name, {}).items():
            if column in frame:
                frame[column] = frame[column].map(lambda v, new=new: new.get(v, v))
        frame.to_csv(to / f"{name}.csv", index=False)
    return {new: old for old, new in accounts.items()}
