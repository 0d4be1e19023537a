"""``marginlex run --ledger postgresql+psycopg://…`` end to end, on the real PostgreSQL server.

The session's server comes from ``conftest.py`` (``pg_database``); every test records into a
schema of its own, so the tests stay independent (and can run under ``pytest -n 2``, where
each worker starts its own server). The demo book decides 36 margin sets: 13 under sec,
6 under cftc and 17 under harmonized (``tests/data/evaluate/demo_run.json``).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from audit_helpers import mask_entry
from typer.testing import CliRunner, Result

from marginlex.audit.ledger.store import Ledger
from marginlex.cli import app

pytestmark = pytest.mark.postgres

DATA = Path(__file__).parents[1] / "data"
GOLDEN_RUN = DATA / "evaluate" / "demo_run.json"
GOLDEN_EXPLAIN = DATA / "audit" / "golden" / "demo" / "cftc_A08_FOX_FUT.txt"
DEMO_DECISIONS = 36  # 13 sec + 6 cftc + 17 harmonized margin sets
RECORDED = re.compile(
    r"^recorded run (r-[0-9a-f]{16}): (\d+) decisions \(3 rulebooks\) in (.+)$", re.MULTILINE
)
CHANGED = (
    "FAILED at entry #{seq} (decision {did}, run {run}): changed: entry #{seq} ({did}) "
    "was changed: its columns or trace no longer match its hash"
)  # the message verify gives on SQLite (tests/audit/test_explain.py)


def _plain(url: str) -> str:
    """The URL as libpq spells it (psycopg does not know the SQLAlchemy driver suffix)."""
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def pg_schema(pg_database: str) -> tuple[str, str]:
    """A fresh, empty schema of the session's ledger database: (its name, a ledger URL)."""
    name = f"cli_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_plain(pg_database), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    return name, f"{pg_database}?options=-csearch_path%3D{name}"


