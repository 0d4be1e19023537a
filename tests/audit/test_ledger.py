"""The ledger records runs whole, lists and filters them, and verify catches tampering."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import zlib
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest
import zstandard
from audit_helpers import BOOK_BLOB, RULEBOOK_TEXT, rederive, run_for, variant
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from marginlex.audit.canonical import canonical_json, sha256_hex
from marginlex.audit.ledger import chain
from marginlex.audit.ledger.chain import (
    GENESIS,
    TraceDecodeError,
    compress_trace,
    decompress_trace,
    entry_header,
)
from marginlex.audit.ledger.read import DecisionNotFoundError
from marginlex.audit.ledger.store import Ledger, LedgerError
from marginlex.audit.ledger.verify import ProblemKind, verify
from marginlex.audit.trace.dictionary import DICTIONARY_ID, shipped
from marginlex.audit.trace.model import DecisionTrace
from marginlex.engine.outcomes import DecisionStatus

BOOKS = Path(__file__).parents[1] / "data" / "books"


def _record_two_runs(ledger: Ledger, trace: DecisionTrace) -> tuple[str, str]:
    """Run A: entries #1-#3 (one call of 1,250.50 on ACC-9); run B: entries #4-#6."""
    first = [
        variant(trace, "a1"),
        variant(trace, "a2", accounts=("ACC-9",), excess="-1250.50"),
        variant(trace, "a3", accounts=("ACC-7", "ACC-8")),
    ]
    second = [variant(trace, f"b{i}") for i in range(1, 4)]
    run_a = ledger.record_run(run_for(trace, "run-a"), first, [RULEBOOK_TEXT], BOOK_BLOB)
    run_b = ledger.record_run(run_for(trace, "run-b"), second, [RULEBOOK_TEXT], BOOK_BLOB)
    return run_a, run_b


@pytest.fixture
def ledger(ledger_url: str) -> Ledger:
    store = Ledger.open(ledger_url)
    yield store
    store.close()


@pytest.fixture
def filled(ledger: Ledger, pm_trace: DecisionTrace) -> Ledger:
    _record_two_runs(ledger, pm_trace)
    return ledger


def _sql(ledger: Ledger, *statements: str) -> None:
    with ledger.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def test_round_trip_keeps_the_trace_byte_identical(filled: Ledger, pm_trace: DecisionTrace) -> None:
    stored = filled.get_decision("a1")
    assert stored.trace.canonical() == variant(pm_trace, "a1").canonical()
    assert stored.row.seq == 1 and stored.prev_hash == GENESIS
    assert stored.row.requirement == Decimal("69760.00")
    assert filled.rulebook_text(pm_trace.rulebook.sha256) == RULEBOOK_TEXT
    assert filled.book_blob(pm_trace.book_sha256) == BOOK_BLOB


def test_chain_continues_across_runs(filled: Ledger) -> None:
    last_of_a = filled.get_decision("a3")
    first_of_b = filled.get_decision("b1")
    assert first_of_b.row.seq == 4
    assert first_of_b.prev_hash == last_of_a.entry_hash
    runs = filled.runs()
    assert [(r.record.run_id, r.counts.decisions, r.counts.call) for r in runs] == [
        ("run-a", 3, 1),
        ("run-b", 3, 0),
    ]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"run": "run-b"}, ["b1", "b2", "b3"]),
        ({"account": "ACC-8"}, ["a3"]),
        ({"account": "ACC-"}, []),  # an account id matches whole, not as a prefix
        ({"rulebook": "harmonized_pm", "limit": 2}, ["a1", "a2"]),
        ({"status": DecisionStatus.CALL}, ["a2"]),
        ({"call_above": Decimal("1250.49")}, ["a2"]),
        ({"call_above": Decimal("1250.50")}, []),
    ],
)
def test_query_filters(filled: Ledger, filters: dict[str, object], expected: list[str]) -> None:
    assert [r.decision_id for r in filled.query(**filters)] == expected  # type: ignore[arg-type]


