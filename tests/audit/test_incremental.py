"""``marginlex run BOOK --ledger L --since RUN`` (issue 16 part 2): only the margin sets whose
inputs changed are decided anew; the others are recorded as references to their earlier
decisions, which verify checks and explain follows."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from _reach import reading
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner, Result

from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.carry import load_since
from marginlex.audit.ledger.decision_keys import backfill
from marginlex.audit.ledger.record import RunRecorder
from marginlex.audit.ledger.run_summaries import read_summary
from marginlex.audit.ledger.store import Ledger
from marginlex.cli import app
from marginlex.console.app import create_app
from marginlex.console.security import LOOPBACK
from marginlex.engine.book.load import Book, load_book, write_book
from marginlex.engine.run import resolve_rulebook, run_rulebook
from marginlex.engine.synth.generate import synth_book

ACCOUNTS = 120
RECORDED = re.compile(r"recorded run (r-[0-9a-f]+): (\d+) decisions")
RULEBOOKS = ("sec", "cftc")


def _cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _run(book: Path, ledger: str, *more: str) -> str:
    rulebooks = [arg for rb in RULEBOOKS for arg in ("--rulebook", rb)]
    result = _cli("run", str(book), "--ledger", ledger, *rulebooks, *more)
    assert result.exit_code == 0, result.stderr
    match = RECORDED.search(result.stdout)
    assert match is not None, result.stdout
    return match[1]


def _decided(ledger: str, run_id: str) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The (rulebook, margin set) pairs a run decided anew, and those it carried forward."""
    col = t.decisions.c
    query = select(col.rulebook_id, col.margin_set_id, col.carried_from).where(col.run_id == run_id)
    store = Ledger.open(ledger, create=False)
    try:
        with store.engine.connect() as conn:
            rows = list(conn.execute(query))
    finally:
        store.close()
    anew = {(r.rulebook_id, r.margin_set_id) for r in rows if r.carried_from is None}
    carried = {(r.rulebook_id, r.margin_set_id) for r in rows if r.carried_from is not None}
    return anew, carried


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, dict[str, pd.DataFrame]]:
    return synth_book(ACCOUNTS, 7)


def _book(
    synth: tuple[object, dict[str, pd.DataFrame]], folder: Path, **frames: pd.DataFrame
) -> Path:
    meta, base = synth
    return write_book(meta, base | frames, folder)  # type: ignore[arg-type]


def _holding(book: Book, instrument: str) -> set[tuple[str, str]]:
    """The (rulebook, set) pairs reading ``instrument`` (:func:`_reach.reading`)."""
    found = set()
    for rulebook in RULEBOOKS:
        ev = run_rulebook(rulebook, book)
        found |= {(rulebook, s) for s in reading(book, ev, instrument)}
    return found


def _an_underlying(frames: dict[str, pd.DataFrame]) -> str:
    """A stock that options are written on and that some account holds itself."""
    ins, pos = frames["instruments"], frames["positions"]
    underlyings = set(ins["underlying"].dropna()) & set(pos["instrument_id"])
    counts = pos[pos["instrument_id"].isin(underlyings)]["instrument_id"].value_counts()
    return str(counts.index[-1])  # the least held: few sets change


def test_a_changed_price_re_decides_exactly_the_sets_holding_it(
    synth: tuple[object, dict[str, pd.DataFrame]], ledger_url: str, tmp_path: Path
) -> None:
    first = _book(synth, tmp_path / "morning")
    run_a = _run(first, ledger_url)
    _, frames = synth
    stock = _an_underlying(frames)
    moved = frames["instruments"].copy()
    moved.loc[moved["instrument_id"] == stock, "price"] *= 1.05
    second = _book(synth, tmp_path / "noon", instruments=moved)
    run_b = _run(second, ledger_url, "--since", run_a)
    anew, carried = _decided(ledger_url, run_b)
    expected = _holding(load_book(second), stock)
    assert expected, "the stock is held somewhere"
    assert anew == expected
    everything, _ = _decided(ledger_url, run_a)
    assert carried == everything - expected
    verified = _cli("verify", "--replay", "--ledger", ledger_url)
    assert verified.exit_code == 0, verified.stdout
    assert "every one identical" in verified.stdout


