"""An id that itself ends in ``.csv`` or ``.json`` (the book contract takes any text) has a
page of its own: ``/accounts/ACC.csv`` downloaded the CSV of the other account ``ACC``."""

from __future__ import annotations

from pathlib import Path

from console_books import copy_demo
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.console.app import create_app
from marginlex.console.security import LOOPBACK


def test_an_account_id_ending_in_csv_has_its_own_page(tmp_path: Path) -> None:
    book = copy_demo(tmp_path / "book")
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