def test_unknown_decision_is_an_actionable_error(filled: Ledger) -> None:
    with pytest.raises(DecisionNotFoundError, match="no decision 'zz' in the ledger"):
        filled.get_decision("zz")


def test_intact_ledger_verifies(filled: Ledger) -> None:
    report = verify(filled)
    assert report.ok and report.entries == 6 and report.runs == 2
    assert report.head_hash == filled.get_decision("b3").entry_hash


_FIRST_SET = "(SELECT key FROM decision_keys WHERE seq = 1 AND kind = 'key_set')"


@pytest.mark.parametrize(
    ("statements", "kind", "seq"),
    [
        (["UPDATE decisions SET call = 1000 WHERE seq = 4"], ProblemKind.CHANGED, 4),
        (
            ["UPDATE decisions SET trace_z = SUBSTR(trace_z, 1, 40) WHERE seq = 5"],
            ProblemKind.CHANGED,
            5,
        ),
        (["UPDATE decisions SET status = 'ok' WHERE seq = 2"], ProblemKind.CHANGED, 2),
        (["DELETE FROM decisions WHERE seq = 3"], ProblemKind.REMOVED, 3),
        (["DELETE FROM decisions WHERE seq = 6"], ProblemKind.REMOVED, 6),
        (
            [
                "UPDATE decisions SET seq = -2 WHERE seq = 2",
                "UPDATE decisions SET seq = 2 WHERE seq = 5",
                "UPDATE decisions SET seq = 5 WHERE seq = -2",
            ],
            ProblemKind.REORDERED,
            2,
        ),
        (
            ["UPDATE runs SET as_of = '2026-01-02' WHERE run_id = 'run-b'"],
            ProblemKind.RUN_CHANGED,
            4,
        ),
        (["UPDATE runs SET as_of = 'someday' WHERE run_id = 'run-b'"], ProblemKind.RUN_CHANGED, 4),
        (["DELETE FROM runs WHERE run_id = 'run-a'"], ProblemKind.RUN_CHANGED, 1),
        (["UPDATE rulebook_texts SET text = 'rulebook x'"], ProblemKind.INPUT_CHANGED, None),
        (["UPDATE books SET blob_sha256 = '" + "a" * 64 + "'"], ProblemKind.INPUT_CHANGED, None),
        (
            ["UPDATE runs SET book_blob_sha256 = '" + "a" * 64 + "' WHERE run_id = 'run-a'"],
            ProblemKind.RUN_CHANGED,
            1,
        ),
        (
            ["UPDATE decision_keys SET key = 'ACC-X' WHERE seq = 2 AND kind = 'account'"],
            ProblemKind.KEYS_CHANGED,
            2,
        ),
        (
            ["DELETE FROM decision_keys WHERE seq = 5 AND kind = 'key_set'"],
            ProblemKind.KEYS_CHANGED,
            5,
        ),
        (
            [  # one rule of the set entry #1 names (the first entry to name it)
                "UPDATE key_sets SET key = 'edited' WHERE kind = 'rule' AND set_id = "
                f"{_FIRST_SET} AND key = (SELECT MIN(key) FROM key_sets WHERE kind = 'rule' "
                f"AND set_id = {_FIRST_SET})"
            ],
            ProblemKind.KEYS_CHANGED,
            1,
        ),
        (
            ["INSERT INTO key_sets VALUES ('0123456789abcdef0123456789abcdef', 'rule', 'x')"],
            ProblemKind.KEYS_CHANGED,
            None,
        ),
        (
            ["INSERT INTO decision_keys (seq, kind, key) VALUES (3, 'failed', 'min_equity')"],
            ProblemKind.KEYS_CHANGED,
            3,
        ),
        (
            ["INSERT INTO decision_keys (seq, kind, key) VALUES (9, 'account', 'ACC-1')"],
            ProblemKind.KEYS_CHANGED,
            9,
        ),
        (
            [
                "UPDATE run_summaries SET body = REPLACE(body, '\"decisions\"\\:3', "
                "'\"decisions\"\\:4') WHERE run_id = 'run-b'"
            ],
            ProblemKind.SUMMARY_CHANGED,
            None,
        ),
        (["DELETE FROM run_summaries WHERE run_id = 'run-a'"], ProblemKind.SUMMARY_CHANGED, None),
        (
            [  # a tail cut and its run edited to match: the chain holds, the keys do not
                "DELETE FROM decisions WHERE seq > 4",
                "UPDATE runs SET decisions = 1, ok = 1, last_seq = 4 WHERE run_id = 'run-b'",
            ],
            ProblemKind.KEYS_CHANGED,
            5,
        ),
    ],
    ids=[
        "edit-call",
        "garble-trace",
        "edit-status",
        "delete",
        "delete-last",
        "swap",
        "run",
        "run-garbage",
        "run-deleted",
        "text",
        "book",
        "run-book",
        "key-edited",
        "key-deleted",
        "key-set-edited",
        "key-set-added",
        "key-added",
        "key-past-the-head",
        "summary-edited",
        "summary-deleted",
        "tail-cut-keys-left",
    ],
)
def test_tampering_is_caught_at_the_right_entry(
    filled: Ledger, statements: list[str], kind: ProblemKind, seq: int | None
) -> None:
    _sql(filled, *statements)
    report = verify(filled)
    assert report.problem is not None, "tampering went unnoticed"
    assert (report.problem.kind, report.problem.seq) == (kind, seq), report.problem.message


