"""The decisions' lookup keys (``decision_keys``, revision 0005): the account, failed
requirement and rule filters read them; they agree with the traces (the scan an older
ledger falls back to); an upgraded 0003 ledger gets them from its traces, its chain unchanged.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from console_books import HOSTILE, Recorded
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.decision_keys import backfill, keys_of, read_sets, set_id
from marginlex.audit.ledger.run_summaries import _keyed_failures, _traced_failures
from marginlex.audit.ledger.store import Ledger
from marginlex.cli import app
from marginlex.console.app import create_app
from marginlex.console.queries import DecisionFilter, find_decisions
from marginlex.console.security import LOOPBACK

OLD_LEDGER = Path(__file__).parents[1] / "data" / "audit" / "ledger_1_0_demo.db"
FILTERS = (
    {"account": "A08_FOX_FUT"},
    {"account": HOSTILE},
    {"account": "A0"},  # a prefix of ids names no account: the keys match whole ids
    {"failed": "min_equity"},
    {"failed": "min_equity", "rulebook": "sec"},
    {"rule": "sec_portfolio_margin"},
    {"rule": "cftc_digital_cap", "status": "call"},
    {"rule": "sec_strategy_based", "failed": "min_equity"},
)


def _seqs(ledger: Ledger, keyed: bool, **where: str) -> list[int]:
    ledger._keyed = keyed  # False: the LIKE and trace-scan paths of a ledger without keys
    page = find_decisions(ledger, DecisionFilter.model_validate(where), 1, size=500)
    return [row.seq for row in page.rows]


@pytest.mark.parametrize("where", FILTERS, ids=lambda w: "&".join(f"{k}={v}" for k, v in w.items()))
def test_the_keys_find_what_the_traces_say(recorded: Recorded, where: dict[str, str]) -> None:
    ledger = Ledger.open(recorded.location, create=False)
    try:
        assert _seqs(ledger, True, **where) == _seqs(ledger, False, **where)
    finally:
        ledger.close()


def test_a_rule_and_an_account_hand_counted(client: TestClient, recorded: Recorded) -> None:
    # the demo book: 4 sec and 5 harmonized margin sets are portfolio-margined (rule
    # sec_portfolio_margin; the house account H_BD1 no longer is, issue 14 section 6, nor
    # A14_LIMA_FIN and A15_MIKE_MGN, margin accounts without an agreement);
    # A08_FOX_FUT's margin set is under cftc and harmonized, in each of
    # the first two runs
    by_rule = client.get(f"/decisions.csv?run={recorded.demo}&rule=sec_portfolio_margin").text
    rulebooks = [line.split(",")[2] for line in by_rule.splitlines()[1:]]
    assert sorted(rulebooks) == ["harmonized"] * 5 + ["sec"] * 4
    listed = client.get("/decisions.csv?account=A08_FOX_FUT").text.splitlines()
    assert len(listed) - 1 == 4


def test_recorded_keys_are_what_a_backfill_rebuilds(recorded: Recorded) -> None:
    ledger = Ledger.open(recorded.location, create=False)
    try:
        with ledger.engine.connect() as conn:
            query = t.decision_keys.select().order_by(*t.decision_keys.c)
            written = [tuple(r) for r in conn.execute(query)]
            conn.rollback()
            backfill(conn)  # rebuilt from the traces, then rolled back
            rebuilt = [tuple(r) for r in conn.execute(query)]
            conn.rollback()
    finally:
        ledger.close()
    assert written == rebuilt and len(written) > 102


def _entries(path: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT seq, entry_hash FROM decisions ORDER BY seq").fetchall()


def test_an_upgraded_ledger_is_backfilled_and_its_chain_unchanged(tmp_path: Path) -> None:
    path = Path(shutil.copyfile(OLD_LEDGER, tmp_path / "old.db"))
    before = _entries(path)
    result = CliRunner().invoke(app, ["ledger", "upgrade", "--ledger", str(path)])
    assert result.exit_code == 0, result.output
    assert _entries(path) == before and len(before) == 28
    ledger = Ledger.open(str(path), create=False)
    try:
        with ledger.engine.connect() as conn:
            stored = {(r.seq, r.kind, r.key) for r in conn.execute(t.decision_keys.select())}
        expected = set()
        for seq, body in sorted(ledger.trace_bodies(s for s, _ in before).items()):
            (row,) = ledger.query(limit=1, offset=seq - 1)
            expected |= set(keys_of(seq, '["' + '","'.join(row.account_ids) + '"]', body))
        assert stored == expected
        accounts = sum(len(r.account_ids) for r in ledger.query())
        assert sum(1 for _, kind, _ in stored if kind == "account") == accounts
        for where in FILTERS:
            assert _seqs(ledger, True, **where) == _seqs(ledger, False, **where), where
    finally:
        ledger.close()
    verified = CliRunner().invoke(app, ["verify", "--ledger", str(path)])
    assert verified.exit_code == 0, verified.output


def test_an_older_ledger_opened_for_writing_gets_its_keys(tmp_path: Path) -> None:
    path = Path(shutil.copyfile(OLD_LEDGER, tmp_path / "old.db"))
    Ledger.open(str(path)).close()  # create: the tables of the head, stamped with it
    with sqlite3.connect(path) as conn:
        (count,) = conn.execute("SELECT count(DISTINCT seq) FROM decision_keys").fetchone()
    assert count == 28


def test_an_older_ledger_served_as_it_is_still_filters(tmp_path: Path) -> None:
    path = Path(shutil.copyfile(OLD_LEDGER, tmp_path / "old.db"))
    with TestClient(create_app(str(path)), base_url=LOOPBACK) as client:
        rows = client.get("/decisions.csv?failed=min_equity").text.splitlines()
        keyed_path = Path(shutil.copyfile(OLD_LEDGER, tmp_path / "up.db"))
        CliRunner().invoke(app, ["ledger", "upgrade", "--ledger", str(keyed_path)])
    with TestClient(create_app(str(keyed_path)), base_url=LOOPBACK) as upgraded:
        assert upgraded.get("/decisions.csv?failed=min_equity").text.splitlines() == rows
    assert len(rows) > 1


def test_each_set_of_failed_and_rule_keys_is_stored_once(recorded: Recorded) -> None:
    """An entry has its account rows and one ``key_set`` row; ``key_sets`` holds each set
    once, under the id made from its rows; read back, they are the keys of the trace."""
    ledger = Ledger.open(recorded.location, create=False)
    try:
        with ledger.engine.connect() as conn:
            kinds = {r.kind for r in conn.execute(t.decision_keys.select())}
            sets = read_sets(conn)
            named = {
                int(r.seq): r.key
                for r in conn.execute(
                    t.decision_keys.select().where(t.decision_keys.c.kind == "key_set")
                )
            }
        rows = ledger.query()
        bodies = ledger.trace_bodies(r.seq for r in rows)
    finally:
        ledger.close()
    assert kinds == {"account", "key_set"}  # no failed or rule row of its own
    assert set(named.values()) == set(sets) and len(sets) <= len(named) / 4
    assert all(set_id(tuple(keys)) == name for name, keys in sets.items())
    for row in rows:
        accounts = json.dumps(list(row.account_ids))
        full = {(k, v) for _, k, v in keys_of(row.seq, accounts, bodies[row.seq])}
        assert sets[named[row.seq]] == {key for key in full if key[0] != "account"}


def test_an_upgraded_ledger_finds_old_and_new_entries_alike(tmp_path: Path) -> None:
    """Entries recorded before key sets keep their failed and rule rows; a run recorded
    after the upgrade names key sets; every filter finds both as the traces say, the run
    summaries count both, and the ledger verifies."""
    path = Path(shutil.copyfile(OLD_LEDGER, tmp_path / "old.db"))
    runner = CliRunner()
    assert runner.invoke(app, ["ledger", "upgrade", "--ledger", str(path)]).exit_code == 0
    result = runner.invoke(app, ["run", "--ledger", str(path)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(path) as db:
        kinds = {k for (k,) in db.execute("SELECT DISTINCT kind FROM decision_keys")}
        runs = [r for (r,) in db.execute("SELECT run_id FROM runs ORDER BY created_at")]
    assert kinds == {"account", "failed", "rule", "key_set"}
    ledger = Ledger.open(str(path), create=False)
    try:
        for where in FILTERS:
            found = _seqs(ledger, True, **where)
            assert found == _seqs(ledger, False, **where), where
        both = _seqs(ledger, True, rule="sec_portfolio_margin")
        assert min(both) <= 28 < max(both)  # the old run's entries and the new run's
        with ledger.engine.connect() as conn:
            for run in runs:
                assert _keyed_failures(conn, run) == _traced_failures(conn, run)
    finally:
        ledger.close()
    verified = runner.invoke(app, ["verify", "--ledger", str(path)])
    assert verified.exit_code == 0, verified.output
