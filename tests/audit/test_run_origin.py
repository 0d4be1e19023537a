"""Who ran what (issue 15, part 2): each run records its operator, host and command line
(secrets removed), chained with the run record; ``ledger runs`` and ``explain`` show them;
a run recorded before origins reads as "not recorded" and still verifies and replays."""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from marginlex.audit.ledger import origin
from marginlex.audit.ledger.origin import operator_name, scrub_command_line
from marginlex.cli import app

OLD_LEDGER = Path(__file__).parents[1] / "data" / "audit" / "ledger_1_0_demo.db"


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (
            ["run", "--ledger", "postgresql+psycopg://w:pa%20ss@db:5432/l"],
            "run --ledger 'postgresql+psycopg://w:***@db:5432/l'",
        ),
        (
            ["run", "--ledger", "postgresql://w:s3cret@db/l"],
            "run --ledger 'postgresql://w:***@db/l'",
        ),
        (
            ["run", "--token", "t-1", "--as-of", "2026-03-31"],
            "run --token '***' --as-of 2026-03-31",
        ),
        (["run", "--api-key=abc"], "run '--api-key=***'"),
        (["run", "--DB-PASSWORD", "x"], "run --DB-PASSWORD '***'"),
        (["run", "host=db user=w password=pw"], "run 'host=db user=w password=***'"),
        (["run", "https://h/x?token=abc&page=2"], "run 'https://h/x?token=***&page=2'"),
        # not secrets: the key's path, an as-of date, a plain URL
        (["run", "--sign", "k/marginlex-signing.key"], "run --sign k/marginlex-signing.key"),
        (["run", "--ledger", "postgresql://w@db/l"], "run --ledger postgresql://w@db/l"),
    ],
)
def test_secrets_are_removed_from_the_command_line(argv: list[str], shown: str) -> None:
    scrubbed = scrub_command_line(argv)
    assert scrubbed == shown
    assert not {"s3cret", "pa%20ss", "t-1", "abc", "pw"} & set(scrubbed.replace("=", " ").split())


def test_the_operator_is_the_option_else_the_environment_else_the_os_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(origin.getpass, "getuser", lambda: "os-user")
    monkeypatch.delenv("MARGINLEX_OPERATOR", raising=False)
    assert operator_name() == "os-user"
    monkeypatch.setenv("MARGINLEX_OPERATOR", "env-user")
    assert operator_name() == "env-user"
    assert operator_name("given") == "given"


def _cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo run recorded by 'alice', as the console script would see its command line."""
    path = tmp_path / "ledger.db"
    argv = ["/usr/bin/marginlex", "run", "--ledger", str(path), "--operator", "alice"]
    monkeypatch.setattr("sys.argv", [*argv, "--token", "hunter2"])
    result = _cli("run", "--ledger", str(path), "--operator", "alice")
    assert result.exit_code == 0, result.stderr
    return path


def test_a_run_records_who_ran_it_and_shows_it(recorded: Path) -> None:
    (run,) = json.loads(_cli("ledger", "runs", "--ledger", str(recorded), "-f", "json").stdout)
    command = f"marginlex run --ledger {recorded} --operator alice --token '***'"
    assert (run["operator"], run["host"], run["command_line"]) == (
        "alice",
        socket.gethostname(),
        command,
    )
    assert run["rulebook_sha256"].count("=") == 3 and len(run["book_sha256"]) == 64
    listing = _cli("ledger", "--ledger", str(recorded), "-f", "json", "--limit", "1")
    did = json.loads(listing.stdout)[0]["decision_id"]
    explained = _cli("explain", did, "--ledger", str(recorded))
    first = explained.stdout.splitlines()[0]
    assert first.endswith(f", run by alice on {socket.gethostname()}: {command}  ‹ledger entry›"), (
        first
    )
    assert "hunter2" not in Path(recorded).read_bytes().decode("latin-1")
    assert _cli("verify", "--ledger", str(recorded)).exit_code == 0


@pytest.mark.parametrize(
    "edit",
    ["UPDATE run_origins SET operator = 'mallory'", "DELETE FROM run_origins"],
    ids=["edited", "deleted"],
)
def test_an_edited_run_origin_fails_verify(recorded: Path, edit: str) -> None:
    with sqlite3.connect(recorded) as conn:
        conn.execute(edit)
        run_id = conn.execute("SELECT run_id FROM runs").fetchone()[0]
    result = _cli("verify", "--ledger", str(recorded))
    assert result.exit_code == 1
    assert result.stdout.endswith(
        f"run_changed: the record of run {run_id} (book, as-of, rulebooks, who ran it…) "
        "was changed\n"
    ), result.stdout


def test_a_ledger_from_before_origins_reads_not_recorded_and_replays(tmp_path: Path) -> None:
    path = Path(shutil.copyfile(OLD_LEDGER, tmp_path / "old.db"))
    runs = json.loads(_cli("ledger", "runs", "--ledger", str(path), "-f", "json").stdout)
    assert {(r["operator"], r["host"], r["command_line"]) for r in runs} == {
        ("not recorded", "not recorded", "not recorded")
    }
    did = json.loads(_cli("ledger", "--ledger", str(path), "-f", "json").stdout)[0]["decision_id"]
    first = _cli("explain", did, "--ledger", str(path)).stdout.splitlines()[0]
    assert first.endswith(", who ran it: not recorded  ‹ledger entry›")
    replayed = _cli("verify", "--replay", "--ledger", str(path))
    assert replayed.exit_code == 0, replayed.output
    assert replayed.stdout.splitlines()[-1] == (
        "replayed 28 decisions: every one identical, byte for byte"
    )
    assert path.read_bytes() == OLD_LEDGER.read_bytes()  # read, never written
