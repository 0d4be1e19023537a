"""``run --since`` decides what a full run of the same book decides when the change lies
outside a set's own rows but inside what its decision reads (found by an independent
reviewer, session 24): the account a lot is pledged to, a ``rehypothecated_to`` relation
further along, a position another set margins (it moves the account's equity), and a
party reached at the far end of a relation (``carrier member_of dco``), and (session 25)
another account of the owner at the same carrier (``account.owner_regimes``). Each case records
a synthetic book, records the changed book with ``--since`` and in full in a fresh ledger,
and compares every decision and its input hash."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from _since_runs import recorded, run_decisions
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.engine.book.load import write_book
from marginlex.engine.synth.generate import synth_book

Frames = dict[str, pd.DataFrame]


def _pledgee_becomes_house(frames: Frames) -> Frames:
    """The account a customer's lot is pledged to turns into a house account: the lot now
    reaches a house account (a segregation breach of the pledging set)."""
    lots, acc = frames["collateral"], frames["accounts"]
    customers = set(acc.loc[acc["origin"] == "customer", "account_id"])
    pledged = lots[lots["pledged_to"].isin(customers) & lots["account_id"].isin(customers)]
    target = pledged["pledged_to"].iloc[0]
    return frames | {
        "accounts": acc.assign(origin=acc["origin"].mask(acc["account_id"] == target, "house"))
    }


def _rehypothecated_on(frames: Frames) -> Frames:
    """The account a customer's lot is pledged to passes it on to a house account."""
    lots, acc = frames["collateral"], frames["accounts"]
    target = lots.loc[lots["pledged_to"].notna(), "pledged_to"].iloc[0]
    house = acc.loc[acc["origin"] == "house", "account_id"].iloc[0]
    row = pd.DataFrame({"src": [target], "dst": [house], "relation": ["rehypothecated_to"]})
    return frames | {"relations": pd.concat([frames["relations"], row], ignore_index=True)}


def _treasury_flipped(frames: Frames) -> Frames:
    """A000107's cash Treasury (margined in its CFTC cross-margin set, so not among its SEC
    set's positions) changes sign: the SEC set's eligibility reads the account's equity,
    which counts it (the reviewer's case: synth 120 accounts, seed 7)."""
    pos = frames["positions"]
    row = (pos["account_id"] == "A000107") & (pos["instrument_id"] == "UST_B20Y_204606")
    assert row.sum() == 1
    return frames | {"positions": pos.assign(quantity=pos["quantity"].mask(row, -pos["quantity"]))}


def _clearing_house_kind(frames: Frames) -> Frames:
    """CME's kind changes (a rule reading ``carrier member_of dco`` sees it)."""
    parties = frames["parties"]
    kind = parties["kind"].mask(parties["party_id"] == "CME", "clearing_agency")
    return frames | {"parties": parties.assign(kind=kind)}


def _with_owner_pair(frames: Frames) -> Frames:
    """An ECP with a futures account (both agreements, a dual registrant) and a securities
    margin account without agreements at the same carrier: the futures account passes the
    harmonized `securities_leg` (its owner holds a securities account there) though nothing
    merges it. No lot or relation joins the two accounts."""
    party = pd.DataFrame(
        {
            "party_id": ["OWN1"],
            "name": ["Owner One"],
            "kind": ["institution"],
            "ecp": [True],
            "options_approval": ["none"],
        }
    )
    accounts = pd.DataFrame(
        {
            "account_id": ["OWN1_FUT", "OWN1_SEC"],
            "owner_id": ["OWN1", "OWN1"],
            "carrier_id": ["F001", "F001"],
            "regime": ["CFTC", "SEC"],
            "kind": ["futures", "margin"],
            "origin": ["customer", "customer"],
            "agreements": ["cross_margin;subordination", "cross_margin;subordination"],
        }
    )
    position = pd.DataFrame({"account_id": ["OWN1_FUT"], "instrument_id": ["ES_2609"]})
    lots = pd.DataFrame(
        {"lot_id": ["OWN1_L1", "OWN1_L2"], "account_id": ["OWN1_FUT", "OWN1_SEC"]}
    ).assign(asset="USD", market_value=[50_000.0, 1_000.0])
    return frames | {
        "parties": pd.concat([frames["parties"], party], ignore_index=True),
        "accounts": pd.concat([frames["accounts"], accounts], ignore_index=True),
        "positions": pd.concat(
            [frames["positions"], position.assign(quantity=1.0)], ignore_index=True
        ),
        "collateral": pd.concat([frames["collateral"], lots], ignore_index=True),
    }


