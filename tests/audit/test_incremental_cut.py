"""``run --since`` evaluates only the cut of the book that changed (issue 16 part 2), and
records what a full run of the same book records: on synthetic books of two seeds, one
price is changed; the book is recorded in full and with ``--since`` the morning run, in one
ledger; exactly the sets holding that instrument are re-decided, their entries (traces
byte for byte) are the full run's, the carried ones carry the full run's decisions, and
the entries come in the full run's order."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from _reach import reading
from sqlalchemy import select

from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.carry import load_since
from marginlex.audit.ledger.record import RunRecorder
from marginlex.audit.ledger.store import Ledger
from marginlex.engine.book.load import Book, load_book, write_book
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.run import resolve_rulebook, run_rulebook
from marginlex.engine.synth.generate import synth_book

ACCOUNTS = 150
RULEBOOKS = ("sec", "cftc", "harmonized")
SAME = ("decision_id", "account_ids", "status", "call", "requirement", "inputs_sha256")
DECIDED = (*SAME, "trace_sha256", "trace_z")


def _record(book: Book, ledger: str, since: str | None = None) -> tuple[str, list[int]]:
    """Record a run; its id and the number of margin sets each rulebook evaluated."""
    earlier = load_since(ledger, since) if since else None
    evaluated = []
    with RunRecorder(book, since=earlier, workers=1) as recorder:
        for name in RULEBOOKS:
            rulebook = resolve_rulebook(name)
            part = recorder.book_for(rulebook)
            ev = run_rulebook(rulebook, part, graph=AccountGraph(part))
            evaluated.append(len(ev.decisions))
            recorder.add(ev, rulebook)
        return recorder.record(ledger).run_id, evaluated


def _entries(ledger: str, run_id: str) -> pd.DataFrame:
    """A run's entries in chain order."""
    query = select(t.decisions).where(t.decisions.c.run_id == run_id).order_by(t.decisions.c.seq)
    store = Ledger.open(ledger, create=False)
    try:
        with store.engine.connect() as conn:
            return pd.DataFrame(conn.execute(query).mappings().all())
    finally:
        store.close()


def _holding(book: Book, instrument: str) -> set[tuple[str, str]]:
    """The (rulebook, set) pairs reading ``instrument`` (:func:`_reach.reading`)."""
    found = set()
    for name in RULEBOOKS:
        found |= {(name, s) for s in reading(book, run_rulebook(name, book), instrument)}
    return found


def _least_held_underlying(frames: dict[str, pd.DataFrame]) -> str:
    ins, pos = frames["instruments"], frames["positions"]
    underlyings = set(ins["underlying"].dropna()) & set(pos["instrument_id"])
    counts = pos[pos["instrument_id"].isin(underlyings)]["instrument_id"].value_counts()
    return str(counts.sort_index(kind="stable").sort_values(kind="stable").index[0])


def _drop_digests(ledger: str) -> None:
    """Make the ledger one whose books were recorded before digests (revision 0007)."""
    with sqlite3.connect(ledger) as conn:
        conn.execute("DELETE FROM book_digests")


@pytest.mark.parametrize(("seed", "digests"), [(3, True), (11, False)])
def test_since_records_what_a_full_run_records_evaluating_only_the_cut(
    seed: int, digests: bool, tmp_path: Path
) -> None:
    meta, frames = synth_book(ACCOUNTS, seed)
    morning = load_book(write_book(meta, frames, tmp_path / "morning"))
    stock = _least_held_underlying(frames)
    moved = frames["instruments"].copy()
    moved.loc[moved["instrument_id"] == stock, "price"] *= 1.05
    noon = load_book(write_book(meta, frames | {"instruments": moved}, tmp_path / "noon"))
    ledger = str(tmp_path / "l.db")
    first, _ = _record(morning, ledger)
    full_id, everything = _record(noon, ledger)
    if not digests:  # an old ledger: the two books are compared row by row
        _drop_digests(ledger)
    earlier = load_since(ledger, first)
    assert (earlier.digest is not None, earlier.book is None) == (digests, digests)
    since_id, evaluated = _record(noon, ledger, since=first)
    assert load_since(ledger, since_id).digest is not None  # stored for the next --since
    full, since = _entries(ledger, full_id), _entries(ledger, since_id)

    # the same decisions, in the same order: a single-process run's
    keys = ["rulebook_id", "margin_set_id"]
    assert since[keys].to_numpy().tolist() == full[keys].to_numpy().tolist()
    anew = since["carried_from"].isna().to_numpy()
    pairs = set(map(tuple, since.loc[anew, keys].to_numpy().tolist()))
    expected = _holding(noon, stock)
    assert expected and pairs == expected  # exactly the sets holding the stock
    assert sum(evaluated) < sum(everything)  # the cut, not the whole book, was evaluated
    for column in DECIDED:  # re-decided: the full run's entries, traces byte for byte
        assert since.loc[anew, column].tolist() == full.loc[anew, column].tolist(), column
    for column in SAME[1:]:  # carried: the full run's decision and input hash
        assert since.loc[~anew, column].tolist() == full.loc[~anew, column].tolist(), column
    store = Ledger.open(ledger, create=False)
    try:
        runs = {r.record.run_id: r.record for r in store.runs()}
    finally:
        store.close()
    assert runs[since_id].out_of_scope == runs[full_id].out_of_scope
