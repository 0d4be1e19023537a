"""A ledger `run` cannot record in is said before anything is evaluated, a locked one is said
while it is waited for (and the wait is bounded), and `explain` refuses cuts it cannot make."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from marginlex.audit.ledger import locks
from marginlex.cli import app, run_command

runner = CliRunner()

# The cftc rulebook decides 6 margin sets of the demo book (tests/cli/test_default_ledger.py).
CFTC_SETS = 6


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ledger = tmp_path_factory.mktemp("guards") / "ledger.db"
    done = runner.invoke(app, ["run", "-r", "cftc", "--ledger", str(ledger)])
    assert done.exit_code == 0, done.output
    return ledger


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def no_evaluation(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records each evaluation `run` starts (none may start when the ledger is refused)."""
    started: list[str] = []

    def evaluate(*args: object, **kwargs: object) -> object:
        started.append("evaluated")
        raise AssertionError("the book was evaluated before the ledger was checked")

    monkeypatch.setattr(run_command, "_run_or_exit", evaluate)
    return started


def test_a_file_that_is_not_a_database_is_refused_before_evaluating(
    tmp_path: Path, no_evaluation: list[str]
) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("meeting notes, not a database\n", encoding="utf-8")
    before = _sha(notes)
    result = runner.invoke(app, ["run", "-r", "cftc", "--ledger", str(notes)])
    assert result.exit_code == 1
    assert no_evaluation == []  # it was said only after the whole evaluation
    said = " ".join(result.stderr.split())
    assert (
        f"error: nothing recorded: cannot open the ledger sqlite:///{notes.resolve()}: file is "
        "not a database; it was left as it was: give a new file or a ledger's path"
    ) in said
    assert _sha(notes) == before  # left as it was


def test_a_database_of_other_tables_is_refused_before_evaluating(
    tmp_path: Path, no_evaluation: list[str]
) -> None:
    import sqlite3  # noqa: PLC0415

    app_db = tmp_path / "app.db"
    with sqlite3.connect(app_db) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.close()
    result = runner.invoke(app, ["run", "-r", "cftc", "--ledger", str(app_db)])
    assert result.exit_code == 1 and no_evaluation == []
    assert "is a database holding other tables (customers)" in " ".join(result.stderr.split())


@pytest.mark.parametrize("given", ["sqlite:///:memory:", ":memory:"])
def test_an_in_memory_ledger_is_refused_and_no_file_is_made(
    given: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_evaluation: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["run", "-r", "cftc", "--ledger", given])
    assert result.exit_code == 1 and no_evaluation == []
    said = " ".join(result.stderr.split())
    assert f"error: nothing recorded: {given} is an in-memory database" in said
    assert "give a file path" in said
    assert list(tmp_path.iterdir()) == []  # it made a 1 MB file named ":memory:"


@pytest.mark.parametrize(
    ("given", "said"),
    [
        # port 1 on the loopback: nothing listens there, so the connection is refused
        (
            "postgresql+psycopg://auditor:s3cret@127.0.0.1:1/margin",
            "cannot open the ledger "
            "postgresql+psycopg://auditor:***@127.0.0.1:1/margin: connection failed",
        ),
        ("mysql://db/margin", "unsupported ledger URL 'mysql://db/margin'"),
        ("no/such/folder/l.db", "there is no folder"),
    ],
)
def test_a_ledger_that_cannot_be_reached_is_said_before_evaluating(
    given: str, said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_evaluation: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["run", "-r", "cftc", "--ledger", given])
    assert result.exit_code == 1 and no_evaluation == []
    assert said in " ".join(result.stderr.split())
    assert "s3cret" not in result.stderr


def test_a_named_pipe_or_a_device_is_refused_before_evaluating(
    tmp_path: Path, no_evaluation: list[str]
) -> None:
    """A named pipe given as the ledger hung `run` for ever after evaluating (SQLite's open
    waits for a writer); /dev/null was "disk I/O error" after the whole evaluation."""
    pipe = tmp_path / "ledger.db"
    os.mkfifo(pipe)
    for given in (pipe, Path("/dev/null")):
        result = runner.invoke(app, ["run", "-r", "cftc", "--ledger", str(given)])
        assert result.exit_code == 1 and no_evaluation == []
        said = " ".join(result.stderr.split())
        assert f"error: nothing recorded: cannot record in {given}: it is not a file" in said
    assert stat.S_ISFIFO(pipe.stat().st_mode)  # left as it was