def _owners_other_account(frames: Frames) -> Frames:
    """The owner's securities account becomes a futures account: `account.owner_regimes` of
    the futures account loses SEC, which sends it back from the grid to SPAN."""
    acc = frames["accounts"]
    mine = acc["account_id"] == "OWN1_SEC"
    return frames | {
        "accounts": acc.assign(
            regime=acc["regime"].mask(mine, "CFTC"), kind=acc["kind"].mask(mine, "futures")
        )
    }


def _owners_account_becomes_cash(frames: Frames) -> Frames:
    """The owner's securities account becomes a cash account: refused on `no_cash_account`,
    it merges with nothing, so the futures account's `account.merged_regimes` loses SEC and
    it goes back from the merged set on the grid to SPAN (decision 24)."""
    acc = frames["accounts"]
    mine = acc["account_id"] == "OWN1_SEC"
    return frames | {"accounts": acc.assign(kind=acc["kind"].mask(mine, "cash"))}


CASES: dict[str, Callable[[Frames], Frames]] = {
    "pledgee": _pledgee_becomes_house,
    "rehypothecation": _rehypothecated_on,
    "treasury": _treasury_flipped,
    "clearing house": _clearing_house_kind,
    "owner's other account": _owners_other_account,
    "owner's account becomes cash": _owners_account_becomes_cash,
}


@pytest.mark.parametrize("case", list(CASES))
def test_since_decides_what_a_full_run_decides(case: str, tmp_path: Path) -> None:
    meta, frames = synth_book(*((120, 7) if case == "treasury" else (300, 11)))
    if case.startswith("owner's"):
        frames = _with_owner_pair(frames)
    base = write_book(meta, frames, tmp_path / "base")
    changed = write_book(meta, CASES[case](frames), tmp_path / "changed")
    rulebooks: tuple[str, ...] = ("--rulebook", "sec", "--rulebook", "harmonized")
    if case == "clearing house":  # a rulebook that names CME by its kind
        text = (Path(__file__).parents[2] / "rulebooks" / "cftc.mlx").read_text()
        assert 'carrier member_of "CME"' in text
        own = text.replace('carrier member_of "CME"', "carrier member_of dco")
        own = own.replace('rulebook cftc "', 'rulebook cftcx "', 1)
        (tmp_path / "cftcx.mlx").write_text(own)
        rulebooks = ("--rulebook", str(tmp_path / "cftcx.mlx"))
    first = recorded(base, tmp_path / "l.db", *rulebooks)
    since = recorded(changed, tmp_path / "l.db", *rulebooks, "--since", first)
    full = recorded(changed, tmp_path / "full.db", *rulebooks)
    got, want = run_decisions(tmp_path / "l.db", since), run_decisions(tmp_path / "full.db", full)
    pd.testing.assert_frame_equal(got, want)
    if case.startswith("owner's"):  # merged on the grid before, alone on SPAN after
        before = run_decisions(tmp_path / "l.db", first)
        for frame, ids in ((before, '["OWN1_FUT","OWN1_SEC"]'), (got, '["OWN1_FUT"]')):
            mine = frame[
                (frame["rulebook_id"] == "harmonized")
                & frame["account_ids"].str.contains("OWN1_FUT")
            ]
            assert mine["account_ids"].tolist() == [ids]
        # SPAN alone: long 1 ES_2609 at the synthetic book's scan range 6% x 300,000 = 18,000
        # (merged on the grid it was -8% x 300,000 = 24,000; alone on it, the old gap, 24,000)
        assert mine["requirement"].astype(float).tolist() == [18_000.0]
    assert (
        CliRunner()
        .invoke(app, ["verify", "--replay", "--ledger", str(tmp_path / "l.db")])
        .exit_code
        == 0
    )
