"""Each run's summary (``run_summaries``, revision 0006): counted in the run's transaction,
what the demo run's golden decisions add up to, what an upgrade or a write-open of an older
ledger backfills, and what the console shows whether the ledger has it or not.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from decimal import Decimal
from pathlib import Path

import numpy as np
from console_books import Recorded
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from marginlex.audit.ledger.run_summaries import BINS, read_summary, summarize
from marginlex.audit.ledger.store import Ledger
from marginlex.cli import app
from marginlex.console.app import create_app
from marginlex.console.security import LOOPBACK

DATA = Path(__file__).parents[1] / "data"
OLD_LEDGER = DATA / "audit" / "ledger_1_0_demo.db"
GOLDEN = json.loads((DATA / "evaluate" / "demo_run.json").read_text(encoding="utf-8"))


def _stored(location: str, run_id: str) -> tuple[object, object]:
    ledger = Ledger.open(location, create=False)
    try:
        with ledger.engine.connect() as conn:
            return read_summary(conn, run_id), summarize(conn, run_id)
    finally:
        ledger.close()


def test_the_recorded_summary_is_what_the_entries_count(recorded: Recorded) -> None:
    for run_id in (recorded.demo, recorded.moved, recorded.hostile):
        stored, counted = _stored(recorded.location, run_id)
        assert stored is not None and stored == counted


def test_the_demo_run_adds_up_to_its_golden_decisions(recorded: Recorded) -> None:
    ledger = Ledger.open(recorded.location, create=False)
    with ledger.engine.connect() as conn:
        summary = read_summary(conn, recorded.demo)
    ledger.close()
    assert summary is not None
    totals = {r.rulebook_id: r for r in summary.rulebooks}
    assert sorted(totals) == sorted(GOLDEN)
    failures: Counter[tuple[str, str]] = Counter()
    for rulebook, run in GOLDEN.items():
        decisions = run["decisions"]
        status = Counter(d["status"] for d in decisions)
        got = totals[rulebook]
        assert (got.decisions, got.ok, got.call, got.breach) == (
            len(decisions),
            status["ok"],
            status["call"],
            status["breach"],
        )
        assert got.requirement_total == Decimal(str(sum(d["requirement"] for d in decisions)))
        assert got.call_total == Decimal(str(sum(d["call"] for d in decisions)))
        failures.update((rulebook, name) for d in decisions for name in d["failed_requirements"])
    assert {(f.rulebook_id, f.requirement): f.decisions for f in summary.failures} == failures
    assert [f.decisions for f in summary.failures] == sorted(failures.values(), reverse=True)
    # cftc's calls: A08_FOX_FUT's 78,600.00 among them, binned with every rulebook's
    calls = {rb: [d["call"] for d in GOLDEN[rb]["decisions"] if d["call"] > 0] for rb in GOLDEN}
    everything = [c for found in calls.values() for c in found]
    edges = np.linspace(min(everything), max(everything), BINS + 1)
    assert summary.calls.edges == tuple(edges.tolist())
    for rulebook, counts in summary.calls.counts:
        assert list(counts) == np.histogram(calls[rulebook], edges)[0].tolist()
    assert [rb for rb, _ in summary.requirements.counts] == ["sec", "cftc", "harmonized"]
    assert {rb: sum(c) for rb, c in summary.requirements.counts} == {
        rb: len(run["decisions"]) for rb, run in GOLDEN.items()
    }


def _page_tables(path: Path) -> list[str]:
    with TestClient(create_app(str(path)), base_url=LOOPBACK) as client:
        run_id = client.get("/runs.csv").text.splitlines()[1].split(",")[0]
        return [
            client.get(f"/runs/{run_id}.csv?table={name}").text
            for name in ("summary", "requirements", "calls")
        ] + [client.get(f"/runs/{run_id}/eligibility.csv").text]


def test_an_older_ledger_shows_the_same_run_page_served_as_it_is_or_upgraded(
    tmp_path: Path,
) -> None:
    old = Path(shutil.copyfile(OLD_LEDGER, tmp_path / "old.db"))
    upgraded = Path(shutil.copyfile(OLD_LEDGER, tmp_path / "upgraded.db"))
    result = CliRunner().invoke(app, ["ledger", "upgrade", "--ledger", str(upgraded)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(upgraded) as conn:
        assert conn.execute("SELECT count(*) FROM run_summaries").fetchone() == (1,)
    as_it_is = _page_tables(old)  # counted from the entries (no table, no keys)
    assert as_it_is == _page_tables(upgraded)
    summary, eligibility = as_it_is[0], as_it_is[-1]
    assert summary.splitlines()[0] == (
        "rulebook,decisions,ok,call,breach,requirement USD,calls USD"
    )
    assert len(summary.splitlines()) > 1 and len(eligibility.splitlines()) > 1


def test_an_older_ledger_opened_for_writing_gets_its_summaries(tmp_path: Path) -> None:
    path = Path(shutil.copyfile(OLD_LEDGER, tmp_path / "old.db"))
    Ledger.open(str(path)).close()  # create: the tables of the head, stamped with it
    with sqlite3.connect(path) as conn:
        (run_id,) = conn.execute("SELECT run_id FROM runs").fetchone()
    stored, counted = _stored(str(path), run_id)
    assert stored is not None and stored == counted
