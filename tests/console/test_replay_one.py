"""The decision page's replay (``?replay=1``) of one recorded decision: an entry carried
forward by ``run --since`` replays identical on an untouched ledger (its trace names the
earlier book and decision, as ``verify --replay`` allows), and an edited call is not
"identical" (the call is a stored column, not in the trace)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

from console_books import copy_demo
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.console.app import create_app
from marginlex.console.security import LOOPBACK

_FOX = "rulebook_id = 'cftc' AND margin_set_id = 'ms:A08_FOX_FUT'"


def _ledger(tmp: Path) -> tuple[Path, str, str]:
    """The demo recorded, then again with --since: the ledger, the second run, and the
    carried cftc decision of A08_FOX_FUT."""
    ledger = tmp / "l.db"
    assert CliRunner().invoke(app, ["run", "--ledger", str(ledger)]).exit_code == 0
    with sqlite3.connect(ledger) as conn:
        (first,) = conn.execute("SELECT run_id FROM runs").fetchone()
    since = CliRunner().invoke(app, ["run", "--ledger", str(ledger), "--since", first])
    assert since.exit_code == 0, since.stderr
    with sqlite3.connect(ledger) as conn:
        run, did = conn.execute(
            f"SELECT run_id, decision_id FROM decisions WHERE {_FOX} AND carried_from IS NOT NULL"
        ).fetchone()
    return ledger, str(run), str(did)


def _replayed(ledger: Path, run: str, did: str) -> str:
    with TestClient(create_app(str(ledger)), base_url=LOOPBACK) as client:
        page = client.get(f"/runs/{run}/decisions/{did}?replay=1")
    assert page.status_code == 200
    return page.text


def test_a_carried_decision_replays_identical(tmp_path: Path) -> None:
    ledger, run, did = _ledger(tmp_path)
    assert "Replay: <strong>identical</strong>" in _replayed(ledger, run, did)


def test_an_edited_call_does_not_replay_identical(tmp_path: Path) -> None:
    ledger, run, did = _ledger(tmp_path)
    with sqlite3.connect(ledger) as conn:
        conn.execute(f"UPDATE decisions SET call = 1 WHERE {_FOX} AND run_id = ?", (run,))
    page = _replayed(ledger, run, did)
    assert "Replay: <strong>identical</strong>" not in page
    assert (
        "Replay: <strong>differs</strong>: column call: stored &#34;1.00&#34;, replayed "
        "&#34;78600.00&#34;"
    ) in page


def test_a_carried_decision_is_titled_with_its_own_id(tmp_path: Path) -> None:
    # run again on another book (ES repriced): A01_ALICE_PM's sec decision is carried, with a
    # new decision id (the book's sha256 is in it); the page showed the earlier one's
    ledger = tmp_path / "l.db"
    assert CliRunner().invoke(app, ["run", "--ledger", str(ledger)]).exit_code == 0
    book = copy_demo(tmp_path / "book")
    instruments = book / "instruments.csv"
    instruments.write_text(instruments.read_text().replace(",50,6000.00,", ",50,5000.00,"))
    with sqlite3.connect(ledger) as conn:
        (first,) = conn.execute("SELECT run_id FROM runs").fetchone()
    since = CliRunner().invoke(app, ["run", str(book), "--ledger", str(ledger), "--since", first])
    assert since.exit_code == 0, since.stderr
    alice = "rulebook_id = 'sec' AND margin_set_id = 'ms:A01_ALICE_PM'"
    with sqlite3.connect(ledger) as conn:
        run, did = conn.execute(
            f"SELECT run_id, decision_id FROM decisions WHERE {alice} AND carried_from IS NOT NULL"
        ).fetchone()
        (earlier,) = conn.execute(
            f"SELECT decision_id FROM decisions WHERE {alice} AND run_id = ?", (first,)
        ).fetchone()
    assert did != earlier
    page = _replayed(ledger, run, did)
    assert f"<title>Decision {did} · marginlex console</title>" in page
    # the earlier decision is named and linked, not only its entry number and run
    link = f"/runs/{first}/decisions/{quote(earlier, safe='')}"
    assert f'{link}"><code>{earlier}</code></a> of run' in page
