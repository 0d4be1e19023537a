"""Benchmark: the console's pages, timed on the server (p50 and p95 per page).

Serves a ledger with :func:`marginlex.console.app.create_app` in this process and requests
each page through Starlette's ``TestClient`` (no network: the time is the server's). Each
page's first request is shown apart (``first``: nothing of it cached yet; the first page
asked also opens the ledger) and counted in its p50 and p95.

Targets (issue 12), on the ledger of ``synth --accounts 100000`` (about 200k decisions): every
page under 200 ms at p95, first load included, the decision page under 100 ms. A ledger made
before revision 0006 is upgraded first (``marginlex ledger upgrade --ledger PATH``), or its
run pages count their summary from the entries the first time. On the shared 2-core box, run
it on a 10k-account ledger:

    uv run --no-sync marginlex synth --accounts 10000 --seed 7 --out .bench/synth-10000
    uv run --no-sync marginlex run .bench/synth-10000 --ledger .bench/serve-10000.db
    uv run --no-sync python bench/bench_serve.py --ledger .bench/serve-10000.db
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from urllib.parse import quote

from fastapi.testclient import TestClient

from marginlex.audit.ledger.read_only import open_read_only
from marginlex.console.app import create_app
from marginlex.console.queries import run_summary
from marginlex.console.security import LOOPBACK


def _pages(ledger_path: str) -> dict[str, str]:
    ledger = open_read_only(ledger_path)
    run = ledger.runs()[-1].record
    call = ledger.query(run=run.run_id, order=("-call",), limit=1)[0]
    failed = run_summary(ledger, run.run_id).failures
    sha = run.rulebooks[0].sha256
    ledger.close()
    account = call.account_ids[0]
    decision = f"/runs/{run.run_id}/decisions/{quote(call.decision_id, safe=':')}"
    pages = {
        "runs": "/runs",
        "run": f"/runs/{run.run_id}",
        "run plot requirements.svg": f"/runs/{run.run_id}/plots/requirements.svg",
        "run plot calls.svg": f"/runs/{run.run_id}/plots/calls.svg",
        "run eligibility": f"/runs/{run.run_id}/eligibility",
        "decisions": "/decisions",
        "decisions page 100": "/decisions?page=100",
        "decisions call>0 by call": f"/decisions?run={run.run_id}&call_above=0&sort=-call",
        "decisions by account": f"/decisions?account={quote(account)}",
        "decisions by rulebook+status": "/decisions?rulebook=sec&status=call&page=3",
        "decision": decision,
        "account history": f"/accounts/{quote(account, safe='')}",
        "margin set history": f"/margin-sets/{quote(call.margin_set_id, safe='')}",
        "rulebooks": "/rulebooks",
        "rulebook": f"/rulebooks/{sha}",
        "verify": "/verify",
        "runs.csv": "/runs.csv",
    }
    if failed:
        name = quote(failed[-1].requirement)
        pages["decisions failed requirement"] = f"/decisions?run={run.run_id}&failed={name}"
    return pages


def _time(client: TestClient, url: str, repeat: int) -> tuple[list[float], list[float]]:
    """Each request's wall time and the process's CPU time over it, in milliseconds (on a
    busy shared box the wall time counts the waits for a CPU; the CPU time does not)."""
    took, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        took.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return took, cpu


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    """Time every page; print its first request, p50 and p95 (and the CPU time's p95) in
    milliseconds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ledger", required=True, help="a SQLite path or a PostgreSQL URL")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    pages = _pages(args.ledger)
    with TestClient(create_app(args.ledger), base_url=LOOPBACK) as client:
        print(f"{'page':<30} {'first ms':>8} {'p50 ms':>8} {'p95 ms':>8} {'cpu p95':>8}")
        for name, url in pages.items():
            took, cpu = _time(client, url, args.repeat)
            figures = (took[0], statistics.median(took), _p95(took), _p95(cpu))
            print(f"{name:<30} " + " ".join(f"{f:8.1f}" for f in figures))
    ids = re.findall(r"r-[0-9a-f]{16}", pages["run"])
    print(f"ledger {args.ledger}, run {ids[0] if ids else '?'}, {args.repeat} requests a page")


if __name__ == "__main__":
    main()
