"""The engine's per-margin-set input hash (what ``run --since`` compares)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from marginlex.engine.book.load import Book, load_book, write_book
from marginlex.engine.graph.components import components_of
from marginlex.engine.graph.set_inputs import (
    _LANE,
    BookRows,
    _mix,
    _rows,
    set_input_hashes,
)
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


def test_a_changed_account_changes_the_sets_of_its_owners_accounts_at_its_carrier(
    synth: tuple[object, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    """`account.owner_regimes` reads the owner's other accounts at the carrier: an account
    edited (here its agreements) re-decides every set holding one of them, though no lot or
    relation joins them."""
    _, frames = synth
    book = _load(synth, tmp_path / "a")
    sets = run_rulebook("sec", book).frames["sets"]
    accounts = frames["accounts"].copy()
    pair = ["owner_id", "carrier_id"]
    in_sets = accounts[accounts["account_id"].isin(sets["account_id"])]
    shared = in_sets[in_sets.duplicated(pair, keep=False)].sort_values("account_id")
    edited = shared.iloc[0]
    siblings = accounts.loc[
        (accounts["owner_id"] == edited["owner_id"])
        & (accounts["carrier_id"] == edited["carrier_id"]),
        "account_id",
    ]
    expected = set(sets.loc[sets["account_id"].isin(siblings), "margin_set_id"])
    assert len(expected) > 1, "two sets of one owner at one carrier"
    accounts.loc[accounts["account_id"] == edited["account_id"], "agreements"] = "cross_margin"
    after = _load(synth, tmp_path / "b", accounts=accounts)
    assert _changed(_hashes(book), _hashes(after)) >= expected


def _reference(frames: dict[str, pd.DataFrame], set_ids: pd.Series, book: Book) -> pd.Series:
    """The hash as first written: each table joined to the sets by pandas merges on ids."""
    sets = pd.Index(set_ids.astype("str").to_numpy())
    codes, hashes = [np.arange(len(sets))], [_rows(pd.DataFrame({"id": sets}), "margin_set")]

    def code_of(ids: pd.Series) -> np.ndarray:
        return np.asarray(sets.get_indexer(pd.Index(ids.astype("str"))), dtype=np.int64)

    def joined(left: pd.DataFrame, right: pd.DataFrame, on: list[str]) -> None:
        both = left.merge(right, on=on)
        codes.append(both["code"].to_numpy(np.int64))
        hashes.append(both["_h"].to_numpy(np.uint64))

    members = frames["sets"][["margin_set_id", "account_id"]].astype("str").drop_duplicates()
    members = members.assign(code=code_of(members["margin_set_id"]))
    owners = members.merge(book.accounts.astype({"account_id": "str"}), on="account_id")
    entities = pd.concat(
        [members[["account_id", "code"]].rename(columns={"account_id": "entity"})]
        + [
            owners[[c, "code"]].rename(columns={c: "entity"}).dropna().astype({"entity": "str"})
            for c in ("owner_id", "carrier_id")
        ],
        ignore_index=True,
    ).drop_duplicates()
    for table, key in (
        ("accounts", "account_id"),
        ("parties", "party_id"),
        ("relations", "src"),
        ("relations", "dst"),
    ):
        frame = getattr(book, table)
        right = (
            frame[[key]]
            .astype("str")
            .assign(_h=_rows(frame, table))
            .rename(columns={key: "entity"})
        )
        joined(entities, right, ["entity"])
    # every account of the same owner at the same carrier (account.owner_regimes): their
    # rows' mixed hashes summed per owner and carrier, once per set
    pair = ["owner_id", "carrier_id"]
    per_pair = owners[["code", *pair]].astype({c: "str" for c in pair}).drop_duplicates()
    accounts = book.accounts[pair].astype("str")
    accounts["_h"] = _mix(_rows(book.accounts, "accounts"), _LANE)
    summed = accounts.groupby(pair, as_index=False)["_h"].agg(
        lambda h: np.add.reduce(h.to_numpy(np.uint64), dtype=np.uint64)
    )
    joined(per_pair, summed, pair)
    held = frames["positions"][["margin_set_id", "account_id", "instrument_id"]].astype("str")
    held = held.assign(code=code_of(held["margin_set_id"]))
    positions = book.positions[["account_id", "instrument_id"]].astype("str")
    joined(
        held,
        positions.assign(_h=_rows(book.positions, "positions")),
        ["account_id", "instrument_id"],
    )
    instruments = book.instruments.astype({"instrument_id": "str"})
    by_id = pd.DataFrame(
        {
            "instrument_id": instruments["instrument_id"],
            "_h": _rows(book.instruments, "instruments"),
        }
    )
    joined(held, by_id, ["instrument_id"])
    under = instruments[["instrument_id", "underlying"]].dropna().astype("str")
    joined(
        held.merge(under, on="instrument_id")
        .drop(columns="instrument_id")
        .rename(columns={"underlying": "instrument_id"}),
        by_id,
        ["instrument_id"],
    )
    lots = frames["lots"][["margin_set_id", "lot_id", "asset"]].astype("str")
    lots = lots.assign(code=code_of(lots["margin_set_id"]))
    collateral = book.collateral[["lot_id"]].astype("str")
    joined(lots, collateral.assign(_h=_rows(book.collateral, "collateral")), ["lot_id"])
    joined(lots.rename(columns={"asset": "instrument_id"}), by_id, ["instrument_id"])
    component = _components_by_account(book)
    labels = pd.Series(
        components_of(book.accounts, book.collateral, book.relations, by_owner=False),
        index=book.accounts["account_id"].astype("str"),
    )
    per_set = members.assign(comp=labels.reindex(members["account_id"]).to_numpy())
    per_set = per_set.dropna(subset=["comp"]).drop_duplicates(["code", "comp"])
    codes.append(per_set["code"].to_numpy(np.int64))
    hashes.append(component.reindex(per_set["account_id"]).to_numpy(np.uint64))
    code, hashed = np.concatenate(codes), np.concatenate(hashes)
    keep = code >= 0
    frame = pd.DataFrame({"code": code[keep], "h": hashed[keep]})
    lanes = [
        frame.assign(m=_mix(frame["h"].to_numpy(np.uint64), lane)).groupby("code")["m"].sum()
        for lane in (_LANE, ~_LANE)
    ]
    digest = np.stack([lane.to_numpy(np.uint64) for lane in lanes], axis=1).astype(">u8")
    text = [bytes(row).hex() for row in digest.view(np.uint8).reshape(len(digest), 16)]
    return pd.Series(text, index=sets[lanes[0].index.to_numpy()], name="inputs_sha256")


def _components_by_account(book: Book) -> pd.Series:
    """Each account's collateral component hash, by plain merges: the rows of the
    component's accounts (joined by pledged lots and relations between accounts), their
    owners and carriers, the relations touching those (per end matched) with the rows at
    both ends, every position of the accounts with its instrument and underlying, every lot
    held (else received) with its asset's instrument."""
    acc = book.accounts.astype({"account_id": "str"})
    label = pd.Series(
        components_of(acc, book.collateral, book.relations, by_owner=False),
        index=acc["account_id"],
    )
    rows: list[pd.DataFrame] = []

    def add(comp: object, h: object) -> None:
        rows.append(pd.DataFrame({"comp": np.asarray(comp), "h": np.asarray(h, np.uint64)}))

    parties = pd.DataFrame(
        {"entity": book.parties["party_id"].astype("str"), "_h": _rows(book.parties, "parties")}
    )
    comp = label.to_numpy()
    add(comp, _rows(book.accounts, "accounts"))
    for column in ("owner_id", "carrier_id"):
        mine = pd.DataFrame({"comp": comp, "entity": acc[column].astype("str")})
        hit = mine.merge(parties, on="entity")
        add(hit["comp"], hit["_h"])
    # relations touching its accounts, owners and carriers, with the rows at both ends
    every = pd.concat(
        [
            pd.DataFrame({"entity": acc["account_id"], "_h": _rows(book.accounts, "accounts")}),
            parties,
        ]
    )
    entities = pd.concat(
        [pd.DataFrame({"comp": comp, "entity": acc["account_id"]})]
        + [
            pd.DataFrame({"comp": comp, "entity": acc[c].astype("str")})
            for c in ("owner_id", "carrier_id")
        ]
    )
    rel = book.relations.astype({"src": "str", "dst": "str"})
    rel = rel.assign(_h=_rows(book.relations, "relations"))
    for end in ("src", "dst"):
        hit = entities.merge(rel, left_on="entity", right_on=end)
        add(hit["comp"], hit["_h"])
        for far in ("src", "dst"):
            ends = hit[["comp", far]].rename(columns={far: "entity"}).merge(every, on="entity")
            add(ends["comp"], ends["_h"])
    inst = pd.DataFrame(
        {
            "instrument_id": book.instruments["instrument_id"].astype("str"),
            "_h": _rows(book.instruments, "instruments"),
        }
    )
    # every position of its accounts, with its instrument and underlying
    pos = book.positions.astype({"account_id": "str", "instrument_id": "str"})
    pos = pos.assign(
        _h=_rows(book.positions, "positions"), comp=label.reindex(pos["account_id"]).to_numpy()
    )
    pos = pos[pos["comp"].notna()]
    add(pos["comp"], pos["_h"])
    on_inst = pos[["comp", "instrument_id"]].merge(inst, on="instrument_id")
    add(on_inst["comp"], on_inst["_h"])
    under = book.instruments[["instrument_id", "underlying"]].dropna().astype("str")
    on_under = (
        pos[["comp", "instrument_id"]]
        .merge(under, on="instrument_id")[["comp", "underlying"]]
        .rename(columns={"underlying": "instrument_id"})
        .merge(inst, on="instrument_id")
    )
    add(on_under["comp"], on_under["_h"])
    lots = book.collateral.assign(_h=_rows(book.collateral, "collateral"))
    holder = label.reindex(lots["account_id"].astype("str")).to_numpy()
    pledgee = label.reindex(lots["pledged_to"].astype("str")).to_numpy()
    lots = lots.assign(comp=np.where(pd.notna(holder), holder, pledgee))
    lots = lots[lots["comp"].notna()]
    add(lots["comp"], lots["_h"])
    assets = lots[["comp", "asset"]].astype({"asset": "str"})
    on_asset = assets.rename(columns={"asset": "instrument_id"}).merge(inst, on="instrument_id")
    add(on_asset["comp"], on_asset["_h"])
    every = pd.concat(rows, ignore_index=True).astype({"comp": np.int64})
    summed = every.assign(m=_mix(every["h"].to_numpy(np.uint64), _LANE)).groupby("comp")["m"].sum()
    return pd.Series(summed.reindex(label.to_numpy()).to_numpy(np.uint64), index=label.index)


