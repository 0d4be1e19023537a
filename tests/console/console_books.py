"""Books and ledgers the console tests record (imported by name, like ``audit_helpers``)."""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from unittest.mock import patch

from marginlex.audit.ledger.record import record_run
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.run import resolve_book, resolve_rulebook, run_rulebook

HOSTILE = "A08<script>alert('x')</script>\"q\x1b[31mFOX\u202eZ"
"""An account id that is markup, quotes and a terminal escape at once."""
HOSTILE_NAME = 'Alice <img src=x onerror=alert(1)> "O\'Neil" \x1b[31mred'
PRICE_MOVED = {"XYZ": "90.00", "ES_2609": "6300.00"}
"""Prices the second run's book moved (100.00 and 6,000.00 in the demo book)."""


def copy_demo(to: Path) -> Path:
    """The demo book's files copied into ``to``."""
    source = files("marginlex.engine.book") / "demo_book"
    to.mkdir(parents=True)
    for name in ("accounts", "collateral", "instruments", "parties", "positions", "relations"):
        shutil.copy(str(source / f"{name}.csv"), to / f"{name}.csv")
    shutil.copy(str(source / "book.json"), to / "book.json")
    return to


def _rewrite(path: Path, change: dict[str, str], column: str | None = None) -> None:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    for row in rows[1:]:
        for i, value in enumerate(row):
            if column is None or rows[0][i] == column:
                row[i] = change.get(value, value)
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def moved_prices(to: Path) -> Path:
    """The demo book with the prices of :data:`PRICE_MOVED`."""
    book = copy_demo(to)
    path = book / "instruments.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    price = rows[0].index("price")
    for row in rows[1:]:
        row[price] = PRICE_MOVED.get(row[0], row[price])
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return book


def hostile(to: Path) -> Path:
    """The demo book with account A08_FOX_FUT renamed to :data:`HOSTILE` everywhere and
    ALICE's name set to :data:`HOSTILE_NAME`."""
    book = copy_demo(to)
    for name in ("accounts", "collateral", "positions", "relations"):
        _rewrite(book / f"{name}.csv", {"A08_FOX_FUT": HOSTILE})
    _rewrite(book / "parties.csv", {"Alice Archer": HOSTILE_NAME}, column="name")
    return book


def record(ledger: str, book: Path | None) -> str:
    """Record ``book`` (None: the demo book) under sec, cftc and harmonized; the run id.

    An id holding a control or invisible character (:data:`HOSTILE`'s escape and
    right-to-left override) is now an error of the book; ledgers recorded before hold such
    ids still, and the console must show them escaped: the check is off while it loads."""
    from marginlex.engine.book import validate  # noqa: PLC0415

    with patch.object(validate, "invisible_ids", lambda ids, present: {}):
        loaded = resolve_book(book)
    graph = AccountGraph(loaded)
    rulebooks = [resolve_rulebook(n) for n in ("sec", "cftc", "harmonized")]
    evaluations = [run_rulebook(rb, loaded, None, graph) for rb in rulebooks]
    return record_run(ledger, evaluations, rulebooks, loaded).run_id


@dataclass(frozen=True)
class Recorded:
    """A ledger and the runs recorded in it."""

    location: str
    demo: str
    moved: str
    hostile: str
