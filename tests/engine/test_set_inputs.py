"""The engine's per-margin-set input hash (what ``run --since`` compares)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from marginlex.engine.book.load import Book, load_book, write_book
from marginlex.engine.graph.set_inputs import set_input_hashes
from marginlex.engine.run import run_rulebook
from marginlex.engine.synth.generate import synth_book

ACCOUNTS = 120


@pytest.fixture(scope="module")
def synth() -> tuple[object, dict[str, pd.DataFrame]]:
    return synth_book(ACCOUNTS, 7)


def _hashes(book: Book, rulebook: str = "sec") -> pd.Series:
    ev = run_rulebook(rulebook, book)
    return set_input_hashes(ev.frames, ev.decisions["margin_set_id"], book)


def _load(
    synth: tuple[object, dict[str, pd.DataFrame]], folder: Path, **frames: pd.DataFrame
) -> Book:
    meta, base = synth
    return load_book(write_book(meta, base | frames, folder))  # type: ignore[arg-type]


def _changed(before: pd.Series, after: pd.Series) -> set[str]:
    both = before.index.union(after.index)
    return set(both[before.reindex(both).ne(after.reindex(both)).to_numpy()])


def test_the_same_book_hashes_alike_and_every_set_differs(
    synth: tuple[object, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    first, again = _load(synth, tmp_path / "a"), _load(synth, tmp_path / "b")
    hashes = _hashes(first)
    assert hashes.equals(_hashes(again))
    assert hashes.str.fullmatch("[0-9a-f]{32}").all()
    assert hashes.is_unique  # each set's rows (its accounts at least) are its own


def test_a_removed_relation_changes_the_sets_of_its_two_ends(
    synth: tuple[object, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    _, frames = synth
    relations = frames["relations"]
    gone = relations[relations["relation"] == "affiliate_of"].iloc[0]
    book = _load(synth, tmp_path / "a")
    after = _load(synth, tmp_path / "b", relations=relations.drop(index=gone.name))
    accounts = book.accounts
    ends = {gone["src"], gone["dst"]}
    touched = accounts["account_id"].isin(ends) | accounts["owner_id"].isin(ends)
    touched |= accounts["carrier_id"].isin(ends)
    sets = run_rulebook("sec", book).frames["sets"]
    expected = set(
        sets.loc[sets["account_id"].isin(accounts.loc[touched, "account_id"]), "margin_set_id"]
    )
    assert expected, "the affiliation touches some margin set"
    assert _changed(_hashes(book), _hashes(after)) == expected


def test_an_account_moved_to_another_owner_changes_both_memberships(
    synth: tuple[object, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    """CFTC margins one owner's accounts at one carrier together: a new owner splits one off."""
    _, frames = synth
    book = _load(synth, tmp_path / "a")
    sets = run_rulebook("cftc", book).frames["sets"]
    sizes = sets.groupby("margin_set_id")["account_id"].nunique()
    joint = sizes[sizes > 1].index[0]  # a set of several accounts: one of them leaves it
    leaving = sorted(sets.loc[sets["margin_set_id"] == joint, "account_id"])[-1]
    accounts = frames["accounts"].copy()
    accounts.loc[accounts["account_id"] == leaving, "owner_id"] = "NOBODY_ELSE"
    parties = frames["parties"]
    loner = parties.iloc[[0]].assign(party_id="NOBODY_ELSE", name="Nobody Else")
    after = _load(synth, tmp_path / "b", accounts=accounts, parties=pd.concat([parties, loner]))
    changed = _changed(_hashes(book, "cftc"), _hashes(after, "cftc"))
    moved = run_rulebook("cftc", after).frames["sets"]
    now = set(moved.loc[moved["account_id"] == leaving, "margin_set_id"])
    assert joint in changed and now <= changed
    assert len(changed) <= 3  # the set it left, the set it now makes, and nothing else
