"""Which accounts ``run --since`` decides again (engine/distributed/changed.py), on the demo
book with one change planted at a time; the expected accounts are read off the demo book's
files by hand (owners, holdings, pledged lots)."""

from __future__ import annotations

import pandas as pd
import pytest

from marginlex.engine.book.load import load_demo_book
from marginlex.engine.distributed.changed import (
    accounts_to_decide,
    changed_accounts,
    cut_book,
    row_changes,
    row_hashes,
)
from marginlex.engine.distributed.digests import BookDigest, book_digest
from marginlex.engine.distributed.digests import accounts_to_decide as by_digests

Frames = dict[str, pd.DataFrame]


@pytest.fixture
def demo() -> Frames:
    return {name: frame.copy() for name, frame in load_demo_book().contract_frames().items()}


def _set(frames: Frames, table: str, where: tuple[str, str], column: str, value: object) -> Frames:
    frame = frames[table].copy()
    frame.loc[frame[where[0]] == where[1], column] = value
    return frames | {table: frame}


def _sorted(index: pd.Index | None) -> list[str]:
    assert index is not None
    return sorted(index.tolist())


def test_an_unchanged_book_decides_nothing_again(demo: Frames) -> None:
    assert _sorted(changed_accounts(demo, demo)) == []
    assert _sorted(accounts_to_decide(demo, demo)) == []


def test_a_position_marks_its_account_and_the_owner_s_other_accounts(demo: Frames) -> None:
    after = _set(demo, "positions", ("account_id", "A04_DELTA_PM"), "quantity", 10_001.0)
    assert _sorted(changed_accounts(demo, after)) == ["A04_DELTA_PM"]
    assert _sorted(accounts_to_decide(demo, after)) == ["A04_DELTA_PM", "A05_DELTA_FUT"]


def test_a_price_marks_the_holders_of_it_and_of_instruments_written_on_it(demo: Frames) -> None:
    # UST_2035_08 is held by A07; ZN_2609 (its underlying is UST_2035_08) by A06 and H_FCM1
    after = _set(demo, "instruments", ("instrument_id", "UST_2035_08"), "price", 99.0)
    assert _sorted(changed_accounts(demo, after)) == ["A06_ECHO_XM", "A07_ECHO_SEC", "H_FCM1"]
    assert _sorted(accounts_to_decide(demo, after)) == ["A06_ECHO_XM", "A07_ECHO_SEC", "H_FCM1"]
    # SPY: A04 holds it (with A05, one owner), A12 holds SPY and a put on it
    after = _set(demo, "instruments", ("instrument_id", "SPY"), "price", 601.0)
    assert _sorted(changed_accounts(demo, after)) == ["A04_DELTA_PM", "A12_JULIET_PM"]
    decided = _sorted(accounts_to_decide(demo, after))
    assert decided == ["A04_DELTA_PM", "A05_DELTA_FUT", "A12_JULIET_PM"]


def test_a_pledged_lot_marks_both_ends_and_the_chain_they_sit_in(demo: Frames) -> None:
    # L22: A13's lot pledged to A14; A14 re-pledges to A15, A15 to H_BD1, HOTEL pledges to H_BD1
    after = _set(demo, "collateral", ("lot_id", "L22"), "market_value", 1.0)
    assert _sorted(changed_accounts(demo, after)) == ["A13_KILO_MGN", "A14_LIMA_FIN"]
    chain = ["A10_HOTEL_MGN", "A13_KILO_MGN", "A14_LIMA_FIN", "A15_MIKE_MGN", "H_BD1"]
    assert _sorted(accounts_to_decide(demo, after)) == chain


def test_an_account_that_changes_owner_leaves_its_former_set_mates_to_decide(
    demo: Frames,
) -> None:
    after = _set(demo, "accounts", ("account_id", "A07_ECHO_SEC"), "owner_id", "FOX")
    assert _sorted(changed_accounts(demo, after)) == ["A07_ECHO_SEC"]
    # A06 shared ECHO with A07 before; A07 now shares FOX with A08
    decided = _sorted(accounts_to_decide(demo, after))
    assert decided == ["A06_ECHO_XM", "A07_ECHO_SEC", "A08_FOX_FUT"]


