"""Small hand books and rulebooks for the impact-study tests."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from marginlex.dsl.loader import load_rulebook
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import DEMO_PACKAGE, Book, load_book

# Two changes that interact: a lower equity minimum makes ALICE2's account eligible for
# portfolio margin, and a narrower stock range only matters to an eligible account.
HAND_VARIANT = """\
rulebook hand_variant "Hand case: lower minimum equity, narrower stock range"
  jurisdiction SEC
  version "test"
  effective from 2026-01-01
  cites "impact study hand case"
  extends sec

override parameter pm_min_equity = 50,000 USD
  cites "hand case: a lower minimum equity"

extend margin sec_portfolio_margin
  cites "hand case: a narrower stock range"
  replace row range otherwise up and down 10%
"""


def hand_book(tmp: Path, accounts: str, positions: str, parties: str = "") -> Book:
    """The demo book's parties, relations and instruments with the given accounts and
    positions (CSV rows, no header), no collateral; ``parties`` rows are added."""
    folder = tmp / "book"
    shutil.copytree(Path(str(resources.files(DEMO_PACKAGE))), folder, dirs_exist_ok=True)
    relations = (folder / "relations.csv").read_text().splitlines()
    (folder / "relations.csv").write_text(
        "\n".join(r for r in relations if not r.endswith("rehypothecated_to")) + "\n"
    )
    if parties:
        text = (folder / "parties.csv").read_text().rstrip("\n")
        (folder / "parties.csv").write_text(text + "\n" + parties.strip() + "\n")
    (folder / "accounts.csv").write_text(
        "account_id,owner_id,carrier_id,regime,kind,origin,agreements\n" + accounts.strip() + "\n"
    )
    (folder / "positions.csv").write_text(
        "account_id,instrument_id,quantity\n" + positions.strip() + "\n"
    )
    (folder / "collateral.csv").write_text(
        "lot_id,account_id,asset,market_value,maturity,pledged_to\n"
    )
    return load_book(folder)


def hand_variant(tmp: Path) -> ResolvedRulebook:
    """The hand variant, written beside the book and loaded."""
    path = tmp / "hand_variant.mlx"
    path.write_text(HAND_VARIANT)
    return load_rulebook(str(path))
