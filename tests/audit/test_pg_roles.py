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
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner, Result

from marginlex.audit.ledger.acting_role import Access
from marginlex.audit.ledger.read_only import open_read_only
from marginlex.audit.ledger.store import Ledger
from marginlex.cli import app
from marginlex.engine.version import engine_code_sha256

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
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,)).fetchone():
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
    assert checked.exit_code == 0 and checked.stdout.startswith("OK: 36 entries in 1 runs")
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


def _acting(url: str, access: Access) -> tuple[str, str]:
    """Who a command opening the ledger for ``access`` acts as, and what an edit then gives."""
    store = Ledger.open(url, create=False, access=access)
    try:
        with store.engine.connect() as conn:
            user = str(conn.exec_driver_sql("SELECT current_user").scalar())
        edit = (
            "UPDATE decisions SET requirement = 1 WHERE seq = 1"
            if access is Access.WRITE
            else "INSERT INTO ledger_meta VALUES ('k', 'v')"
        )
        with pytest.raises(DBAPIError) as caught, store.transaction() as conn:
            conn.exec_driver_sql(edit)
        return user, str(caught.value.orig).splitlines()[0]
    finally:
        store.close()


def test_commands_act_as_the_roles_the_ledger_records(owner_url: str) -> None:
    assert _cli("ledger", "init", owner_url, "--roles").exit_code == 0
    # the suite's login is a superuser: run and verify with it all the same act as the roles
    recorded = _cli("run", "--ledger", owner_url)
    assert recorded.exit_code == 0, recorded.stderr
    assert _cli("verify", "--ledger", owner_url).exit_code == 0
    assert _acting(owner_url, Access.WRITE) == (
        "marginlex_writer",
        "permission denied for table decisions",  # the privilege, before the trigger
    )
    assert _acting(owner_url, Access.READ) == (
        "marginlex_reader",
        "permission denied for table ledger_meta",
    )
    served = open_read_only(owner_url)  # serve's ledger
    try:
        with served.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT current_user").scalar() == "marginlex_reader"
    finally:
        served.close()
    # init and upgrade act as the owner: the trigger, not a missing privilege, refuses
    assert _refused(owner_url, "DELETE FROM runs") == REFUSED.format(op="DELETE", table="runs")
    assert _cli("ledger", "upgrade", "--ledger", owner_url).exit_code == 0


def test_a_login_outside_the_writer_role_cannot_run(owner_url: str) -> None:
    assert _cli("ledger", "init", owner_url, "--roles").exit_code == 0
    _logins(owner_url)
    refused = _cli("run", "--ledger", _as(owner_url, "r_login"))
    assert refused.exit_code != 0
    assert "the login r_login cannot act as marginlex_writer" in refused.stderr
    assert "GRANT marginlex_writer TO r_login" in refused.stderr
    # nothing was written; the reader login still verifies
    checked = _cli("verify", "--ledger", _as(owner_url, "r_login"))
    assert checked.exit_code == 0 and checked.stdout.startswith("OK: 0 entries in 0 runs")


def test_a_ledger_without_roles_is_used_as_the_login(owner_url: str) -> None:
    made = _cli("ledger", "init", owner_url)
    assert made.exit_code == 0 and "roles:" not in made.stdout
    assert _cli("run", "--ledger", owner_url).exit_code == 0
    checked = _cli("verify", "--ledger", owner_url)
    assert checked.exit_code == 0 and checked.stdout.startswith("OK: 36 entries in 1 runs")
    store = Ledger.open(owner_url, create=False, access=Access.READ)
    try:
        with store.transaction() as conn:  # no role, no trigger: the login may do anything
            assert conn.exec_driver_sql("SELECT current_user").scalar() == "postgres"
            conn.exec_driver_sql("INSERT INTO ledger_meta VALUES ('k', 'v')")
    finally:
        store.close()


def test_init_keeps_the_roles_it_first_recorded(owner_url: str) -> None:
    assert _cli("ledger", "init", owner_url, "--roles").exit_code == 0
    again = _cli("ledger", "init", owner_url, "--roles")
    assert again.exit_code == 0, again.stderr
    other = _cli("ledger", "init", owner_url, "--roles", "--writer", "w2", "--reader", "r2")
    assert other.exit_code == 1
    assert other.stderr.startswith(
        "error: this ledger already records the roles marginlex_writer (writer) and "
        "marginlex_reader (reader)"
    )