def test_a_party_marks_every_account_it_owns_or_carries(demo: Frames) -> None:
    after = _set(demo, "parties", ("party_id", "FCM1"), "ecp", False)
    accounts = ["A08_FOX_FUT", "A09_GOLF_FUT", "H_FCM1"]  # carried by FCM1 (H_FCM1: owned)
    assert _sorted(changed_accounts(demo, after)) == accounts


def test_a_party_at_the_far_end_of_a_relation_marks_the_accounts_of_the_other_end(
    demo: Frames,
) -> None:
    """CME owns and carries nothing, but BDF1 and FCM1 are ``member_of`` it: a rule may read
    its row as ``carrier member_of dco``, so their accounts are decided again."""
    after = _set(demo, "parties", ("party_id", "CME"), "kind", "clearing_agency")
    accounts = [
        *("A04_DELTA_PM", "A05_DELTA_FUT", "A06_ECHO_XM", "A07_ECHO_SEC"),  # carried by BDF1
        *("A08_FOX_FUT", "A09_GOLF_FUT", "A12_JULIET_PM", "H_BDF1", "H_FCM1"),
    ]
    assert _sorted(changed_accounts(demo, after)) == accounts


def test_a_duplicated_row_is_a_change_and_a_relation_decides_everything(demo: Frames) -> None:
    positions = demo["positions"]
    doubled = pd.concat([positions, positions.iloc[[7]]], ignore_index=True)
    assert _sorted(changed_accounts(demo, demo | {"positions": doubled})) == ["A05_DELTA_FUT"]
    assert row_changes(positions, doubled)[1].sum() == 2  # both copies of the row
    after = _set(demo, "relations", ("src", "LIMA"), "relation", "member_of")
    assert changed_accounts(demo, after) is None
    assert accounts_to_decide(demo, after) is None


def test_the_cut_book_keeps_its_accounts_rows_and_the_whole_book_s_name() -> None:
    book = load_demo_book()
    cut = cut_book(book, pd.Index(["A13_KILO_MGN", "A14_LIMA_FIN"]))
    assert cut.accounts["account_id"].tolist() == ["A13_KILO_MGN", "A14_LIMA_FIN"]
    assert cut.collateral["lot_id"].tolist() == ["L22", "L23", "L24"]
    assert cut.positions["instrument_id"].tolist() == ["ABC"]
    assert cut.instruments["instrument_id"].tolist() == ["ABC"]
    # owners and carrier, and every party a relation names (firms and clearing organizations)
    parties = ["BD1", "BDF1", "CME", "FCM1", "FICC", "KILO", "LIMA", "OCC"]
    assert cut.parties["party_id"].tolist() == parties
    assert (cut.sha256, cut.name) == (book.sha256, book.name)


def _planted(demo: Frames) -> list[Frames]:
    """Each change the tests above plant, and a few more (a removed position, a new account)."""
    accounts = demo["accounts"]
    new_account = accounts.iloc[[0]].assign(account_id="A99_NEW")
    return [
        demo,
        _set(demo, "positions", ("account_id", "A04_DELTA_PM"), "quantity", 10_001.0),
        _set(demo, "instruments", ("instrument_id", "UST_2035_08"), "price", 99.0),
        _set(demo, "instruments", ("instrument_id", "SPY"), "price", 601.0),
        _set(demo, "collateral", ("lot_id", "L22"), "market_value", 1.0),
        _set(demo, "accounts", ("account_id", "A07_ECHO_SEC"), "owner_id", "FOX"),
        _set(demo, "parties", ("party_id", "FCM1"), "ecp", False),
        _set(demo, "parties", ("party_id", "CME"), "kind", "clearing_agency"),
        demo | {"positions": pd.concat([demo["positions"], demo["positions"].iloc[[7]]])},
        demo | {"positions": demo["positions"].drop(index=3)},
        demo | {"accounts": pd.concat([accounts, new_account], ignore_index=True)},
        _set(demo, "relations", ("src", "LIMA"), "relation", "member_of"),
    ]