@pytest.fixture
def held(recorded: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the ledger's write lock (an exclusive transaction)."""
    script = textwrap.dedent(
        f"""
        import sqlite3, sys
        conn = sqlite3.connect({str(recorded)!r}, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        print("locked", flush=True)
        sys.stdin.readline()
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    yield holder
    if holder.poll() is None:
        holder.communicate("\n", timeout=30)


def test_a_locked_ledger_is_said_at_once_and_the_wait_is_bounded(
    recorded: Path, held: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(locks, "LOCK_WAIT_SECONDS", 2.0)
    before = _sha(recorded)
    result = runner.invoke(app, ["run", "-r", "cftc", "--ledger", str(recorded)])
    assert result.exit_code == 1
    said = " ".join(result.stderr.split())
    # Said while waiting (it waited up to SQLite's 5 minutes in silence), naming the holder.
    assert (
        f"waiting for the ledger {recorded.resolve()}: it is locked, held by pid {held.pid}" in said
    )
    assert "waiting up to 2 s" in said
    assert (
        f"error: nothing recorded: the ledger {recorded.resolve()} stayed locked for 2 s, "
        f"held by pid {held.pid}"
    ) in said
    held.communicate("\n", timeout=30)  # released: the file is read as it is
    assert _sha(recorded) == before  # untouched
    listed = runner.invoke(app, ["ledger", "--ledger", str(recorded), "-f", "csv"])
    assert len(listed.stdout.splitlines()) == 1 + CFTC_SETS  # header and the one run's sets


def test_explain_on_a_locked_ledger_says_it_waits_and_gives_up(
    recorded: Path, held: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`explain` reads with the standard library's sqlite3: it waited for a writer's lock
    in silence too (5 minutes)."""
    monkeypatch.setattr(locks, "LOCK_WAIT_SECONDS", 2.0)
    result = runner.invoke(app, ["explain", "cftc:ms:A08_FOX_FUT", "--ledger", str(recorded)])
    assert result.exit_code == 2 and result.stdout == ""
    said = " ".join(result.stderr.split())
    where = recorded.resolve()
    assert f"waiting for the ledger {where}: it is locked, held by pid {held.pid}" in said
    assert f"the ledger {where} stayed locked for 2 s, held by pid {held.pid}" in said


@pytest.fixture
def held_later(recorded: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process that takes the ledger's write lock (an exclusive transaction) when
    told to, once the command has read what it opens the ledger with."""
    script = textwrap.dedent(
        f"""
        import sqlite3, sys
        conn = sqlite3.connect({str(recorded)!r}, isolation_level=None)
        sys.stdin.readline()
        conn.execute("BEGIN EXCLUSIVE")
        print("locked", flush=True)
        sys.stdin.readline()
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    yield holder
    if holder.poll() is None:
        holder.communicate("\n", timeout=30)


@pytest.mark.parametrize(
    "args",
    [
        ["explain", "cftc:ms:A08_FOX_FUT"],
        ["ledger"],
        ["ledger", "runs"],
        ["verify"],
    ],
)
def test_a_lock_taken_after_the_first_read_is_said_and_bounded_too(
    recorded: Path,
    held_later: subprocess.Popen[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
) -> None:
    """Only the read that opens the ledger waited as above: a writer that locked the file
    after it (a run committing) made every later read wait SQLite's 5 minutes in silence,
    then `explain` ended in a traceback ("database is locked"), `ledger` blamed a value
    edited by hand, and `verify` said the ledger cannot be read (exit 1, as for a ledger
    that failed)."""
    from marginlex.audit.ledger import sqlite_read, store  # noqa: PLC0415

    monkeypatch.setattr(locks, "LOCK_WAIT_SECONDS", 2.0)
    monkeypatch.setattr(locks, "BUSY_TIMEOUT_MS", 2000)  # SQLite's own wait, cut to 2 s

    def lock() -> None:
        assert held_later.stdin is not None and held_later.stdout is not None
        held_later.stdin.write("\n")
        held_later.stdin.flush()
        assert held_later.stdout.readline() == "locked\n"

    def opened(original: Any) -> Any:
        def then_locked(*a: Any, **k: Any) -> Any:
            found = original(*a, **k)
            lock()
            return found

        return then_locked

    monkeypatch.setattr(
        sqlite_read.SqliteDecisionReader,
        "_open",
        opened(sqlite_read.SqliteDecisionReader._open),
    )
    monkeypatch.setattr(store.Ledger, "load_dictionaries", opened(store.Ledger.load_dictionaries))
    result = runner.invoke(app, [*args, "--ledger", str(recorded)])
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    assert result.exit_code == 2 and result.stdout == ""
    said = " ".join(result.stderr.split())
    where = recorded.resolve()
    assert f"waiting for the ledger {where}: it is locked, held by pid {held_later.pid}" in said
    assert (
        f"error: the ledger {where} stayed locked for 2 s, held by pid {held_later.pid}"
    ) in said


def test_a_lock_released_during_the_wait_records_the_run(
    recorded: Path, held: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    said: list[str] = []

    def release(message: str) -> None:  # told it waits: the holder then lets go
        said.append(message)
        held.communicate("\n", timeout=30)

    monkeypatch.setattr(locks, "lock_wait_notice", release)
    result = runner.invoke(app, ["run", "-r", "cftc", "--ledger", str(recorded)])
    assert result.exit_code == 0, result.output
    assert len(said) == 1 and said[0].startswith("waiting for the ledger")
    assert "recorded run" in result.stdout
    listed = runner.invoke(app, ["ledger", "--ledger", str(recorded), "-f", "csv"])
    assert len(listed.stdout.splitlines()) == 1 + 2 * CFTC_SETS  # two runs of 6 sets


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["--what-if", "--depth", "1"],
            "--depth cuts the decision's tree; --what-if lists changes, not the tree",
        ),
        (
            ["--what-if", "--depth", "0", "--section", "requirement"],
            "--depth and --section cut the decision's tree; --what-if lists changes",
        ),
        (["--format", "json", "--depth", "1"], "--depth cuts the text form; --format json"),
        (["--json", "--section", "book"], "--section cuts the text form; --format json"),
        (["--format", "html", "--depth", "2"], "--depth cuts the text form; --format html"),
    ],
)
def test_explain_refuses_a_cut_it_would_ignore(recorded: Path, args: list[str], said: str) -> None:
    result = runner.invoke(
        app, ["explain", "cftc:ms:A08_FOX_FUT", "--ledger", str(recorded), *args]
    )
    assert result.exit_code == 2  # it printed the whole list (or trace), exit 0
    assert said in " ".join(result.stderr.split())
    assert result.stdout == ""


def test_explain_still_cuts_the_text(recorded: Path) -> None:
    result = runner.invoke(
        app, ["explain", "cftc:ms:A08_FOX_FUT", "--ledger", str(recorded), "--depth", "0"]
    )
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2  # the ledger entry line and the decision line
