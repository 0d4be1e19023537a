"""The ledger schema under Alembic (issue 15, part 3): an older ledger is upgraded in place
and still verifies and replays byte for byte; a newer, unknown schema is refused."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner, Result

from marginlex.audit.ledger import schema
from marginlex.audit.ledger import tables as t
from marginlex.cli import app

OLD_LEDGER = Path(__file__).parents[1] / "data" / "audit" / "ledger_1_0_demo.db"


def _cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _revision(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return str(conn.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def test_the_scripts_hold_the_revisions_the_tables_name() -> None:
    assert schema.revisions() == list(t.SCHEMA_REVISIONS)


def test_the_migrations_make_the_tables_the_code_declares(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    with engine.begin() as conn:
        command.upgrade(schema._config(conn), "head")
    found = inspect(engine)
    assert set(found.get_table_names()) == {*t.metadata.tables, t.VERSION_TABLE}
    for name, table in t.metadata.tables.items():
        columns = {c["name"]: c["nullable"] for c in found.get_columns(name)}
        assert columns == {c.name: c.nullable for c in table.columns}, name
    indexes = {i["name"] for i in found.get_indexes("decisions")}
    assert indexes == {i.name for i in t.decisions.indexes}


def test_an_old_ledger_is_upgraded_in_place_and_still_replays(tmp_path: Path) -> None:
    path = Path(shutil.copyfile(OLD_LEDGER, tmp_path / "old.db"))
    upgraded = _cli("ledger", "upgrade", "--ledger", str(path))
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.stdout == "schema upgraded from 0001_baseline to 0011_run_code_fingerprints\n"
    assert _revision(path) == "0011_run_code_fingerprints"
    with sqlite3.connect(path) as conn:
        names = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "ix_decisions_run_id_seq" in names and names.isdisjoint(t.RETIRED_INDEXES)
    assert {"run_origins", "checkpoints", "ledger_meta"} <= set(
        inspect(create_engine(f"sqlite:///{path}")).get_table_names()
    )
    replayed = _cli("verify", "--replay", "--ledger", str(path))
    assert replayed.exit_code == 0, replayed.output
    assert replayed.stdout.splitlines()[-1] == (
        "replayed 28 decisions: every one identical, byte for byte"
    )
    again = _cli("ledger", "upgrade", "--ledger", str(path))
    assert again.stdout == "schema already at 0011_run_code_fingerprints: nothing to upgrade\n"


def test_a_new_ledger_is_stamped_and_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    assert _cli("run", "--ledger", str(path)).exit_code == 0
    assert _revision(path) == t.SCHEMA_HEAD
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_future'")
    refused = (
        f"{path} has schema revision '0099_future', which this marginlex does not know (it "
        "knows up to '0011_run_code_fingerprints'): a newer marginlex made it; use that version"
    )
    for args, code in (
        (["verify"], 2),
        (["ledger", "upgrade"], 2),
        (["run"], 1),
    ):
        result = _cli(*args, "--ledger", str(path))
        assert result.exit_code == code, (args, result.output)
        assert refused in " ".join(result.stderr.split()), (args, result.stderr)
