"""A PostgreSQL ledger that refuses edits (issue 15, part 3), on the suite's real server.

``ledger init URL --roles`` makes a writer role (INSERT, SELECT), a reader role (SELECT) and
triggers refusing UPDATE, DELETE and TRUNCATE; ``run`` records as the writer, ``verify``
reads as the reader, and an edit is refused with a clear message, whoever tries it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner, Result

from marginlex.cli import app

pytestmark = pytest.mark.postgres
REFUSED = "marginlex ledger: {op} on table {table} refused: the ledger is append-only"


def _cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def owner_url(pg_database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh schema, and logins that are members of the writer and reader roles."""
    monkeypatch.delenv("MARGINLEX_LEDGER", raising=False)
    name = f"roles_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_plain(pg_database), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    return f"{pg_database}?options=-csearch_path%3D{name}"


def _as(url: str, login: str) -> str:
    return url.replace("://postgres@", f"://{login}@")


def _logins(url: str) -> None:
    with psycopg.connect(_plain(url), autocommit=True) as conn:
        for login, role in (("w_login", "marginlex_writer"), ("r_login", "marginlex_reader")):
            if conn.execute("SELECT FROM pg_roles WHERE rolname = %s", (login,)).fetchone():
                continue
            conn.execute(f"CREATE ROLE {login} LOGIN IN ROLE {role}")


def _refused(url: str, statement: str) -> str:
    with (
        psycopg.connect(_plain(url), autocommit=True) as conn,
        pytest.raises(psycopg.Error) as caught,
    ):
        conn.execute(statement)
    return str(caught.value).splitlines()[0]


def test_the_writer_records_the_reader_verifies_and_nobody_edits(owner_url: str) -> None:
    made = _cli("ledger", "init", owner_url, "--roles")
    assert made.exit_code == 0, made.output
    assert "roles: marginlex_writer (INSERT, SELECT), marginlex_reader (SELECT)" in made.stdout
    assert "decisions" in made.stdout.splitlines()[-1]
    _logins(owner_url)
    writer, reader = _as(owner_url, "w_login"), _as(owner_url, "r_login")
    recorded = _cli("run", "--ledger", writer)
    assert recorded.exit_code == 0, recorded.stderr
    checked = _cli("verify", "--ledger", reader)
    assert checked.exit_code == 0 and checked.stdout.startswith("OK: 34 entries in 1 runs")
    # the writer has no UPDATE or DELETE privilege; the reader no INSERT
    update = "UPDATE decisions SET requirement = 1 WHERE seq = 1"
    assert _refused(writer, update) == "permission denied for table decisions"
    assert _refused(writer, "DELETE FROM runs") == "permission denied for table runs"
    assert _refused(reader, "INSERT INTO ledger_meta VALUES ('k', 'v')") == (
        "permission denied for table ledger_meta"
    )
    # the owner may, but the triggers refuse
    assert _refused(owner_url, update) == REFUSED.format(op="UPDATE", table="decisions")
    assert _refused(owner_url, "DELETE FROM runs") == REFUSED.format(op="DELETE", table="runs")
    assert _refused(owner_url, "TRUNCATE books") == REFUSED.format(op="TRUNCATE", table="books")
    again = _cli("verify", "--ledger", reader)
    assert again.exit_code == 0, again.stdout


def test_roles_on_a_sqlite_file_are_refused(tmp_path: Path) -> None:
    result = _cli("ledger", "init", f"{tmp_path}/l.db", "--roles")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: --roles needs a PostgreSQL ledger")