def _recorded_at(owner_url: str, revision: str, *as_then: str) -> str:
    """A --roles ledger with one run recorded by its writer, then made what an older marginlex
    (at ``revision``) would have left: ``as_then`` run as the owner. The writer's URL."""
    assert _cli("ledger", "init", owner_url, "--roles").exit_code == 0
    _logins(owner_url)
    writer = _as(owner_url, "w_login")
    assert _cli("run", "--ledger", writer).exit_code == 0
    with psycopg.connect(_plain(owner_url), autocommit=True) as conn:
        for statement in as_then:
            conn.execute(statement)
        conn.execute("UPDATE alembic_version SET version_num = %s", (revision,))
    return writer


def test_upgrade_protects_and_grants_the_tables_a_migration_adds(owner_url: str) -> None:
    # A ledger made with --roles by a marginlex before revision 0006: no run_summaries table.
    writer = _recorded_at(owner_url, "0005_decision_keys", "DROP TABLE run_summaries")
    upgraded = _cli("ledger", "upgrade", "--ledger", owner_url)
    assert upgraded.stdout == (
        "schema upgraded from 0005_decision_keys to 0011_run_code_fingerprints\n"
    )
    # the writer records into the new table, and nobody edits it
    assert _cli("run", "--ledger", writer).exit_code == 0
    assert _cli("verify", "--ledger", _as(owner_url, "r_login")).stdout.startswith(
        "OK: 72 entries in 2 runs"
    )
    edit = "UPDATE run_summaries SET body = '{}'"
    assert _refused(owner_url, edit) == REFUSED.format(op="UPDATE", table="run_summaries")
    assert _refused(writer, edit) == "permission denied for table run_summaries"


def _refused_run(ledger: str) -> str:
    """What `marginlex run --ledger LEDGER` says when it must refuse (exit 1), on one line."""
    refused = _cli("run", "--ledger", ledger)
    assert refused.exit_code == 1
    return " ".join(refused.stderr.split())


def test_a_writer_is_told_to_wait_for_the_owners_upgrade(owner_url: str) -> None:
    # A --roles ledger recorded by a marginlex at revision 0008: the index 0009 retires.
    retired = "CREATE INDEX ix_decisions_run_id ON decisions (run_id)"
    writer = _recorded_at(owner_url, "0008_key_sets", retired)
    assert _refused_run(writer) == (
        f"error: nothing recorded: {writer} has revision '0008_key_sets', older than this "
        "marginlex's ('0011_run_code_fingerprints'), and this login may not bring it up to "
        "date (must be owner of index ix_decisions_run_id): the ledger's owner upgrades it "
        "first (`marginlex ledger upgrade --ledger URL`, logged in as the owner), then "
        "record again"
    )
    upgraded = _cli("ledger", "upgrade", "--ledger", owner_url)
    assert upgraded.stdout == ("schema upgraded from 0008_key_sets to 0011_run_code_fingerprints\n")
    assert _cli("run", "--ledger", writer).exit_code == 0
    with psycopg.connect(_plain(owner_url), autocommit=True) as conn:
        runs = conn.execute("SELECT count(*) FROM runs").fetchone()
        index = conn.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'ix_decisions_run_id'")
        assert runs == (2,) and index.fetchone() is None
        conn.execute("CREATE SCHEMA nothing_yet")  # a schema the writer may not create in
    empty = _as(owner_url.rsplit("%3D", 1)[0] + "%3Dnothing_yet", "w_login")
    assert _refused_run(empty) == (
        f"error: nothing recorded: cannot make a ledger at {empty}: this login may not create "
        "its tables (no schema has been selected to create in); its owner makes it first "
        "(`marginlex ledger init URL`, logged in as the owner)"
    )


