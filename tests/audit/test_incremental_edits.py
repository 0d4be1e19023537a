"""``run --since`` decides what a full run of the same book decides, whatever one cell of the
book a user edits: each case draws one edit of its kind at random (a fixed seed) on a
synthetic book, records the book, records the edited book with ``--since`` and in full in a
fresh ledger, and compares every decision. The cases of ``test_incremental_reach.py`` were
chosen by hand for what a decision reads beyond its own rows; these are drawn, one per column
kind of every table, so that a column nobody thought of is tried too. One draw per kind runs
by default; ``MARGINLEX_SINCE_DRAWS=N`` runs N per kind (a draw of edits of these kinds on 185
books of 120 and 200 accounts found no difference; docs/running.md, incremental runs)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _since_runs import recorded, run_decisions
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.engine.book.load import write_book
from marginlex.engine.synth.generate import synth_book

Frames = dict[str, pd.DataFrame]
Edit = Callable[[np.random.Generator, Frames], str]


def _row(rng: np.random.Generator, frame: pd.DataFrame, where: pd.Series | None = None) -> int:
    """The label of a row drawn from ``frame`` (among the rows ``where`` marks)."""
    labels = frame.index if where is None else frame.index[where.to_numpy()]
    return int(labels[rng.integers(len(labels))])


def _other(rng: np.random.Generator, column: pd.Series, now: object) -> object:
    """A value the column holds elsewhere, other than ``now``."""
    values = [v for v in column.dropna().unique().tolist() if v != now]
    return values[rng.integers(len(values))]


def _instrument_figure(rng: np.random.Generator, f: Frames) -> str:
    ins = f["instruments"]
    held = ins["instrument_id"].isin(f["positions"]["instrument_id"])
    column = str(rng.choice(["price", "implied_vol", "dv01", "multiplier", "scan_range"]))
    r = _row(rng, ins, held & ins[column].notna())
    ins.loc[r, column] = ins.loc[r, column] * float(rng.choice([0.5, 1.1, 3.0]))
    return f"{column} of {ins.loc[r, 'instrument_id']}"


def _instrument_name(rng: np.random.Generator, f: Frames) -> str:
    ins = f["instruments"]
    held = ins["instrument_id"].isin(f["positions"]["instrument_id"])
    column = str(rng.choice(["class_group", "index_class", "underlying"]))
    r = _row(rng, ins, held & ins[column].notna())
    ins.loc[r, column] = _other(rng, ins[column], ins.loc[r, column])
    return f"{column} of {ins.loc[r, 'instrument_id']}"


def _maturity(rng: np.random.Generator, f: Frames) -> str:
    table = str(rng.choice(["instruments", "collateral"]))
    frame = f[table]
    where = frame["maturity"].notna()
    if table == "instruments":  # one a position holds (a lot always has its account)
        where &= frame["instrument_id"].isin(f["positions"]["instrument_id"])
    r = _row(rng, frame, where)
    days = int(rng.choice([-400, -30, 30, 400]))
    frame.loc[r, "maturity"] = frame.loc[r, "maturity"] + pd.Timedelta(days=days)
    return f"maturity of a {table} row by {days} days"


def _position(rng: np.random.Generator, f: Frames) -> str:
    pos = f["positions"]
    r = _row(rng, pos)
    if rng.random() < 0.5:
        f["positions"] = pos.drop(r).reset_index(drop=True)
        return "a position removed"
    pos.loc[r, "quantity"] = -pos.loc[r, "quantity"]
    return "a position's sign"


def _lot(rng: np.random.Generator, f: Frames) -> str:
    lots = f["collateral"]
    r = _row(rng, lots)
    if rng.random() < 0.5:
        lots.loc[r, "market_value"] = lots.loc[r, "market_value"] * 10
        return "a lot's market value"
    lots.loc[r, "pledged_to"] = str(_other(rng, f["accounts"]["account_id"], None))
    return "a lot pledged to another account"


def _account(rng: np.random.Generator, f: Frames) -> str:
    acc = f["accounts"]
    column = str(rng.choice(["owner_id", "carrier_id", "regime", "kind", "origin", "agreements"]))
    r = _row(rng, acc)
    acc.loc[r, column] = _other(rng, acc[column], acc.loc[r, column])
    return f"{column} of {acc.loc[r, 'account_id']}"


def _party(rng: np.random.Generator, f: Frames) -> str:
    parties = f["parties"]
    r = _row(rng, parties)
    if rng.random() < 0.5:
        parties.loc[r, "ecp"] = not bool(parties.loc[r, "ecp"])
        return "a party's eligibility as an ECP"
    now = parties.loc[r, "options_approval"]
    parties.loc[r, "options_approval"] = _other(rng, parties["options_approval"], now)
    return "a party's options approval"


def _relation(rng: np.random.Generator, f: Frames) -> str:
    """A relation removed, or one added like another with one end moved to an entity of
    the same sort (an account for an account, a party of the same kind for a party)."""
    rel = f["relations"]
    r = _row(rng, rel)
    if rng.random() < 0.5:
        f["relations"] = rel.drop(r).reset_index(drop=True)
        return "a relation removed"
    row = rel.loc[[r]].copy()
    end = str(rng.choice(["src", "dst"]))
    now = row.iloc[0][end]
    accounts, parties = f["accounts"], f["parties"]
    if now in set(accounts["account_id"]):
        pool = accounts["account_id"]
    else:
        kind = parties.loc[parties["party_id"] == now, "kind"].iloc[0]
        pool = parties.loc[parties["kind"] == kind, "party_id"]
    row[end] = _other(rng, pool, now)
    f["relations"] = pd.concat([rel, row], ignore_index=True)
    return "a relation added"


EDITS: dict[str, Edit] = {
    "instrument figure": _instrument_figure,
    "instrument name": _instrument_name,
    "maturity": _maturity,
    "position": _position,
    "lot": _lot,
    "account": _account,
    "party": _party,
    "relation": _relation,
}


DRAWS = int(os.environ.get("MARGINLEX_SINCE_DRAWS", "1"))
CASES = [(k, i + 3 + 100 * draw) for draw in range(DRAWS) for i, k in enumerate(EDITS)]


@pytest.mark.parametrize(("kind", "seed"), CASES)
def test_since_decides_what_a_full_run_decides_after_any_one_edit(
    kind: str, seed: int, tmp_path: Path
) -> None:
    meta, frames = synth_book(120, seed)
    rng = np.random.default_rng(seed)
    edited = {name: frame.copy() for name, frame in frames.items()}
    what = EDITS[kind](rng, edited)
    base = write_book(meta, frames, tmp_path / "base")
    changed = write_book(meta, edited, tmp_path / "changed")
    valid = CliRunner().invoke(app, ["validate", str(changed)])
    if valid.exit_code != 0:  # a drawn edit the book format refuses (more draws than one)
        assert seed < 100, valid.output  # the default draws are all valid books
        pytest.skip(f"{what}: the edited book is not valid")
    first = recorded(base, tmp_path / "l.db")
    since = recorded(changed, tmp_path / "l.db", "--since", first)
    full = recorded(changed, tmp_path / "full.db")
    got, want = run_decisions(tmp_path / "l.db", since), run_decisions(tmp_path / "full.db", full)
    pd.testing.assert_frame_equal(got, want, obj=what)
    before = run_decisions(tmp_path / "l.db", first).set_index(["rulebook_id", "margin_set_id"])
    after = got.set_index(["rulebook_id", "margin_set_id"])
    moved = before["inputs_sha256"].reindex(after.index) != after["inputs_sha256"]
    assert moved.any(), f"{what}: no set's inputs changed, so nothing was tried"
