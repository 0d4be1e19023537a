"""Generated books for rulebook properties: small cuts of synthetic books, as hypothesis data.

A property (:mod:`marginlex.engine.variants.properties`) is checked on books drawn by
:func:`books`: a synthetic book of :data:`BOOK_ACCOUNTS` accounts
(:func:`marginlex.engine.synth.generate.synth_book`, seed drawn) cut down to a drawn,
non-empty list of its accounts, with their positions and lots, the accounts their lots are
pledged to, and only the instruments those positions hold (and their underlyings). Hypothesis
shrinks a failing example towards fewer accounts and a smaller seed: the book printed for a
failing property is the smallest cut that still breaks it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd
from hypothesis import strategies as st

from marginlex.engine.book.load import Book, load_book, write_book
from marginlex.engine.book.validate import BookMeta
from marginlex.engine.synth.generate import DEFAULT_AS_OF, synth_book

BOOK_ACCOUNTS = 20
"""Accounts of the synthetic book each generated book is cut from (the generator's minimum)."""
MAX_SEED = 10_000


@dataclass(frozen=True)
class BookCut:
    """Which synthetic book (``seed``) and which of its accounts (by position)."""

    seed: int
    accounts: tuple[int, ...]

    def describe(self) -> str:
        """``seed 3, accounts 0, 4`` (what reproduces the book)."""
        return f"seed {self.seed}, accounts {', '.join(map(str, self.accounts))}"


def cuts(max_accounts: int = 6) -> st.SearchStrategy[BookCut]:
    """Hypothesis strategy of :class:`BookCut` (1 to ``max_accounts`` distinct accounts)."""
    picks = st.lists(
        st.integers(0, BOOK_ACCOUNTS - 1), min_size=1, max_size=max_accounts, unique=True
    )
    return st.builds(BookCut, st.integers(0, MAX_SEED), picks.map(tuple))


@cache
def _synthetic(seed: int) -> tuple[BookMeta, dict[str, pd.DataFrame]]:
    return synth_book(BOOK_ACCOUNTS, seed, DEFAULT_AS_OF)


def cut_frames(cut: BookCut) -> tuple[BookMeta, dict[str, pd.DataFrame]]:
    """The frames of the cut: the chosen accounts and everything they refer to."""
    meta, frames = _synthetic(cut.seed)
    accounts = frames["accounts"]
    chosen = set(accounts["account_id"].iloc[list(cut.accounts)])
    while True:  # the accounts lots are pledged to, and theirs, until closed
        lots = frames["collateral"][frames["collateral"]["account_id"].isin(chosen)]
        more = chosen | (set(lots["pledged_to"].dropna()) - {""})
        if more == chosen:
            break
        chosen = more
    accounts = accounts[accounts["account_id"].isin(chosen)]
    positions = frames["positions"][frames["positions"]["account_id"].isin(chosen)]
    lots = frames["collateral"][frames["collateral"]["account_id"].isin(chosen)]
    instruments = frames["instruments"]
    held = set(positions["instrument_id"])
    for _ in range(3):  # an option on a future on an index: underlyings of underlyings
        under = instruments.loc[instruments["instrument_id"].isin(held), "underlying"]
        held |= set(under.dropna()) - {""}
    out = {
        **frames,
        "accounts": accounts,
        "positions": positions,
        "collateral": lots,
        "instruments": instruments[instruments["instrument_id"].isin(held)],
    }
    named = meta.model_copy(update={"name": f"generated book ({cut.describe()})"})
    return named, {k: v.reset_index(drop=True) for k, v in out.items()}


def load_cut(cut: BookCut) -> Book:
    """The cut as a loaded, validated :class:`Book`."""
    meta, frames = cut_frames(cut)
    with tempfile.TemporaryDirectory() as tmp:
        write_book(meta, frames, Path(tmp))
        return load_book(tmp)


def book_csv(book: Book) -> str:
    """The accounts, positions and lots of a (small) book as CSV, one block per file."""
    blocks = []
    for stem in ("accounts", "positions", "collateral"):
        frame = book.contract_frames()[stem]
        blocks.append(f"# {stem}.csv\n{frame.to_csv(index=False, lineterminator=chr(10))}")
    return "\n".join(blocks)