def test_a_writer_waits_for_the_owner_to_add_the_run_digest_column(owner_url: str) -> None:
    # A --roles ledger of a marginlex at revision 0009: runs has neither book_digest_sha256
    # (revision 0010) nor engine_code_sha256 (0011).
    dropped = (
        "ALTER TABLE runs DROP COLUMN book_digest_sha256",
        "ALTER TABLE runs DROP COLUMN engine_code_sha256",
    )
    writer = _recorded_at(owner_url, "0009_retire_prefix_indexes", *dropped)
    refused = _refused_run(writer)
    assert "has revision '0009_retire_prefix_indexes', older than this marginlex's" in refused
    assert "(must be owner of table runs)" in refused
    upgraded = _cli("ledger", "upgrade", "--ledger", owner_url)
    assert upgraded.stdout == (
        "schema upgraded from 0009_retire_prefix_indexes to 0011_run_code_fingerprints\n"
    )
    assert _cli("run", "--ledger", writer).exit_code == 0
    with psycopg.connect(_plain(owner_url), autocommit=True) as conn:
        shas = conn.execute("SELECT book_digest_sha256 FROM runs ORDER BY first_seq").fetchall()
        stored = conn.execute("SELECT sha256(body) FROM book_digests").fetchone()
        code = conn.execute("SELECT engine_code_sha256 FROM runs ORDER BY first_seq").fetchall()
    # the run recorded before keeps none; the new one chains its book's stored digest and
    # the fingerprint of the code that decided it
    assert shas[0] == (None,) and shas[1] == (stored[0].hex(),)
    assert code == [(None,), (engine_code_sha256(),)]


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        (
            "ALTER TABLE decisions RENAME TO real_decisions; "
            "CREATE VIEW decisions AS SELECT * FROM real_decisions",
            "the ledger table decisions is a view, not a table",
        ),
        (
            "ALTER TABLE decisions DISABLE TRIGGER USER",
            "the append-only triggers on decisions are disabled",
        ),
    ],
)
def test_the_owners_view_or_disabled_triggers_are_named(
    owner_url: str, sql: str, named: str
) -> None:
    """The tables' owner may rename a table and put a view in its place, or switch the
    append-only triggers off for a moment: verify names either before it walks the chain."""
    assert _cli("ledger", "init", owner_url, "--roles").exit_code == 0
    assert _cli("run", "--ledger", owner_url).exit_code == 0
    with psycopg.connect(_plain(owner_url), autocommit=True) as conn:
        conn.execute(sql)
    checked = _cli("verify", "--ledger", owner_url)
    assert checked.exit_code == 1, checked.stderr
    assert checked.stdout.startswith(f"FAILED at ledger: schema_changed: {named}"), checked.stderr


def test_an_applications_table_and_trigger_beside_the_ledger_are_not_its(owner_url: str) -> None:
    """A table and trigger of another application (or an extension's views) in the ledger's
    schema: verify said `schema_changed` of a ledger nobody touched."""
    assert _cli("ledger", "init", owner_url, "--roles").exit_code == 0
    assert _cli("run", "--ledger", owner_url).exit_code == 0
    with psycopg.connect(_plain(owner_url), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE app_users (id int, touched timestamptz);"
            "CREATE FUNCTION app_touch() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN NEW.touched := now(); RETURN NEW; END $$;"
            "CREATE TRIGGER app_touch BEFORE INSERT ON app_users "
            "FOR EACH ROW EXECUTE FUNCTION app_touch();"
            "CREATE VIEW app_view AS SELECT 1 AS one;"
            "ALTER TABLE app_users DISABLE TRIGGER USER"
        )
    checked = _cli("verify", "--ledger", owner_url)
    assert checked.exit_code == 0, checked.stdout


def test_init_roles_by_a_login_that_may_not_create_roles_creates_nothing(
    owner_url: str,
) -> None:
    """A one-line error naming CREATEROLE, before any table is made (a half-made ledger with
    tables and no triggers was left behind, and its writer could not record)."""
    schema = owner_url.rsplit("%3D", 1)[1]
    roles = ("nocr_writer", "nocr_reader")
    with psycopg.connect(_plain(owner_url), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'nocr_login'").fetchone():
            conn.execute("CREATE ROLE nocr_login LOGIN")
        conn.execute(f"GRANT ALL ON SCHEMA {schema} TO nocr_login")
    made = _cli(
        "ledger", "init", _as(owner_url, "nocr_login"), "--roles",
        "--writer", roles[0], "--reader", roles[1],
    )  # fmt: skip
    assert made.exit_code == 1
    assert "Traceback" not in made.output
    assert (
        "the login nocr_login may not create roles: a superuser can allow it (ALTER ROLE "
        "nocr_login CREATEROLE)" in " ".join(made.stderr.split())
    )
    with psycopg.connect(_plain(owner_url), autocommit=True) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchone()
    assert tables == (0,)