def test_an_unchanged_book_carries_every_set_and_explain_follows(
    synth: tuple[object, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    ledger = str(tmp_path / "l.db")
    book = _book(synth, tmp_path / "book")
    run_a = _run(book, ledger)
    run_b = _run(book, ledger, "--since", run_a)
    anew, carried = _decided(ledger, run_b)
    assert anew == set() and len(carried) == len(_decided(ledger, run_a)[0])
    rulebook, margin_set = min(carried)
    earlier = _cli("explain", f"{rulebook}:{margin_set}", "--ledger", ledger, "--run", run_a)
    later = _cli("explain", f"{rulebook}:{margin_set}", "--ledger", ledger, "--run", run_b)
    assert later.exit_code == 0, later.stderr
    seq = int(re.search(r"Ledger entry #(\d+)", earlier.stdout)[1])  # type: ignore[index]
    assert f"carried forward unchanged from entry #{seq} of run {run_a}" in later.stdout
    # below its first line, the carried entry shows the earlier trace exactly
    assert later.stdout.splitlines()[1:] == earlier.stdout.splitlines()[1:]
    (row,) = Ledger.open(ledger).query(run=run_b, rulebook=rulebook, margin_set=margin_set)
    with TestClient(create_app(ledger), base_url=LOOPBACK) as client:
        page = client.get(f"/runs/{run_b}/decisions/{row.decision_id}")
    assert page.status_code == 200
    assert f"carried forward unchanged from entry #{seq}, decision" in page.text
    assert "HASH MISMATCH" not in page.text


def test_a_new_as_of_or_rulebook_re_decides_every_set(
    synth: tuple[object, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    ledger = str(tmp_path / "l.db")
    book = _book(synth, tmp_path / "book")
    run_a = _run(book, ledger)
    everything, _ = _decided(ledger, run_a)
    run_b = _run(book, ledger, "--since", run_a, "--as-of", "2026-06-29")
    assert _decided(ledger, run_b) == (everything, set())
    since = load_since(ledger, run_a)
    other = dataclasses.replace(since, rulebooks={"sec": "0" * 64, "cftc": "0" * 64})
    loaded = load_book(book)
    with RunRecorder(loaded, since=other) as recorder:
        for name in RULEBOOKS:
            rulebook = resolve_rulebook(name)
            recorder.add(run_rulebook(rulebook, loaded), rulebook)
        run_c = recorder.record(ledger).run_id
    assert _decided(ledger, run_c) == (everything, set())


def test_since_an_unknown_run_is_refused_and_nothing_is_written(
    synth: tuple[object, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    ledger = tmp_path / "l.db"
    book = _book(synth, tmp_path / "book")
    _run(book, str(ledger))
    before = ledger.read_bytes()
    result = _cli("run", str(book), "--ledger", str(ledger), "--since", "r-0000000000000000")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: nothing recorded: --since r-0000000000000000: no such run in the ledger; "
        "`marginlex ledger runs` lists them"
    )
    assert ledger.read_bytes() == before


@pytest.mark.parametrize(
    ("edit", "what"),
    [
        ("carried_from = carried_from + 1", "carries entry"),
        ("carried_hash = entry_hash", "carries entry"),
        ("carried_from = NULL", "was changed"),
        # not chained: the bytes of another entry's trace passed verify, and --replay too
        (
            "trace_z = (SELECT trace_z FROM decisions WHERE seq = 1)",
            "so it stores no trace, but it holds",
        ),
    ],
)
def test_an_sql_edit_of_a_carried_reference_fails_verify(
    synth: tuple[object, dict[str, pd.DataFrame]], tmp_path: Path, edit: str, what: str
) -> None:
    ledger = tmp_path / "l.db"
    book = _book(synth, tmp_path / "book")
    run_a = _run(book, str(ledger))
    run_b = _run(book, str(ledger), "--since", run_a)
    assert _cli("verify", "--ledger", str(ledger)).exit_code == 0
    with sqlite3.connect(ledger) as conn:
        seq = conn.execute(
            "SELECT min(seq) FROM decisions WHERE run_id = ? AND carried_from IS NOT NULL",
            (run_b,),
        ).fetchone()[0]
        conn.execute(f"UPDATE decisions SET {edit} WHERE seq = ?", (seq,))
    result = _cli("verify", "--ledger", str(ledger))
    assert result.exit_code == 1
    assert f"entry #{seq}" in result.stdout and what in result.stdout


def test_carried_entries_are_found_by_the_console_lookups(
    synth: tuple[object, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    # A carried entry has no trace and no lookup keys of its own: the lookups (accounts,
    # failed requirements, rules) follow it to the entry it refers to; a rebuild gives the
    # same rows. A ledger recorded when carried entries kept a copy of their reference's
    # keys reads and verifies the same.
    ledger = str(tmp_path / "l.db")
    book = _book(synth, tmp_path / "book")
    run_a = _run(book, ledger)
    run_b = _run(book, ledger, "--since", run_a)
    _, carried = _decided(ledger, run_b)
    assert carried
    store = Ledger.open(ledger)
    try:
        first = store.query(run=run_a)[0]
        account = first.account_ids[0]
        found = [r.run_id for r in store.query(keys={"account": account})]
        assert sorted(found) == sorted([run_a, run_b])
        rule = store.query(run=run_b, keys={"rule": "sec_customer_carrier"})
        assert rule and all(r.rulebook_id == "sec" for r in rule)
        col, kc = t.decisions.c, t.decision_keys.c
        with store.engine.begin() as conn:
            failures = [read_summary(conn, r).failures for r in (run_a, run_b)]  # type: ignore[union-attr]
            assert failures[0] and failures[1] == failures[0]  # same book, same failures
            own = select(kc.seq).join(t.decisions, kc.seq == col.seq)
            assert conn.execute(own.where(col.carried_from.is_not(None))).first() is None
            before = sorted(conn.execute(select(t.decision_keys)).all())
            backfill(conn)
            assert sorted(conn.execute(select(t.decision_keys)).all()) == before
            copies = (  # the older form: each carried entry with its reference's keys
                select(col.seq, kc.kind, kc.key)
                .join(t.decision_keys, kc.seq == col.carried_from)
                .where(col.carried_from.is_not(None))
            )
            conn.execute(t.decision_keys.insert().from_select(["seq", "kind", "key"], copies))
        again = [r.run_id for r in store.query(keys={"account": account})]
        assert sorted(again) == sorted(found)
    finally:
        store.close()
    assert _cli("verify", "--ledger", ledger).exit_code == 0
    with sqlite3.connect(ledger) as db:  # a key a carried entry's reference does not have
        seq = db.execute(
            "SELECT min(seq) FROM decisions WHERE carried_from IS NOT NULL"
        ).fetchone()[0]
        db.execute("INSERT INTO decision_keys VALUES (?, 'account', 'ACC-ELSEWHERE')", (seq,))
    result = _cli("verify", "--ledger", ledger)
    assert result.exit_code == 1
    assert (
        f"entry #{seq}" in result.stdout
        and "lookup keys that are not that entry's" in result.stdout
    )
