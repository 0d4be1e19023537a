"""An insider's SQL on a recorded demo run (issue 15, part 1, second half).

An edited requirement with the chain re-hashed after it passes plain ``verify`` (the chain
is consistent again) but not ``verify --replay``, which compares each entry's stored columns
with what the engine recomputes. A byte changed in a stored trace or book blob is named by
``verify``, with no traceback and nothing unprintable on the terminal. A book digest forged
to hide a change from ``run --since`` is named by ``verify`` and refused by ``run --since``.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from audit_helpers import rehash_from, rehash_one
from typer.testing import CliRunner, Result

from marginlex.audit.canonical import sha256_hex
from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.book_digests import write_digest
from marginlex.audit.ledger.store import Ledger
from marginlex.cli import app
from marginlex.engine.book.load import load_book
from marginlex.engine.distributed.digests import book_digest

DEMO = Path(__file__).parents[2] / "engine" / "book" / "demo_book"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "ledger.db"
    result = CliRunner().invoke(app, ["run", "--ledger", str(path)])
    assert result.exit_code == 0, result.stderr
    return path


@pytest.fixture
def copy(demo: Path, tmp_path: Path) -> Path:
    return Path(shutil.copyfile(demo, tmp_path / "ledger.db"))


def _verify(path: Path, *more: str) -> Result:
    return CliRunner().invoke(app, ["verify", "--ledger", str(path), *more])


def _entry(path: Path, seq: int) -> tuple[str, str, str]:
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT decision_id, run_id, printf('%.2f', requirement) FROM decisions WHERE seq = ?",
            (seq,),
        ).fetchone()
    return str(row[0]), str(row[1]), str(row[2])


def _clean(result: Result) -> None:
    """No traceback, and every character printed is printable."""
    assert "Traceback" not in result.output
    assert all(line.isprintable() for line in result.output.splitlines()), result.output


def test_an_edited_requirement_rehashed_fails_replay_naming_entry_and_column(copy: Path) -> None:
    did, run_id, requirement = _entry(copy, 7)
    ledger = Ledger.open(str(copy), create=False)
    rehash_from(ledger, 7, requirement=1)
    ledger.close()
    plain = _verify(copy)
    assert plain.exit_code == 0 and plain.stdout.startswith("OK: 36 entries in 1 runs")
    replayed = _verify(copy, "--replay")
    assert replayed.exit_code == 1
    assert replayed.stdout.splitlines()[1:] == [
        "replayed 36 decisions: 1 differ",
        f'DIFFERS entry #7 {did} (run {run_id}): column requirement: stored "1.00", '
        f'replayed "{requirement}"',
    ]


@pytest.mark.parametrize(
    "edit",
    [
        # text concatenation leaves TEXT holding invalid UTF-8 where the blob was
        # (byte 101 becomes A, or B where it was A, so that the edit always changes a byte)
        "UPDATE decisions SET trace_z = substr(trace_z, 1, 100) || "
        "CASE WHEN substr(trace_z, 101, 1) = X'41' THEN X'42' ELSE X'41' END || "
        "substr(trace_z, 102) WHERE seq = 5",
        # one byte flipped, still a blob
        "UPDATE decisions SET trace_z = substr(trace_z, 1, 100) || X'00' WHERE seq = 5",
    ],
    ids=["text", "blob"],
)
def test_a_byte_changed_in_a_trace_is_named_without_a_traceback(copy: Path, edit: str) -> None:
    did, run_id, _ = _entry(copy, 5)
    with sqlite3.connect(copy) as conn:
        conn.execute(edit)
    result = _verify(copy)
    assert result.exit_code == 1
    assert result.stdout == (
        f"FAILED at entry #5 (decision {did}, run {run_id}): changed: the trace of entry #5 "
        f"({did}) was changed\n"
    )
    _clean(result)
    explained = CliRunner().invoke(app, ["explain", did, "--ledger", str(copy)])
    # a changed byte either leaves bytes that no longer decompress (named, exit 1) or a
    # trace that still reads, shown with its hash mismatch beside it
    if explained.exit_code == 1:
        assert f"the stored trace of entry #5 ({did}) no longer reads" in explained.stderr
    else:
        assert explained.exit_code == 0
        assert "HASH MISMATCH: the trace of entry #5 was changed" in explained.stdout
    _clean(explained)


def test_a_deleted_trace_dictionary_is_named(copy: Path) -> None:
    """The traces name a Zstandard dictionary the ledger stores so that it reads without the
    package that wrote it; deleting it passed verify (this marginlex ships a copy)."""
    did, run_id, _ = _entry(copy, 1)
    with sqlite3.connect(copy) as conn:
        (dict_id,) = conn.execute("SELECT dict_id FROM trace_dictionaries").fetchone()
        conn.execute("DELETE FROM trace_dictionaries")
    result = _verify(copy)
    assert result.exit_code == 1
    assert result.stdout == (
        f"FAILED at entry #1 (decision {did}, run {run_id}): input_changed: the Zstandard "
        f"dictionary {dict_id:#x} that the traces of entry #1 and others were compressed with "
        "is not in trace_dictionaries: it was removed, and without it the traces cannot be "
        "read but by a marginlex that ships it\n"
    )
    _clean(result)


_CHECKPOINT = (
    '{{"created_at":"2026-12-01T00:00:00Z","head_hash":"{h}","head_seq":1,'
    '"key_id":"k","ledger_id":"{lid}","run_id":null}}'
)
_SIGNATURE = "A" * 86 + "=="  # base64 of 64 bytes


@pytest.mark.parametrize(
    ("edit", "found"),
    [
        (
            "INSERT INTO ledger_meta VALUES ('admin', 'mallory')",
            "FAILED at ledger: meta_changed: ledger_meta holds 'admin' = 'mallory', a key no "
            "marginlex writes: the row was added or edited",
        ),
        (
            "INSERT INTO checkpoints VALUES ('c2lnbmVk', 'not json', 1, NULL)",
            "FAILED at ledger: checkpoint_changed: checkpoint 1 of the checkpoints table: not a "
            "checkpoint (Expecting value: line 1 column 1 (char 0)): the row was added or edited",
        ),
        (
            f"INSERT INTO checkpoints VALUES ('{_SIGNATURE}', "
            f"'{_CHECKPOINT.format(h='0' * 64, lid='l-' + '1' * 32)}', 1, NULL)",
            "FAILED at ledger: checkpoint_changed: checkpoint 1 of the checkpoints table: (#1 "
            "000000000000…, signed 2026-12-01T00:00:00+00:00) it is of ledger "
            "l-11111111111111111111111111111111; this ledger has no id: the row was added or "
            "edited",
        ),
        (
            f"INSERT INTO checkpoints VALUES ('c2lnbmVk', "
            f"'{_CHECKPOINT.format(h='0' * 64, lid='l-' + '1' * 32)}', 1, NULL)",
            "FAILED at ledger: checkpoint_changed: checkpoint 1 of the checkpoints table: its "
            "signature is 6 bytes, not the 64 of a signature: the row was added or edited",
        ),
        (
            f"INSERT INTO checkpoints VALUES ('{_SIGNATURE}', "
            f"'{_CHECKPOINT.format(h='0' * 64, lid='l-' + '1' * 32)}', 5, NULL)",
            "FAILED at ledger: checkpoint_changed: checkpoint 1 of the checkpoints table: its "
            "columns say #5, run None; its signed body says #1, run None: the row was edited",
        ),
    ],
)
def test_a_row_added_to_the_trust_tables_is_named(copy: Path, edit: str, found: str) -> None:
    """Rows inserted into ledger_meta or checkpoints passed verify; what can be told without
    the public key is checked (the signature itself: verify --public-key)."""
    with sqlite3.connect(copy) as conn:
        conn.execute(edit)
    result = _verify(copy)
    assert result.exit_code == 1
    assert result.stdout == found + "\n"
    _clean(result)


def test_checkpoint_rows_are_checked_when_ledger_meta_is_dropped(copy: Path) -> None:
    """Dropping ledger_meta skipped the checkpoints table: a made-up row passed verify."""
    row = _CHECKPOINT.format(h="0" * 64, lid="l-" + "1" * 32)
    with sqlite3.connect(copy) as conn:
        conn.execute("DROP TABLE ledger_meta")
        conn.execute(f"INSERT INTO checkpoints VALUES ('c2lnbmVk', '{row}', 1, NULL)")
    result = _verify(copy)
    assert result.exit_code == 1
    assert result.stdout == (
        "FAILED at ledger: checkpoint_changed: checkpoint 1 of the checkpoints table: its "
        "signature is 6 bytes, not the 64 of a signature: the row was added or edited\n"
    )
    _clean(result)


def test_a_byte_changed_in_the_book_is_named_with_its_run(copy: Path) -> None:
    _, run_id, _ = _entry(copy, 1)
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE books SET blob = substr(blob, 1, 200) || X'ff' || substr(blob, 202)")
        sha = conn.execute("SELECT sha256 FROM books").fetchone()[0]
    result = _verify(copy, "--replay")
    assert result.exit_code == 1
    assert result.stdout == (
        f"FAILED at ledger: input_changed: the recorded content of book {sha[:12]}… "
        f"(of {run_id}) was changed\n"
    )
    _clean(result)


def _repriced_demo(folder: Path) -> Path:
    """The demo book with ES_2609 (held by four futures accounts) at 5,000 instead of 6,000."""
    shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("__*"))
    instruments = pd.read_csv(folder / "instruments.csv", dtype=str, keep_default_na=False)
    instruments.loc[instruments["instrument_id"] == "ES_2609", "price"] = "5000.00"
    instruments.to_csv(folder / "instruments.csv", index=False)
    return folder


def _digest_of(folder: Path) -> bytes:
    """The digest a recorded run stores for the book in ``folder``."""
    book = load_book(folder)
    return book_digest(book.contract_frames(), book.meta.currency).to_bytes()


def _forge_digest(ledger: Path, body: bytes) -> str:
    """Store ``body`` as the digest of the one recorded book, as an insider's SQL would; the
    id of the run that recorded it."""
    with sqlite3.connect(ledger) as conn:
        (run_id,) = conn.execute("SELECT run_id FROM runs").fetchone()
        conn.execute("UPDATE book_digests SET body = ?", (body,))
    return str(run_id)


def test_a_forged_book_digest_is_named_by_verify_and_refused_by_since(
    copy: Path, tmp_path: Path
) -> None:
    # The insider's aim: make `run --since` carry the decisions of the four accounts holding
    # ES_2609 (A05_DELTA_FUT at 420,000 where 5,000 makes it 350,000) by storing, as the
    # recorded book's digest, the digest of the repriced book: nothing then looks changed.
    run_id = _forge_digest(copy, _digest_of(_repriced_demo(tmp_path / "repriced")))
    result = _verify(copy)
    assert result.exit_code == 1
    assert result.stdout == (
        f"FAILED at ledger: input_changed: the stored digest of run {run_id}'s book is not "
        f"the one the run recorded: book_digests was edited (a `run --since {run_id}` "
        "refuses it)\n"
    )
    assert _refused_since(copy, tmp_path / "repriced", run_id) == (
        f"error: nothing recorded: --since {run_id}: the stored digest of run {run_id}'s book "
        "is not the one the run recorded: book_digests was edited; `marginlex verify` checks "
        "the ledger, and a run without --since decides every set"
    )


def _refused_since(ledger: Path, book: Path, run_id: str) -> str:
    """What ``run BOOK --ledger LEDGER --since RUN_ID`` says when it refuses (exit 1, the
    ledger still holding its one run): its error, on one line."""
    since = CliRunner().invoke(app, ["run", str(book), "--ledger", str(ledger), "--since", run_id])
    assert since.exit_code == 1
    with sqlite3.connect(ledger) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (1,)
    return " ".join(since.stderr.split())


def test_a_run_record_stripped_of_its_digest_sha256_is_a_changed_run(copy: Path) -> None:
    # Clearing the sha256 would make the run read as one recorded before revision 0010, whose
    # digest nothing checks: the run record is chained, so that is an edit of it.
    with sqlite3.connect(copy) as conn:
        (run_id,) = conn.execute("SELECT run_id FROM runs").fetchone()
        conn.execute("UPDATE runs SET book_digest_sha256 = NULL")
    result = _verify(copy)
    assert result.exit_code == 1
    assert result.stdout.startswith("FAILED at entry #1 (decision ")
    assert f"run {run_id}): run_changed: " in result.stdout


def test_a_removed_book_digest_is_named_but_since_still_decides_alike(
    copy: Path, tmp_path: Path
) -> None:
    with sqlite3.connect(copy) as conn:
        (run_id,) = conn.execute("SELECT run_id FROM runs").fetchone()
        conn.execute("DELETE FROM book_digests")
    result = _verify(copy)
    assert result.exit_code == 1
    assert result.stdout == (
        f"FAILED at ledger: input_changed: the stored digest of run {run_id}'s book was "
        f"removed: book_digests was edited (a `run --since {run_id}` compares the two "
        "books row by row instead)\n"
    )
    # no danger: the two books are compared row by row, and the four holders are decided
    repriced = str(_repriced_demo(tmp_path / "repriced"))
    since = CliRunner().invoke(
        app, ["run", repriced, "--ledger", str(copy), "--since", run_id, "--format", "json"]
    )
    assert since.exit_code == 0, since.stderr
    with sqlite3.connect(copy) as conn:
        decided = conn.execute(
            "SELECT rulebook_id, margin_set_id, printf('%.2f', requirement) FROM decisions "
            "WHERE run_id != ? AND carried_from IS NULL ORDER BY seq",
            (run_id,),
        ).fetchall()
    assert ("cftc", "ms:A05_DELTA_FUT", "350000.00") in decided


def test_a_forged_digest_is_not_vouched_for_by_a_later_run_of_the_same_book(
    copy: Path, tmp_path: Path
) -> None:
    # The same book recorded again finds the forged digest stored for it: the new run chains
    # the sha256 of the digest it made, not of the stored one, so --since of it refuses too.
    first = _forge_digest(copy, _digest_of(_repriced_demo(tmp_path / "repriced")))
    again = CliRunner().invoke(app, ["run", "--ledger", str(copy), "--format", "json"])
    assert again.exit_code == 0, again.stderr
    with sqlite3.connect(copy) as conn:
        (second,) = conn.execute("SELECT run_id FROM runs WHERE run_id != ?", (first,)).fetchone()
    assert f"the stored digest of run {first}'s book is not the one" in _verify(copy).stdout
    since = CliRunner().invoke(
        app, ["run", str(tmp_path / "repriced"), "--ledger", str(copy), "--since", second]
    )
    assert since.exit_code == 1
    assert f"the stored digest of run {second}'s book is not the one the run recorded" in (
        " ".join(since.stderr.split())
    )


def test_a_stored_digest_is_vouched_for_only_when_it_holds_the_same_rows(tmp_path: Path) -> None:
    book = load_book(DEMO)
    body = book_digest(book.contract_frames(), book.meta.currency).to_bytes()
    # the same digest in other bytes (as another pyarrow might write it): compressed IPC
    table = pa.ipc.open_stream(body).read_all()
    sink = io.BytesIO()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    other = sink.getvalue()
    assert other != body
    forged = _digest_of(_repriced_demo(tmp_path / "repriced"))
    ledger = Ledger.open(str(tmp_path / "l.db"))
    try:
        with ledger.engine.begin() as conn:
            assert write_digest(conn, book.sha256, other) == sha256_hex(other)  # stored
            assert write_digest(conn, book.sha256, body) == sha256_hex(other)  # the same rows
            conn.execute(t.book_digests.update().values(body=forged))
            assert write_digest(conn, book.sha256, body) == sha256_hex(body)  # not vouched for
    finally:
        ledger.close()


_FOX = "rulebook_id = 'cftc' AND margin_set_id = 'ms:A08_FOX_FUT'"
"""The cftc decision of A08_FOX_FUT: a call of 78,600."""


@pytest.mark.parametrize(
    ("edit", "differ"),
    [
        ("status = 'ok', call = 0", "status, call"),
        # made to look like a carried entry of another set's decision: GOLF's, entry #17
        (
            "carried_from = 17, carried_hash = (SELECT entry_hash FROM decisions WHERE seq = 17), "
            "trace_sha256 = (SELECT trace_sha256 FROM decisions WHERE seq = 17)",
            "margin_set_id, account_ids, call, requirement",
        ),
    ],
)
def test_a_carried_entry_copied_from_a_source_edited_for_the_moment_fails_verify(
    copy: Path, edit: str, differ: str
) -> None:
    # An insider edits the source while a `run --since` copies it, then undoes the edit: the
    # carried copy hashes well in its own run and the source is whole again; only the
    # comparison of the two tells that the later run carried what the source never decided.
    with sqlite3.connect(copy) as conn:
        run_id, *before = conn.execute(
            "SELECT run_id, status, call, carried_from, carried_hash, trace_sha256 "
            f"FROM decisions WHERE {_FOX}"
        ).fetchone()
        conn.execute(f"UPDATE decisions SET {edit} WHERE {_FOX}")
    since = CliRunner().invoke(app, ["run", "--ledger", str(copy), "--since", run_id])
    assert since.exit_code == 0, since.stderr
    with sqlite3.connect(copy) as conn:
        conn.execute(
            "UPDATE decisions SET status = ?, call = ?, carried_from = ?, carried_hash = ?, "
            f"trace_sha256 = ? WHERE {_FOX} AND run_id = ?",
            (*before, run_id),
        )
        seq, did, carried_from = conn.execute(
            f"SELECT seq, decision_id, carried_from FROM decisions WHERE {_FOX} AND run_id != ?",
            (run_id,),
        ).fetchone()
    result = _verify(copy)
    assert result.exit_code == 1
    assert result.stdout.startswith(f"FAILED at entry #{seq} (decision {did}, run ")
    assert (
        f"entry #{seq} ({did}) carries entry #{carried_from} forward, but its {differ} differ "
        "from that entry's: one of the two was edited when the later run copied it"
    ) in " ".join(result.stdout.split())


def test_since_refuses_a_replaced_book_when_the_digest_is_gone(copy: Path, tmp_path: Path) -> None:
    # Without a stored digest, --since compares the recorded book row by row: the repriced
    # book's content stored in its place would make every set look unchanged.
    repriced = _repriced_demo(tmp_path / "repriced")
    other = tmp_path / "other.db"
    assert CliRunner().invoke(app, ["run", str(repriced), "--ledger", str(other)]).exit_code == 0
    with sqlite3.connect(other) as conn:
        (forged,) = conn.execute("SELECT blob FROM books").fetchone()
    with sqlite3.connect(copy) as conn:
        (run_id,) = conn.execute("SELECT run_id FROM runs").fetchone()
        conn.execute("DELETE FROM book_digests")
        conn.execute("UPDATE books SET blob = ?", (forged,))
    assert _refused_since(copy, repriced, run_id) == (
        f"error: nothing recorded: --since {run_id}: the book recorded for run {run_id} was "
        "replaced (its content no longer has the sha256 the run recorded); `marginlex verify` "
        "checks the ledger, and a run without --since decides every set"
    )


_FORGED_RUN = (
    "INSERT INTO runs SELECT 'r-made-up', created_at, engine_version, book_sha256, as_of, "
    "rulebooks, out_of_scope, 0, 0, 0, 0, 37, 36, book_blob_sha256, 'x', book_digest_sha256, "
    "engine_code_sha256 FROM runs"
)


@pytest.mark.parametrize(
    ("edit", "found"),
    [
        (  # shown by `ledger runs` and the console, chained by nothing
            "UPDATE runs SET ok = 36, call = 0, breach = 0",
            "FAILED at ledger: run_changed: run {run}'s record counts 36 ok, 0 call, 0 breach; "
            "its entries are 24 ok, 6 call, 6 breach: the runs table was edited",
        ),
        (
            "UPDATE runs SET first_seq = 2",
            "FAILED at ledger: run_changed: run {run}'s record says its entries are #2…#36; "
            "they are #1…#36: the runs table was edited",
        ),
        (  # the same moment to a parser, but not to `ledger --since`
            "UPDATE runs SET created_at = '1796571537'",
            "FAILED at entry #1 (decision {did}, run {run}): run_changed: entry #1 belongs to "
            "run {run}, whose record was changed into invalid values",
        ),
        (  # a run with no entry: nothing else checks its record
            _FORGED_RUN,
            "FAILED at ledger: run_changed: the record of run r-made-up was changed (or made "
            "up): it no longer hashes to the run_sha256 stored with it",
        ),
        (
            "DELETE FROM rulebook_texts WHERE sha256 = (SELECT json_extract(rulebooks, "
            "'$[0].sha256') FROM runs)",
            "FAILED at ledger: input_changed: the recorded text of rulebook sec ({sha}…) of "
            "run {run} was removed",
        ),
        (
            "UPDATE decisions SET call = 'abc' WHERE seq = 3",
            "FAILED at entry #3: changed: the entry after #2 holds a value no marginlex writes "
            "(TypeError: must be real number, not str): it was edited",
        ),
        (  # a row deleted was named, every row dropped with the table was not
            "DROP TABLE decision_keys",
            f"FAILED at ledger: keys_changed: the table decision_keys is gone from a ledger at "
            f"revision {t.SCHEMA_HEAD!r} (revision '0005_decision_keys' made it): it was dropped",
        ),
        (
            "DROP TABLE run_summaries",
            f"FAILED at ledger: summary_changed: the table run_summaries is gone from a ledger "
            f"at revision {t.SCHEMA_HEAD!r} (revision '0006_run_summaries' made it): it was "
            "dropped",
        ),
    ],
)
def test_edits_of_what_the_chain_does_not_hold_fail_verify(
    copy: Path, edit: str, found: str
) -> None:
    did, run_id, _ = _entry(copy, 1)
    with sqlite3.connect(copy) as conn:
        (sha,) = conn.execute("SELECT json_extract(rulebooks, '$[0].sha256') FROM runs").fetchone()
        conn.execute(edit)
    result = _verify(copy)
    assert result.exit_code == 1
    assert result.stdout == found.format(run=run_id, did=did, sha=sha[:12]) + "\n"
    _clean(result)


@pytest.mark.parametrize(
    ("edit", "command", "found"),
    [
        ("UPDATE decisions SET call = 'abc' WHERE seq = 3", ["ledger"], "TypeError: must be"),
        ("UPDATE decisions SET status = 'weird'", ["ledger"], "'weird' is not a valid"),
        ("UPDATE runs SET rulebooks = 'not json'", ["ledger", "runs"], "JSONDecodeError"),
        ("UPDATE runs SET created_at = 'garbage'", ["ledger", "runs"], "'garbage'"),
    ],
)
def test_a_value_no_marginlex_writes_is_an_error_not_a_traceback(
    copy: Path, edit: str, command: list[str], found: str
) -> None:
    with sqlite3.connect(copy) as conn:
        conn.execute(edit)
    result = CliRunner().invoke(app, [*command, "--ledger", str(copy)])
    assert result.exit_code == 1
    said = " ".join(result.stderr.split())
    assert said.startswith("error: the ledger cannot be read: "), said
    assert found in said
    assert said.endswith(
        "(a value in it was edited by hand, or it is not a marginlex ledger); `marginlex "
        "verify` names the first entry changed"
    )


def test_explain_of_a_carried_entry_names_an_edit_of_the_entry_it_carries(copy: Path) -> None:
    # the carried entry shows the source's run and decision id: edited there, they are named
    with sqlite3.connect(copy) as conn:
        (run_id,) = conn.execute("SELECT run_id FROM runs").fetchone()
    since = CliRunner().invoke(app, ["run", "--ledger", str(copy), "--since", run_id])
    assert since.exit_code == 0, since.stderr
    with sqlite3.connect(copy) as conn:
        conn.execute(
            f"UPDATE decisions SET decision_id = 'd-forged' WHERE {_FOX} AND run_id = ?", (run_id,)
        )
        (did,) = conn.execute(
            f"SELECT decision_id FROM decisions WHERE {_FOX} AND carried_from IS NOT NULL"
        ).fetchone()
    said = "HASH MISMATCH: entry #16 was changed after it was recorded (the entry carried here)"
    explained = CliRunner().invoke(app, ["explain", did, "--ledger", str(copy)])  # SQLite reader
    assert said in " ".join(explained.output.split())
    ledger = Ledger.open(str(copy), create=False)  # the reader PostgreSQL and the console use
    try:
        assert ledger.get_decision(did).row.mismatch == said
    finally:
        ledger.close()


def _rehashed_then_verified(path: Path, seq: int, **changes: object) -> Result:
    """An insider's edit of entry ``seq`` with the chain re-hashed after it; ``verify`` of it
    (which must fail)."""
    ledger = Ledger.open(str(path), create=False)
    rehash_from(ledger, seq, **changes)
    ledger.close()
    result = _verify(path)
    assert result.exit_code == 1
    return result


def test_a_decision_id_repeated_in_its_run_is_named(copy: Path) -> None:
    """Replay compares decisions by id: a second entry with an id of its run would pass unseen
    (one of the two compared, the other skipped) unless the walk names it."""
    did, run_id, _ = _entry(copy, 15)
    result = _rehashed_then_verified(copy, 16, decision_id=did)
    assert result.stdout.splitlines()[0] == (
        f"FAILED at entry #16 (decision {did}, run {run_id}): changed: entry #16 repeats "
        f"decision {did} of run {run_id} (entry #15): a run decides each margin set once, so "
        "one of them was added later"
    )


def test_an_entry_of_an_earlier_run_after_a_later_run_is_named(copy: Path) -> None:
    first = CliRunner().invoke(app, ["run", "--ledger", str(copy)])
    assert first.exit_code == 0, first.stderr
    _, run_id, _ = _entry(copy, 1)
    result = _rehashed_then_verified(copy, 38, run_id=run_id)
    assert f"entry #38 belongs to run {run_id}, whose entries ended at #36" in result.stdout


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        (
            "ALTER TABLE decisions RENAME TO real_decisions; "
            "CREATE VIEW decisions AS SELECT * FROM real_decisions",
            "the ledger table decisions is a view, not a table",
        ),
        (
            "CREATE TRIGGER quiet BEFORE INSERT ON decisions BEGIN SELECT 1; END",
            "the ledger holds a trigger marginlex did not create (quiet on decisions)",
        ),
    ],
)
def test_a_view_or_trigger_in_the_ledger_is_named(copy: Path, sql: str, named: str) -> None:
    """A view where the decisions table was can show readers rows that are not the chained
    ones while the chain stays whole (an insider's conditional view fooled explain)."""
    with sqlite3.connect(copy) as conn:
        conn.executescript(sql)
    result = _verify(copy)
    assert result.exit_code == 1
    assert result.stdout.startswith(f"FAILED at ledger: schema_changed: {named}")


def test_what_else_the_database_holds_is_not_the_ledgers(copy: Path) -> None:
    """A view of one's own, or an application's table with its trigger, beside the ledger's
    tables: no false alarm (an extension's views failed verify on PostgreSQL)."""
    with sqlite3.connect(copy) as conn:
        conn.executescript(
            "CREATE VIEW calls AS SELECT * FROM decisions WHERE status = 'call';"
            "CREATE TABLE app_users (id INTEGER, touched TEXT);"
            "CREATE TRIGGER app_touch AFTER INSERT ON app_users BEGIN SELECT 1; END;"
        )
    assert _verify(copy).exit_code == 0


def test_explain_refuses_a_decisions_view(copy: Path) -> None:
    with sqlite3.connect(copy) as conn:
        conn.executescript(
            "ALTER TABLE decisions RENAME TO real_decisions; "
            "CREATE VIEW decisions AS SELECT * FROM real_decisions"
        )
    result = CliRunner().invoke(app, ["explain", "cftc:ms:A08_FOX_FUT", "--ledger", str(copy)])
    assert result.exit_code == 2  # as any ledger that cannot be opened
    assert "its decisions table is a view, not a table; marginlex verify names it" in " ".join(
        result.stderr.split()
    )


def test_a_book_planted_under_the_next_books_sha256_is_refused(copy: Path, tmp_path: Path) -> None:
    """The first recording of a book wins: a row planted under tomorrow's book's sha256 would
    become the recorded input of tomorrow's genuine run, and replay would blame its decisions."""
    tomorrow = Path(shutil.copytree(DEMO, tmp_path / "tomorrow"))
    lots = (tomorrow / "collateral.csv").read_text().replace("150000.00", "140000.00", 1)
    (tomorrow / "collateral.csv").write_text(lots)
    sha = load_book(tomorrow).sha256
    with sqlite3.connect(copy) as conn:
        conn.execute("INSERT INTO books SELECT ?, blob_sha256, blob FROM books", (sha,))
    result = CliRunner().invoke(app, ["run", str(tomorrow), "--ledger", str(copy)])
    assert result.exit_code == 1
    assert "the ledger already holds a book under this book's sha256" in " ".join(
        result.stderr.split()
    )
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (1,)


def test_an_entry_edited_and_rehashed_alone_shows_hash_mismatch_where_it_is_read(
    copy: Path,
) -> None:
    """Its own hash matches again; the next entry's link does not: explain (the SQLite
    reader) and the reader PostgreSQL and the console use say HASH MISMATCH."""
    did, _, _ = _entry(copy, 7)
    ledger = Ledger.open(str(copy), create=False)
    rehash_one(ledger, 7, requirement=1)
    stored = ledger.get_decision(did)
    ledger.close()
    said = (
        "HASH MISMATCH: entry #8 is chained to another hash than this entry's: entry #7 was "
        "changed and re-hashed, or the link of #8 was edited (marginlex verify names which)"
    )
    assert stored.row.mismatch == said
    explained = CliRunner().invoke(app, ["explain", did, "--ledger", str(copy)])
    assert said in " ".join(explained.stdout.split())
    assert _verify(copy).exit_code == 1


def test_a_digest_another_library_version_made_is_the_book_s_not_an_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A ledger kept across an upgrade: the first run's digest was made by a library whose
    # digests differ (another DIGEST_VERSION); the same book recorded again by today's finds
    # it stored and chained by the first run. Before, the second run chained the sha256 of
    # a digest it could not store: verify said "book_digests was edited" and --since of it
    # refused, for a ledger nobody touched.
    path = tmp_path / "ledger.db"
    with monkeypatch.context() as older:
        older.setattr("marginlex.engine.distributed.digests.DIGEST_VERSION", 0)
        first = CliRunner().invoke(app, ["run", "--ledger", str(path)])
    assert first.exit_code == 0, first.stderr
    again = CliRunner().invoke(app, ["run", "--ledger", str(path)])
    assert again.exit_code == 0, again.stderr
    with sqlite3.connect(path) as conn:
        chained = {r[0] for r in conn.execute("SELECT book_digest_sha256 FROM runs")}
        (stored,) = conn.execute("SELECT body FROM book_digests").fetchone()
        (second,) = conn.execute("SELECT run_id FROM runs ORDER BY first_seq DESC").fetchone()
    assert chained == {sha256_hex(bytes(stored))}  # both runs chain the stored digest
    result = _verify(path)
    assert result.exit_code == 0 and result.stdout.startswith("OK: 72 entries in 2 runs"), (
        result.stdout
    )
    # --since of the second run: the stored digest (another version's) is not compared with
    # today's, so the whole book is evaluated; every set's input hash is the run's, so all
    # 36 are carried
    since = CliRunner().invoke(
        app, ["run", "--ledger", str(path), "--since", second, "--format", "json"]
    )
    assert since.exit_code == 0, since.stderr
    with sqlite3.connect(path) as conn:
        carried = conn.execute(
            "SELECT count(*) FROM decisions WHERE carried_from IS NOT NULL"
        ).fetchone()[0]
    assert carried == 36
    assert _verify(path).exit_code == 0
