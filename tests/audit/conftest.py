"""Fixtures of the audit tests: the hand-built decision, ledgers on SQLite and PostgreSQL."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import psycopg
import pytest
from audit_helpers import DATA

from marginlex.audit.trace.model import DecisionTrace


@pytest.fixture(scope="session")
def pm_trace() -> DecisionTrace:
    """The realistic portfolio-margin decision (stock + short put, treasury lot, BTC capped)."""
    return DecisionTrace.model_validate_json((DATA / "pm_decision.json").read_text())


# --- PostgreSQL: a real server started for the session, one database per test ------------

_PG_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def _as_postgres(args: list[str]) -> list[str]:
    # initdb refuses to run as root; the tests run as root in CI and in the team's box.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _pg(args: list[str]) -> None:
    done = subprocess.run(_as_postgres(args), check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:1])} failed:\n{done.stdout}{done.stderr}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """Start PostgreSQL on 127.0.0.1 for the session; yield its base URL (no database)."""
    if not _PG_BINS:
        pytest.skip(
            "no PostgreSQL binaries under /usr/lib/postgresql/*/bin: postgres tests skipped"
        )
    bindir = Path(_PG_BINS[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="marginlex-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", _free_port()
    _pg([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    _pg(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "log"),
            "-w",
            "start",
        ]
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


_schemas = count(1)


@pytest.fixture(scope="session")
def pg_database(pg_server: str) -> str:
    """One database for the session; each test gets its own schema in it (cheap to make)."""
    plain = pg_server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE ledgers")
    return f"{pg_server}/ledgers"


def _new_schema(database: str) -> str:
    name = f"ledger_{next(_schemas)}"
    plain = database.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    return f"{database}?options=-csearch_path%3D{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty ledger location on each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    return _new_schema(request.getfixturevalue("pg_database"))