@pytest.mark.parametrize(
    ("accounts", "seed", "rulebook"), [(60, 1, "sec"), (150, 2, "cftc"), (150, 3, "harmonized")]
)
def test_the_hashes_are_those_of_plain_joins_on_synthetic_books(
    accounts: int, seed: int, rulebook: str, tmp_path: Path
) -> None:
    """Codes and sorted searches give what merging every table on its ids gives, and one
    set of book rows serves every rulebook."""
    meta, frames = synth_book(accounts, seed)
    book = load_book(write_book(meta, frames, tmp_path))
    rows = BookRows(book)
    for name in (rulebook, "sec"):
        ev = run_rulebook(name, book)
        got = set_input_hashes(ev.frames, ev.decisions["margin_set_id"], book, rows)
        assert got.equals(_reference(ev.frames, ev.decisions["margin_set_id"], book))


def test_a_repeated_position_row_counts_for_its_set(
    synth: tuple[object, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    """Two rows for one (account, instrument) are both inputs: the set holding them changes
    when the second is added, and no other set does."""
    _, frames = synth
    positions = frames["positions"]
    twice = positions.iloc[[0]]
    book = _load(synth, tmp_path / "a")
    after = _load(synth, tmp_path / "b", positions=pd.concat([positions, twice]))
    ev = run_rulebook("sec", after)
    sets = ev.frames["positions"]
    holding = set(sets.loc[sets["account_id"] == twice["account_id"].iloc[0], "margin_set_id"])
    assert _changed(_hashes(book), _hashes(after)) == holding
    got = set_input_hashes(ev.frames, ev.decisions["margin_set_id"], after)
    assert got.equals(_reference(ev.frames, ev.decisions["margin_set_id"], after))


def test_a_collateral_column_no_lot_sets_leaves_the_hashes_as_before_it_existed(
    synth: tuple[object, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    """``collateral.instrument_id`` came after the input hash: a book whose lots name no
    instrument hashes as it did without the column (a ledger recorded before replays with
    the same input hashes, and ``run --since`` carries its sets); once a lot names one,
    every lot hashes with the column."""
    book = _load(synth, tmp_path / "a")
    assert "instrument_id" in book.collateral.columns
    assert book.collateral["instrument_id"].isna().all()
    before = book.model_copy(update={"collateral": book.collateral.drop(columns="instrument_id")})
    assert (
        _rows(book.collateral, "collateral").tolist()
        == _rows(before.collateral, "collateral").tolist()
    )
    named = book.collateral.copy()
    named.loc[named.index[0], "instrument_id"] = "XYZ"
    assert (_rows(named, "collateral") != _rows(book.collateral, "collateral")).sum() == len(named)
