"""The console over a PostgreSQL ledger (the server the suite starts): the same pages, and
every transaction read-only."""

from __future__ import annotations

import re
import uuid

import psycopg
import pytest
from console_books import moved_prices, record
from fastapi.testclient import TestClient
from sqlalchemy.exc import InternalError

from marginlex.audit.ledger.read_only import open_read_only
from marginlex.console.app import create_app
from marginlex.console.security import LOOPBACK

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_ledger(pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A schema holding two runs (the demo book, then its prices moved): (URL, 2nd run)."""
    name = f"console_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_database.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    url = f"{pg_database}?options=-csearch_path%3D{name}"
    record(url, None)
    return url, record(url, moved_prices(tmp_path_factory.mktemp("pg") / "moved"))


def test_pages_over_postgresql(pg_ledger: tuple[str, str]) -> None:
    url, run = pg_ledger
    with TestClient(create_app(url), base_url=LOOPBACK) as client:
        runs = client.get("/runs.csv").text.splitlines()
        assert len(runs) == 3 and runs[1].startswith(run)
        listing = client.get(f"/decisions?run={run}&status=call&sort=-call").text
        first = re.search(r'href="(/runs/[^"]+/decisions/[^"]+)"', listing)
        assert first is not None
        assert "Replay: <strong>identical</strong>" in client.get(first[1] + "?replay=1").text
        history = client.get("/accounts/A01_ALICE_PM").text
        assert history.count(f'href="/runs/{run}"') == 2  # sec and harmonized
        assert client.get("/runs/r-0000000000000000").status_code == 404


def test_postgresql_transactions_are_read_only(pg_ledger: tuple[str, str]) -> None:
    ledger = open_read_only(pg_ledger[0])
    try:
        with ledger.engine.connect() as conn, pytest.raises(InternalError, match="read-only"):
            conn.exec_driver_sql("DELETE FROM decisions")
        assert ledger.count() == 72
    finally:
        ledger.close()


def test_the_key_filters_over_postgresql(pg_ledger: tuple[str, str]) -> None:
    url, run = pg_ledger
    with TestClient(create_app(url), base_url=LOOPBACK) as client:
        # the demo book: 4 sec and 5 harmonized portfolio-margined sets (H_BD1 is no customer)
        by_rule = client.get(f"/decisions.csv?run={run}&rule=sec_portfolio_margin").text
        rulebooks = sorted(line.split(",")[2] for line in by_rule.splitlines()[1:])
        assert rulebooks == ["harmonized"] * 5 + ["sec"] * 4
        by_account = client.get("/decisions.csv?account=A08_FOX_FUT").text.splitlines()
        assert len(by_account) - 1 == 4  # cftc and harmonized, in each of the two runs
        failing = client.get(f"/decisions.csv?run={run}&failed=min_equity").text.splitlines()
        listed = client.get(f"/runs/{run}/eligibility.csv").text.splitlines()[1:]
        counted = sum(int(line.split(",")[-1]) for line in listed if ",min_equity," in line)
        assert len(failing) - 1 == counted > 0


def test_a_nul_in_a_filter_is_a_bad_request_not_a_database_error(
    pg_ledger: tuple[str, str],
) -> None:
    with TestClient(create_app(pg_ledger[0]), base_url=LOOPBACK) as client:
        for path in ("/decisions?account=%00", "/decisions?failed=%00", "/accounts/%00"):
            answer = client.get(path)
            assert answer.status_code == 400, (path, answer.text[-300:])


def test_a_call_bound_past_numerics_range_chooses_as_a_bound_in_range_would(
    pg_ledger: tuple[str, str],
) -> None:
    # 1e131072 and 1e-1000000 were a 500 page (PostgreSQL: value overflows numeric format).
    # Every recorded call is a whole number of cents, 0 or more, below CENTS_LIMIT (9.0e13):
    # none is above 1e131072, all 72 are above -1e131072, and above 1e-1000000 are those
    # above 0.
    def count(bound: str) -> int:
        answer = client.get(f"/decisions.csv?call_above={bound}")
        assert answer.status_code == 200, (bound, answer.text[-300:])
        return len(answer.text.splitlines()) - 1

    with TestClient(create_app(pg_ledger[0]), base_url=LOOPBACK) as client:
        assert count("1e131072") == count("1e1000000") == 0
        assert count("-1e131072") == count("-1e1000000") == 72
        assert count("1e-1000000") == count("0.001") == count("0") < 72
        assert count("0.004") == count("0")