@pytest.fixture
def pg_url(pg_schema: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("MARGINLEX_LEDGER", raising=False)
    return pg_schema[1]


def _cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _record(*ledger: str) -> str:
    """``marginlex run`` on the demo book; the run id it prints."""
    result = _cli("run", *ledger)
    assert result.exit_code == 0, result.stderr
    match = RECORDED.search(result.stdout)
    assert match is not None, result.stdout
    assert int(match[2]) == DEMO_DECISIONS
    return match[1]


def _listing(*ledger: str) -> list[dict[str, Any]]:
    result = _cli("ledger", "--format", "json", *ledger)
    assert result.exit_code == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def _figures(rows: list[dict[str, Any]]) -> list[tuple[str, str, str, str, str]]:
    return sorted(
        (
            r["rulebook_id"],
            r["margin_set_id"],
            r["status"],
            f"{r['requirement']:.2f}",
            f"{r['call']:.2f}",
        )
        for r in rows
    )


def _golden_figures() -> list[tuple[str, str, str, str, str]]:
    golden = json.loads(GOLDEN_RUN.read_text(encoding="utf-8"))
    return sorted(
        (rulebook, d["margin_set_id"], d["status"], f"{d['requirement']:.2f}", f"{d['call']:.2f}")
        for rulebook, run in golden.items()
        for d in run["decisions"]
    )


def _id_of(rows: list[dict[str, Any]], rulebook: str, margin_set: str) -> dict[str, Any]:
    (row,) = [r for r in rows if (r["rulebook_id"], r["margin_set_id"]) == (rulebook, margin_set)]
    return row


@pytest.mark.parametrize("via", ["option", "env"])
def test_run_records_what_ledger_lists(
    pg_url: str, via: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger: tuple[str, ...] = ("--ledger", pg_url)
    if via == "env":
        monkeypatch.setenv("MARGINLEX_LEDGER", pg_url)
        ledger = ()
    result = _cli("run", *ledger)
    assert result.exit_code == 0, result.stderr
    match = RECORDED.search(result.stdout)
    assert match is not None, result.stdout
    run_id, count, location = match[1], int(match[2]), match[3]
    assert (count, location) == (DEMO_DECISIONS, pg_url)
    rows = _listing(*ledger)
    assert [r["seq"] for r in rows] == list(range(1, DEMO_DECISIONS + 1))
    assert {r["run_id"] for r in rows} == {run_id}
    per_rulebook = {b: sum(r["rulebook_id"] == b for r in rows) for b in ("sec", "cftc")}
    assert per_rulebook == {"sec": 13, "cftc": 6}
    # Every recorded figure is the one `run --json` prints for the demo book (the golden).
    assert _figures(rows) == _golden_figures()
    calls = [(r["rulebook_id"], r["margin_set_id"], r["call"]) for r in rows if r["call"] != 0]
    # Futures customers below maintenance are called back to initial (110%): 231,000 -
    # 152,400 (digital assets capped at 40% of initial) and 62,700 - 10,000 (GOLF's 2 ES,
    # 42,000, and 50 crypto perpetuals at 30%, 15,000: 57,000, initial 62,700); the cash
    # account's 50,000 debit is called whole (12 CFR 220.8(a)(1)).
    # Money in JSON: a number rounded to the cent.
    assert calls == [
        ("sec", "ms:A16_NOVA_CASH", 50000.0),
        ("cftc", "ms:A08_FOX_FUT", 78600.0),
        ("cftc", "ms:A09_GOLF_FUT", 52700.0),
        ("harmonized", "ms:A08_FOX_FUT", 78600.0),
        ("harmonized", "ms:A09_GOLF_FUT", 52700.0),
        ("harmonized", "ms:A16_NOVA_CASH", 50000.0),
    ]


def test_verify_and_replay_pass(pg_schema: tuple[str, str], pg_url: str) -> None:
    _record("--ledger", pg_url)
    with psycopg.connect(_plain(pg_url)) as conn:
        head = conn.execute(f"SELECT entry_hash FROM {pg_schema[0]}.decisions WHERE seq = 36")
        head_hash = head.fetchone()[0]  # type: ignore[index]
    result = _cli("verify", "--ledger", pg_url)
    assert result.exit_code == 0, result.stdout
    assert result.stdout == f"OK: 36 entries in 1 runs; the chain is intact; head #36 {head_hash}\n"
    result = _cli("verify", "--replay", "--ledger", pg_url)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"OK: 36 entries in 1 runs; the chain is intact; head #36 {head_hash}",
        "replayed 36 decisions: every one identical, byte for byte",
    ]


def test_explain_agrees_with_sqlite_byte_for_byte(pg_url: str, tmp_path: Path) -> None:
    sqlite_path = str(tmp_path / "same.db")
    _record("--ledger", pg_url)
    _record("--ledger", sqlite_path)
    on_pg, on_sqlite = _listing("--ledger", pg_url), _listing("--ledger", sqlite_path)
    # Decision ids are content-addressed: the same run gives the same ids on both backends.
    assert [r["decision_id"] for r in on_pg] == [r["decision_id"] for r in on_sqlite]
    fox = _id_of(on_pg, "cftc", "ms:A08_FOX_FUT")["decision_id"]
    # Every decision as text; the call on A08 (a capped digital-asset lot) in every format.
    cases = [(r["decision_id"], "text") for r in on_pg] + [(fox, "json"), (fox, "html")]
    for decision_id, fmt in cases:
        args = ("explain", decision_id, "--format", fmt, "--ledger")
        pg, lite = _cli(*args, pg_url), _cli(*args, sqlite_path)
        assert (pg.exit_code, lite.exit_code) == (0, 0), pg.stderr + lite.stderr
        # the same but for the run id, recorded time and entry hash each recording has
        assert mask_entry(pg.stdout) == mask_entry(lite.stdout), (decision_id, fmt)
    text = _cli("explain", fox, "--ledger", pg_url).stdout
    assert mask_entry(text) == GOLDEN_EXPLAIN.read_text(encoding="utf-8")


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_a_call_edited_in_sql_fails_verify_at_that_entry(
    pg_url: str, backend: str, tmp_path: Path
) -> None:
    location = pg_url if backend == "postgresql" else str(tmp_path / "tampered.db")
    run_id = _record("--ledger", location)
    fox = _id_of(_listing("--ledger", location), "cftc", "ms:A08_FOX_FUT")
    assert (fox["seq"], fox["call"]) == (16, 78600.0)
    wipe = "UPDATE decisions SET call = 0 WHERE decision_id = "
    if backend == "postgresql":
        with psycopg.connect(_plain(pg_url)) as conn:  # commits on leaving the block
            assert conn.execute(wipe + "%s", (fox["decision_id"],)).rowcount == 1
    else:
        with sqlite3.connect(location) as lite:
            assert lite.execute(wipe + "?", (fox["decision_id"],)).rowcount == 1
        lite.close()
    result = _cli("verify", "--ledger", location)
    assert result.exit_code == 1
    assert result.stdout == CHANGED.format(seq=16, did=fox["decision_id"], run=run_id) + "\n"


def _waiting_backends(url: str) -> int:
    with psycopg.connect(_plain(url), autocommit=True) as conn:
        row = conn.execute("SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted")
        return int(row.fetchone()[0])  # type: ignore[index]


def test_two_runs_at_once_both_land_with_the_chain_intact(
    pg_schema: tuple[str, str], pg_url: str
) -> None:
    Ledger.open(pg_url).close()  # the tables, so that the test can lock them
    env = {k: v for k, v in os.environ.items() if k != "MARGINLEX_LEDGER"}
    command = [sys.executable, "-m", "marginlex", "run", "--ledger", pg_url]
    with psycopg.connect(_plain(pg_url)) as gate:
        # Hold the decisions table until both runs wait to write: they really contend.
        gate.execute(f"LOCK TABLE {pg_schema[0]}.decisions IN ACCESS EXCLUSIVE MODE")
        runs = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        deadline = time.monotonic() + 60
        while _waiting_backends(pg_url) < 2:
            early = [p for p in runs if p.poll() is not None]
            assert not early, f"a run exited early: {early[0].communicate()[1].decode()}"
            assert time.monotonic() < deadline, "the two runs never both waited to write"
            time.sleep(0.05)
    printed = []
    for proc in runs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        match = RECORDED.search(out.decode())
        assert match is not None and int(match[2]) == DEMO_DECISIONS, out.decode()
        printed.append(match[1])
    assert len(set(printed)) == 2
    result = _cli("verify", "--ledger", pg_url)
    assert result.exit_code == 0, result.stdout
    assert result.stdout.startswith("OK: 72 entries in 2 runs; the chain is intact; head #72 ")
    rows = _listing("--ledger", pg_url)
    assert sorted({r["run_id"] for r in rows}) == sorted(printed)
    for run_id in printed:  # each run is one contiguous block of the chain
        seqs = [r["seq"] for r in rows if r["run_id"] == run_id]
        assert seqs == list(range(seqs[0], seqs[0] + DEMO_DECISIONS))


def test_a_held_write_lock_is_said_with_its_holder_and_the_wait_is_bounded(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another session holding the ledgers' advisory write lock: `run` waited for ever, in
    silence. It now says so at once, naming the holder's backend pid, and gives up after
    the wait (2 s here, 300 s by default): exit 1, the ledger as it was (one run, 6 sets)."""
    from marginlex.audit.ledger import locks  # noqa: PLC0415

    assert _cli("run", "-r", "cftc", "--ledger", pg_url).exit_code == 0
    monkeypatch.setattr(locks, "LOCK_WAIT_SECONDS", 2.0)
    with psycopg.connect(_plain(pg_url), application_name="holder") as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (0x6D6C6578,))  # held to rollback
        pid = holder.info.backend_pid
        result = _cli("run", "-r", "cftc", "--ledger", pg_url)
    assert result.exit_code == 1
    said = " ".join(result.stderr.split())
    assert f"its write lock is held by pid {pid} (postgres, holder from 127.0.0.1);" in said
    assert "waiting up to 2 s" in said
    assert "error: nothing recorded: the ledger" in said and "stayed locked for 2 s" in said
    listed = _cli("ledger", "--ledger", pg_url, "-f", "csv")
    assert len(listed.stdout.splitlines()) == 1 + 6  # the header and the first run's 6 sets


def test_call_above_past_numeric_range_chooses_as_a_bound_in_range(pg_url: str) -> None:
    """``ledger --call-above`` past PostgreSQL's numeric range stopped with "value overflows
    numeric format" (a traceback; the console's filter had the same 500). The bound is held
    within the cents a call can hold and floored to the cent, choosing the same calls."""
    _record("--ledger", pg_url)

    def chosen(bound: str) -> int:
        result = _cli("ledger", "--format", "json", "--call-above", bound, "--ledger", pg_url)
        assert result.exit_code == 0, result.stderr
        return len(json.loads(result.stdout))

    assert chosen("1e131072") == chosen("1e1000000") == 0
    assert chosen("-1e131072") == chosen("-1e1000000") == DEMO_DECISIONS
    assert chosen("1e-1000000") == chosen("0.001") == 6  # the six calls above
    assert chosen("49999.999") == 6 and chosen("50000") == 4  # 78,600 and 52,700, twice each
