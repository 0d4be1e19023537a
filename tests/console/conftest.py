"""Fixtures of the console tests: one ledger of three runs, recorded once per session.

Run 1 is the demo book; run 2 the demo book with XYZ's price moved (so that an account's
history has a difference to show); run 3 the demo book with an account id and a party name
made of markup, quotes and a terminal escape.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from console_books import Recorded, hostile, moved_prices, record
from fastapi.testclient import TestClient

from marginlex.console.app import create_app
from marginlex.console.security import LOOPBACK


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """The session's ledger (SQLite) of three runs."""
    root = tmp_path_factory.mktemp("console")
    location = str(root / "ledger.db")
    return Recorded(
        location=location,
        demo=record(location, None),
        moved=record(location, moved_prices(root / "moved")),
        hostile=record(location, hostile(root / "hostile")),
    )


@pytest.fixture
def client(recorded: Recorded) -> Iterator[TestClient]:
    """A console over the session's ledger."""
    with TestClient(create_app(recorded.location), base_url=LOOPBACK) as test_client:
        yield test_client


def _audit_fixtures() -> ModuleType:
    """The audit tests' fixtures module (the PostgreSQL server the suite starts), loaded by
    path: two modules named ``conftest`` cannot both be imported by name."""
    folder = Path(__file__).parents[1] / "audit"
    if str(folder) not in sys.path:
        sys.path.append(str(folder))  # it imports ``audit_helpers`` beside it
    path = folder / "conftest.py"
    spec = importlib.util.spec_from_file_location("audit_fixtures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_audit = _audit_fixtures()
pg_server = _audit.pg_server
pg_database = _audit.pg_database
