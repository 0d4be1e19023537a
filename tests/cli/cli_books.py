"""Books the command-line tests make (imported by name, like ``console_books``)."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path


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