def test_the_stored_digests_decide_what_the_two_whole_books_decide(demo: Frames) -> None:
    before = book_digest(demo, "USD")
    for after in _planted(demo):
        stored = BookDigest.from_bytes(book_digest(after, "USD").to_bytes())  # as read back
        by_digest = by_digests(before, stored, after)
        by_books = accounts_to_decide(demo, after)
        if by_books is None:
            assert by_digest is None
        else:
            assert _sorted(by_digest) == _sorted(by_books)
    assert _sorted(by_digests(before, before, demo)) == []
    assert by_digests(before, book_digest(demo, "EUR"), demo) is None  # another currency


def test_a_digest_sums_a_key_s_rows_whatever_their_order(demo: Frames) -> None:
    def keys(frames: Frames) -> pd.DataFrame:
        found = book_digest(frames, "USD").keys
        return found.sort_values(["kind", "key"], ignore_index=True)

    assert keys(demo | {"positions": demo["positions"].iloc[::-1]}).equals(keys(demo))
    a04 = (
        book_digest(demo, "USD").keys.set_index(["kind", "key"]).loc[("positions", "A04_DELTA_PM")]
    )
    held = demo["positions"]["account_id"] == "A04_DELTA_PM"
    assert a04["n"] == held.sum()
    assert a04["h1"] == row_hashes(demo["positions"])[held.to_numpy()].sum(dtype="uint64")


def test_a_stock_lot_s_account_is_decided_again_when_its_stock_s_price_moves(
    demo: Frames,
) -> None:
    # L25 (A15_MIKE_MGN, which holds no position) as a lot of XYZ stock: a lot naming its
    # stock covers a short call on it, so XYZ's price marks the lot's account, as it marks
    # XYZ's holders A01, A02, A11 and A16 (by the stored digests and by the whole books alike).
    morning = _set(demo, "collateral", ("lot_id", "L25"), "asset", "STOCK")
    morning = _set(morning, "collateral", ("lot_id", "L25"), "instrument_id", "XYZ")
    noon = _set(morning, "instruments", ("instrument_id", "XYZ"), "price", 101.0)
    holders = ["A01_ALICE_PM", "A02_BOB_PM", "A11_INDIA_PM", "A15_MIKE_MGN", "A16_NOVA_CASH"]
    assert _sorted(changed_accounts(morning, noon)) == holders
    whole = _sorted(accounts_to_decide(morning, noon))  # with their components
    assert "A15_MIKE_MGN" in whole
    stored = BookDigest.from_bytes(book_digest(morning, "USD").to_bytes())
    assert _sorted(by_digests(stored, book_digest(noon, "USD"), noon)) == whole


def test_a_collateral_column_no_lot_sets_leaves_the_digest_as_before_it_existed(
    demo: Frames,
) -> None:
    # A run recorded before collateral had instrument_id stored the digest of the book
    # without it: today's digest of the same book must be that one, byte for byte, or a
    # --since of that run would decide every account again (the digests' columns differ).
    before_column = demo | {"collateral": demo["collateral"].drop(columns="instrument_id")}
    assert book_digest(demo, "USD").to_bytes() == book_digest(before_column, "USD").to_bytes()
    earlier = book_digest(before_column, "USD")
    assert _sorted(by_digests(earlier, book_digest(demo, "USD"), demo)) == []
    lot = _set(demo, "collateral", ("lot_id", "L25"), "instrument_id", "XYZ")
    assert by_digests(book_digest(demo, "USD"), book_digest(lot, "USD"), lot) is None  # set: read
