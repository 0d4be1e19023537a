"""An id that itself ends in ``.csv`` or ``.json`` (the book contract takes any text) has a
page of its own: ``/accounts/ACC.csv`` downloaded the CSV of the other account ``ACC``."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.console.app import create_app
from marginlex.console.security import LOOPBACK

DEMO = Path(__file__).parents[2] / "engine" / "book" / "demo_book"


def test_an_account_id_ending_in_csv_has_its_own_page(tmp_path: Path) -> None:
    book = tmp_path / "book"
    shutil.copytree(DEMO, book, ignore=shutil.ignore_patterns("__*"))
    with (book / "accounts.csv").open("a") as f:
        f.write("A13_KILO_MGN.csv,KILO,BD1,SEC,margin,customer,\n")
    with (book / "collateral.csv").open("a") as f:
        f.write("L99,A13_KILO_MGN.csv,USD,1234.00,,\n")
    ledger = tmp_path / "l.db"
    assert CliRunner().invoke(app, ["run", str(book), "--ledger", str(ledger)]).exit_code == 0
    with TestClient(create_app(str(ledger)), base_url=LOOPBACK) as client:
        own = client.get("/accounts/A13_KILO_MGN.csv")
        assert own.headers["content-type"].startswith("text/html")
        assert "Decisions for account A13_KILO_MGN.csv" in own.text
        as_csv = client.get("/accounts/A13_KILO_MGN.csv?format=csv")
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert "A13_KILO_MGN.csv" in as_csv.text
        other = client.get("/accounts/A15_MIKE_MGN.csv")  # no such id: the CSV of A15_MIKE_MGN
        assert other.headers["content-type"].startswith("text/csv")
        assert "A15_MIKE_MGN" in other.text