def test_an_edited_key_row_is_named_with_what_it_changed(filled: Ledger) -> None:
    _sql(filled, "UPDATE decision_keys SET key = 'ACC-X' WHERE seq = 2 AND kind = 'account'")
    problem = verify(filled).problem
    assert problem is not None and problem.decision_id == "a2" and problem.run_id == "run-a"
    assert problem.message == (
        "the lookup keys of entry #2 (a2) disagree with its trace (listed but not in the "
        "entry: account 'ACC-X'; in the entry but not listed: account 'ACC-9'): "
        "decision_keys was edited"
    )


@pytest.mark.parametrize("with_hash", [False, True], ids=["trace", "trace-and-its-hash"])
def test_an_edited_trace_is_caught(filled: Ledger, with_hash: bool) -> None:
    """Rewrite the requirement inside entry #2's trace (decompress, edit, recompress)."""
    with filled.engine.begin() as conn:
        stored = conn.execute(text("SELECT trace_z FROM decisions WHERE seq = 2")).scalar_one()
        body = decompress_trace(stored)
        body = body.replace(b'"maintenance":"69760.00"', b'"maintenance":"1.00"')
        new = {"z": compress_trace(body), "h": sha256_hex(body)}
        sets = "trace_z = :z, trace_sha256 = :h" if with_hash else "trace_z = :z"
        conn.execute(text(f"UPDATE decisions SET {sets} WHERE seq = 2"), new)
    problem = verify(filled).problem
    assert problem is not None and (problem.kind, problem.seq) == (ProblemKind.CHANGED, 2)


def test_an_edited_dictionary_is_caught_at_the_first_entry(filled: Ledger) -> None:
    with filled.engine.begin() as conn:
        (data,) = conn.execute(text("SELECT data FROM trace_dictionaries")).one()
        edited = data[:-60000] + bytes(reversed(data[-60000:]))  # its content, backwards
        conn.execute(text("UPDATE trace_dictionaries SET data = :d"), {"d": edited})
    problem = verify(filled).problem
    assert problem is not None and (problem.kind, problem.seq) == (ProblemKind.CHANGED, 1)


