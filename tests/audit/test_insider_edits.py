"""An insider's SQL on a recorded demo run (issue 15, part 1, second half).

An edited requirement with the chain re-hashed after it passes plain ``verify`` (the chain
is consistent again) but not ``verify --replay``, which compares each entry's stored columns
with what the engine recomputes. A byte changed in a stored trace or book blob is named by
``verify``, with no traceback and nothing unprintable on the terminal.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from audit_helpers import rehash_from
from typer.testing import CliRunner, Result

from marginlex.audit.ledger.store import Ledger
from marginlex.cli import app


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
    assert plain.exit_code == 0 and plain.stdout.startswith("OK: 34 entries in 1 runs")
    replayed = _verify(copy, "--replay")
    assert replayed.exit_code == 1
    assert replayed.stdout.splitlines()[1:] == [
        "replayed 34 decisions: 1 differ",
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
