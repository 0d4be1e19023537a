"""The shortcuts of the attribution runner give the same figures and sub-books as the plain
definitions: anchor figures without listing members, the closure as connected components."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import Book, load_book, load_demo_book, write_book
from marginlex.engine.synth.generate import synth_book
from marginlex.engine.variants.attribution import closure
from marginlex.engine.variants.figures import MEASURES, account_figures, anchor_figures, decide

RULEBOOKS = ("sec", "cftc", "harmonized")


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Book:
    meta, frames = synth_book(400, 9)
    return load_book(write_book(meta, frames, tmp_path_factory.mktemp("attr") / "book"))


def _fixpoint(book: Book, seeds: np.ndarray) -> np.ndarray:
    """The closure by its definition: grow over owners, pledges and relations until stable."""
    acc = book.accounts
    ids, owner = acc["account_id"], acc["owner_id"]
    lots = book.collateral[book.collateral["pledged_to"].notna()]
    links = pd.concat(
        [
            lots[["account_id", "pledged_to"]].set_axis(["a", "b"], axis=1),
            book.relations[["src", "dst"]].set_axis(["a", "b"], axis=1),
        ]
    )
    keep = ids.isin(seeds).to_numpy(bool)
    while True:
        grown = keep | owner.isin(owner[keep]).to_numpy(bool)
        kept = ids[grown]
        linked = links[links["a"].isin(kept) | links["b"].isin(kept)]
        grown |= (ids.isin(linked["a"]) | ids.isin(linked["b"])).to_numpy(bool)
        if (grown == keep).all():
            return keep
        keep = grown


@pytest.mark.parametrize("rulebook", RULEBOOKS)
def test_anchor_figures_are_the_account_figures(rulebook: str, synth: Book) -> None:
    for book in (load_demo_book(), synth):
        decisions = decide(load_rulebook(rulebook), book, book.as_of)
        ids = book.accounts["account_id"]
        expected = account_figures(decisions, ids, rulebook)[list(MEASURES)].to_numpy(np.int64)
        some = pd.Index(ids.to_numpy(str)[::-1])  # any order, any subset
        assert (anchor_figures(decisions, some) == expected[::-1]).all()
        assert expected.any()


def test_closure_is_the_fixpoint_of_its_definition(synth: Book) -> None:
    rng = np.random.default_rng(3)
    for book in (load_demo_book(), synth):
        ids = book.accounts["account_id"].to_numpy(str)
        for size in (1, 5, len(ids) // 3, len(ids)):
            seeds = rng.choice(ids, size=size, replace=False)
            assert (closure(book, seeds) == _fixpoint(book, seeds)).all()


def test_closure_joins_accounts_of_one_owner() -> None:
    book = load_demo_book()
    owner = book.accounts.set_index("account_id")["owner_id"]
    first = owner.index[0]
    kept = book.accounts["account_id"][closure(book, np.array([first]))]
    assert set(owner[owner == owner[first]].index) <= set(kept)
