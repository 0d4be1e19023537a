"""A console page asked for while another process holds the ledger locked past the wait (a run
recording a large book): a 503 page that says so and when to try again, not a server error."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from console_books import Recorded
from fastapi.testclient import TestClient

from marginlex.audit.ledger import locks
from marginlex.console.app import create_app
from marginlex.console.security import LOOPBACK


def test_a_page_of_a_locked_ledger_says_it_is_busy(
    recorded: Recorded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(locks, "LOCK_WAIT_SECONDS", 1.0)
    monkeypatch.setattr(locks, "BUSY_TIMEOUT_MS", 1000)  # SQLite's own wait, cut to 1 s
    ledger = tmp_path / "ledger.db"
    shutil.copy(recorded.location, ledger)
    script = textwrap.dedent(
        f"""
        import sqlite3, sys
        conn = sqlite3.connect({str(ledger)!r}, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        print("locked", flush=True)
        sys.stdin.readline()
        """
    )
    with TestClient(create_app(str(ledger)), base_url=LOOPBACK) as client:
        assert client.get("/").status_code == 200
        holder = subprocess.Popen(
            [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
            response = client.get("/")
        finally:
            holder.communicate("\n", timeout=30)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "30"
        assert "Ledger busy" in response.text and "locked" in response.text
        assert client.get("/").status_code == 200  # the lock gone, the page is back