def test_traces_are_read_with_the_dictionary_the_ledger_stores(
    filled: Ledger,
    ledger_url: str,
    pm_trace: DecisionTrace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert zstandard.get_frame_parameters(compress_trace(b"{}")).dict_id == DICTIONARY_ID
    damaged = tmp_path / "damaged.db"
    other = Ledger.open(str(damaged))
    _record_two_runs(other, pm_trace)
    _sql(other, "UPDATE trace_dictionaries SET data = X'00'")
    other.close()
    with filled.engine.connect() as conn:
        stored = conn.execute(text("SELECT dict_id, data FROM trace_dictionaries")).all()
    assert stored == [(DICTIONARY_ID, shipped())]  # stored once, however many runs
    # A later marginlex whose package ships another dictionary still reads this ledger.
    monkeypatch.setattr(chain, "_CODECS", threading.local())
    monkeypatch.setattr(chain, "shipped", lambda: b"not this one")
    reopened = Ledger.open(ledger_url, create=False)
    assert reopened.get_decision("b3").trace.decision_id == "b3"
    assert verify(reopened).ok
    # Another ledger whose stored dictionary is damaged does not affect this one.
    other = Ledger.open(str(damaged), create=False)
    assert not verify(other).ok and verify(reopened).ok
    other.close()
    reopened.close()


def test_a_rehashed_edit_is_caught_at_the_next_link(filled: Ledger) -> None:
    _sql(filled, "UPDATE decisions SET entry_hash = '" + "f" * 64 + "' WHERE seq = 3")
    problem = verify(filled).problem
    assert problem is not None and problem.kind is ProblemKind.CHANGED and problem.seq == 3


def test_expect_head_catches_a_truncated_tail(filled: Ledger, pm_trace: DecisionTrace) -> None:
    noted = filled.head()[1]
    filled.record_run(run_for(pm_trace, "run-c"), [variant(pm_trace, "c1")], [RULEBOOK_TEXT])
    assert verify(filled, expect_head=noted).ok  # later runs extend the chain: still fine
    # Cut off the last two runs whole (entries and run records, and the rows derived from
    # them rebuilt): the chain alone looks intact.
    _sql(filled, "DELETE FROM decisions WHERE seq >= 4", "DELETE FROM runs WHERE run_id <> 'run-a'")
    with filled.engine.begin() as conn:
        rederive(conn)
    assert verify(filled).ok
    problem = verify(filled, expect_head=noted).problem
    assert problem is not None and problem.kind is ProblemKind.HEAD_MISMATCH
    assert "the chain was cut back below it" in problem.message


def test_a_decision_outside_the_run_writes_nothing(ledger: Ledger, pm_trace: DecisionTrace) -> None:
    other = pm_trace.model_copy(update={"book_sha256": "e" * 64})
    with pytest.raises(LedgerError, match="book or as-of differs"):
        ledger.record_run(
            run_for(pm_trace),
            [variant(pm_trace, "x1"), other],
            [RULEBOOK_TEXT],
            BOOK_BLOB,
            chunk_size=1,
        )
    assert ledger.query() == [] and ledger.runs() == []


def test_duplicate_ids_and_missing_inputs_are_rejected(
    ledger: Ledger, pm_trace: DecisionTrace
) -> None:
    with pytest.raises(LedgerError, match="appears twice"):
        ledger.record_run(run_for(pm_trace), [pm_trace, pm_trace], [RULEBOOK_TEXT], BOOK_BLOB)
    with pytest.raises(LedgerError, match=r"canonical text .* was not given"):
        ledger.record_run(run_for(pm_trace), [pm_trace], [], BOOK_BLOB)
    with pytest.raises(LedgerError, match=r"the content of book .* was not given"):
        ledger.record_run(run_for(pm_trace), [pm_trace], [RULEBOOK_TEXT])
    assert verify(ledger).entries == 0


def test_replay_seam_reports_decisions_that_differ(filled: Ledger, pm_trace: DecisionTrace) -> None:
    """The evaluator's replayer plugs in here; a stand-in replays run A with one change."""
    seen_inputs: list[tuple[str, str, bytes]] = []

    def replayer(run, texts, book):  # type: ignore[no-untyped-def]
        seen_inputs.append((run.run_id, texts[pm_trace.rulebook.sha256], book))
        if run.run_id == "run-b":
            return [variant(pm_trace, f"b{i}") for i in range(1, 4)]
        changed = variant(pm_trace, "a3", accounts=("ACC-7", "ACC-8"), excess="-5.00")
        return [variant(pm_trace, "a1"), changed, variant(pm_trace, "a4")]

    report = verify(filled, replayer=replayer)
    assert [i[0] for i in seen_inputs] == ["run-a", "run-b"]
    assert seen_inputs[0][1:] == (RULEBOOK_TEXT, BOOK_BLOB)
    assert report.replayed == 6 and not report.ok
    assert [(d.decision_id, d.seq, d.detail) for d in report.replay_differences] == [
        ("a3", 3, '$.figures.call: recorded "0.00", replayed "5.00"'),
        ("a3", 3, 'column status: stored "ok", replayed "call"'),
        ("a3", 3, 'column call: stored "0.00", replayed "5.00"'),
        ("a4", None, "replay makes a decision that was not recorded"),
        ("a2", 2, "recorded, but replay no longer makes this decision"),
    ]


def test_open_errors_are_actionable(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="unsupported ledger URL 'mysql://h/db'"):
        Ledger.open("mysql://h/db")
    with pytest.raises(LedgerError, match=r"no ledger at .*nope\.db: record a run first"):
        Ledger.open(str(tmp_path / "nope.db"), create=False)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(LedgerError, match="is not a marginlex ledger"):
        Ledger.open(str(other), create=False)
    with pytest.raises(
        LedgerError, match=r"cannot open the ledger postgresql\+psycopg://u:\*\*\*@"
    ):
        Ledger.open("postgresql://u:secret@127.0.0.1:1/x", create=False)


def test_a_file_that_is_not_a_database_is_refused_in_one_line(tmp_path: Path) -> None:
    """A path given by mistake (a CSV, a note): every command that opens a ledger says so
    in one line (exit 2 for readers, 1 for a run, which records nothing) and the file is
    left as it was; it used to end in SQLAlchemy's DatabaseError traceback."""
    from typer.testing import CliRunner  # noqa: PLC0415

    from marginlex.cli import app  # noqa: PLC0415

    wrong = tmp_path / "positions.csv"
    wrong.write_text("account_id,instrument_id,quantity\nA1,XYZ,100\n", encoding="utf-8")
    before = wrong.read_bytes()
    for create in (True, False):
        with pytest.raises(LedgerError, match=r"cannot open the ledger .*: file is not a database"):
            Ledger.open(str(wrong), create=create)
    said = f"cannot open the ledger sqlite:///{wrong}: file is not a database"
    for args, code in (
        (["verify", "--ledger", str(wrong)], 2),
        (["ledger", "--ledger", str(wrong)], 2),
        (["ledger", "runs", "--ledger", str(wrong)], 2),
        (["run", "--ledger", str(wrong)], 1),
    ):
        done = CliRunner().invoke(app, args, terminal_width=200)
        assert done.exit_code == code, (args, done.output)
        # rich wraps the long path mid-word: compared without the white space
        assert "".join(said.split()) in "".join(done.output.split()), (args, done.output)
        assert done.output.startswith("error: ") and "Traceback" not in done.output
    assert wrong.read_bytes() == before


def test_a_forged_book_blob_is_reported_not_inflated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stored book swapped for a zlib bomb (a few kilobytes that inflate to gigabytes) was
    inflated whole by verify, replay and what-if; it is now read at most to the memory a book
    may take, and verify names the book as changed."""
    from typer.testing import CliRunner  # noqa: PLC0415

    from marginlex.audit.ledger import read  # noqa: PLC0415
    from marginlex.audit.ledger.read import BookBlobError  # noqa: PLC0415
    from marginlex.cli import app  # noqa: PLC0415

    location = str(tmp_path / "l.db")
    assert CliRunner().invoke(app, ["run", "-r", "sec", "--ledger", location]).exit_code == 0
    bomb = zlib.compress(b"\0" * 5_000_000, 9)  # 5 MB from about 5 KB
    with sqlite3.connect(location) as conn:
        conn.execute("UPDATE books SET blob = ?", (bomb,))
    monkeypatch.setattr(read, "book_memory_limit", lambda: 1_000_000)
    ledger = Ledger.open(location, create=False)
    try:
        sha = ledger.runs()[0].record.book_sha256
        with pytest.raises(BookBlobError, match=r"inflates past 0\.0 GB"):
            ledger.book_blob(sha)
    finally:
        ledger.close()
    done = CliRunner().invoke(app, ["verify", "--ledger", location])
    assert done.exit_code == 1
    assert f"the recorded content of book {sha[:12]}" in done.output, done.output


def test_a_database_holding_other_tables_is_not_made_a_ledger(tmp_path: Path) -> None:
    """An application's database named by mistake: ``run --ledger`` added the ledger's
    tables beside its own and recorded there. It is refused, the file left as it was."""
    from typer.testing import CliRunner  # noqa: PLC0415

    from marginlex.cli import app  # noqa: PLC0415

    other = tmp_path / "crm.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
        conn.execute("INSERT INTO customers VALUES (1, 'Alice')")
    before = other.read_bytes()
    said = (
        f"{other} is a database holding other tables (customers), not a marginlex ledger: "
        "nothing was written to it; give a new file or an empty database for the ledger"
    )
    with pytest.raises(LedgerError) as info:
        Ledger.open(str(other))
    assert str(info.value) == said
    done = CliRunner().invoke(app, ["run", "-r", "sec", "--ledger", str(other)])
    assert done.exit_code == 1
    assert f"error: nothing recorded: {said}" == " ".join(done.stderr.split())
    assert other.read_bytes() == before


@pytest.mark.parametrize(
    ("quantity", "figure"),
    [(999999999.7, "14,999,999,995,500,002.00"), (500_000_000.0, "7,500,000,000,000,000.00")],
)
def test_a_requirement_past_what_a_ledger_records_to_the_cent_is_refused_on_every_backend(
    ledger_url: str, tmp_path: Path, quantity: float, figure: str
) -> None:
    """Each position is within the book's limit (1e15 USD), but 100 of them in one account
    make a requirement of 1.5e16: PostgreSQL refused the run mid-transaction with a
    NumericValueOutOfRange traceback, SQLite stored a float. 100 x 5e8 x 1,000,000 x 15%
    = 7.5e15: the columns hold it, but not to the cent (a float64 holds every cent only
    below 2**53 cents, 9.0e13 USD): the worker's trace check failed with a traceback (an
    independent reviewer, session 24). Both are refused before any trace is built."""
    from typer.testing import CliRunner  # noqa: PLC0415

    from marginlex.cli import app  # noqa: PLC0415

    book = tmp_path / "book"
    shutil.copytree(BOOKS / "good_small", book)
    (book / "expected.txt").unlink()
    stocks = [f"S{k:03d},stock,,,,,1000000.00,,,,,," for k in range(100)]
    with (book / "instruments.csv").open("a", encoding="utf-8") as fh:
        fh.write("\n".join(stocks) + "\n")
    rows = [f"A1,S{k:03d},{quantity}" for k in range(100)]
    (book / "positions.csv").write_text(
        "account_id,instrument_id,quantity\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )
    done = CliRunner().invoke(app, ["run", str(book), "-r", "sec", "--ledger", ledger_url])
    assert done.exit_code == 1, done.output
    said = " ".join(done.stderr.split())
    assert said == (
        f"error: nothing recorded: decision ms:A1 of sec: its requirement of {figure} USD is "
        "past what a ledger records to the cent (less than 90,071,992,547,409.92 USD: a "
        "float64 holds every cent only below 2**53 cents): one margin set this large is a "
        "book error (quantities or prices) or an account to split"
    ), said
    with pytest.raises(LedgerError, match=r"no ledger at|is not a marginlex ledger"):
        Ledger.open(ledger_url, create=False)  # refused before the ledger is made


@pytest.mark.parametrize("size", [0, 7, 255, 256, 70_000])
def test_a_stored_trace_is_a_zstandard_frame_and_zlib_still_reads(size: int) -> None:
    body = (b'{"x":"' + b"0123456789" * (size // 10 + 1))[:size]
    stored = compress_trace(body)
    assert stored[:4] == b"\x28\xb5\x2f\xfd" and decompress_trace(stored) == body
    assert decompress_trace(zlib.compress(body)) == body  # ledgers written before zstd


def test_frames_written_by_other_zstandard_encoders_read() -> None:
    body = b'{"x":"' + b"0123456789" * 1000 + b'"}'
    by_arrow = pa.Codec("zstd", compression_level=1).compress(body, asbytes=True)
    assert decompress_trace(by_arrow) == body  # how earlier ledgers were written


def test_a_trace_larger_than_any_trace_is_refused_before_it_is_inflated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unknown = zstandard.ZstdCompressor(write_content_size=False).compress(b"{}" * 100)
    with pytest.raises(TraceDecodeError, match="declares"):  # a frame may claim any size
        decompress_trace(unknown)
    monkeypatch.setattr(chain, "_MAX_TRACE_BYTES", 1000)
    with pytest.raises(TraceDecodeError, match="inflates beyond"):
        decompress_trace(zlib.compress(b"0" * 2000))


def test_a_truncated_trace_does_not_decompress() -> None:
    with pytest.raises(TraceDecodeError, match="does not decompress"):
        decompress_trace(compress_trace(b'{"x":1}' * 100)[:20])


_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(_TEXT, min_size=8, max_size=8),
    call=st.decimals(min_value=-(10**9), max_value=10**9, places=2),
    requirement=st.decimals(min_value=0, max_value=10**9, places=2),
)
def test_entry_header_is_the_canonical_json_of_its_fields(
    texts: list[str], call: Decimal, requirement: Decimal
) -> None:
    ids, margin_set, accounts, rulebook, status, sha, run_id, run_sha = texts
    fields = {
        "account_ids": accounts,
        "decision_id": ids,
        "margin_set_id": margin_set,
        "rulebook_id": rulebook,
        "status": status,
        "trace_sha256": sha,
    }
    entry = SimpleNamespace(**fields, call=call, requirement=requirement)
    expected = canonical_json(
        fields
        | {"call": f"{call:.2f}", "requirement": f"{requirement:.2f}"}
        | {"run_id": run_id, "run_sha256": run_sha}
    )
    assert entry_header(entry, run_id, run_sha) == expected


def test_a_changed_byte_in_a_book_blob_names_the_book(filled: Ledger) -> None:
    """Flip one byte inside the stored (compressed) book: verify names the book, no traceback."""
    with filled.engine.begin() as conn:
        sha, blob = conn.execute(text("SELECT sha256, blob FROM books")).first()  # type: ignore[misc]
        bad = bytes(blob[:10]) + bytes([blob[10] ^ 0xFF]) + bytes(blob[11:])
        conn.execute(text("UPDATE books SET blob = :b WHERE sha256 = :s"), {"b": bad, "s": sha})
    report = verify(filled)
    assert report.problem is not None
    assert report.problem.kind == ProblemKind.INPUT_CHANGED
    assert report.problem.message == (
        f"the recorded content of book {sha[:12]}… (of run-a, run-b) was changed"
    )
    assert report.problem.run_id == "run-a"
