"""Benchmark: the console's pages, timed on the server (p50 and p95 per page).

Serves a ledger with :func:`marginlex.console.app.create_app` in this process and requests
each page through Starlette's ``TestClient`` (no network: the time is the server's). Pages
whose read model is cached per run (the run page's plots and eligibility counts) are timed
cold once and then warm.

Targets (issue 12), on the ledger of ``synth --accounts 100000`` (about 200k decisions): every
page under 200 ms at p95, the decision page under 100 ms. On the shared 2-core box, run it on
a 10k-account ledger:

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


def _pages(client: TestClient, ledger_path: str) -> dict[str, str]:
    ledger = open_read_only(ledger_path)
    run = ledger.runs()[-1].record
    call = ledger.query(run=run.run_id, order=("-call",), limit=1)[0]
    sha = run.rulebooks[0].sha256
    ledger.close()
    account = call.account_ids[0]
    decision = f"/runs/{run.run_id}/decisions/{quote(call.decision_id, safe=':')}"
    assert client.get(decision).status_code == 200
    return {
        "runs": "/runs",
        "run": f"/runs/{run.run_id}",
        "decisions": "/decisions",
        "decisions page 100": "/decisions?page=100",
        "decisions call>0 by call": f"/decisions?run={run.run_id}&call_above=0&sort=-call",
        "decisions by account": f"/decisions?account={quote(account)}",
        "decisions by rulebook+status": "/decisions?rulebook=sec&status=call&page=3",
        "decision": decision,
        "account history": f"/accounts/{quote(account, safe='')}",
        "rulebooks": "/rulebooks",
        "rulebook": f"/rulebooks/{sha}",
        "verify": "/verify",
        "runs.csv": "/runs.csv",
    }


def _time(client: TestClient, url: str, repeat: int) -> list[float]:
    took = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        took.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return took


def main() -> None:
    """Time every page; print p50 and p95 in milliseconds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ledger", required=True, help="a SQLite path or a PostgreSQL URL")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with TestClient(create_app(args.ledger)) as client:
        client.get("/runs")  # open the ledger, import the renderers
        pages = _pages(client, args.ledger)
        print(f"{'page':<30} {'p50 ms':>8} {'p95 ms':>8}")
        run_url = pages["run"]
        cold = _time(client, run_url, 1)[0]
        print(f"{'run (cold: plots, failures)':<30} {cold:8.1f} {cold:8.1f}")
        for name, url in pages.items():
            took = sorted(_time(client, url, args.repeat))
            p95 = took[min(len(took) - 1, round(0.95 * (len(took) - 1)))]
            print(f"{name:<30} {statistics.median(took):8.1f} {p95:8.1f}")
    ids = re.findall(r"r-[0-9a-f]{16}", run_url)
    print(f"ledger {args.ledger}, run {ids[0] if ids else '?'}, {args.repeat} requests a page")


if __name__ == "__main__":
    main()
