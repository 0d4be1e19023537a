"""Benchmark the ledger: record 300k decisions on SQLite, then explain and verify.

Targets (issue 5): recording 100k accounts under three rulebooks (300k decisions) adds under
15 s to a run; ``explain`` of one decision from a 300k-decision ledger answers in < 200 ms.

    uv run --no-sync python bench/bench_ledger.py [--decisions 300000] [--size typical|rich]

``rich`` is the hand-built test decision (three class groups, four lots, six steps);
``typical`` drops it to one account's usual shape (two class groups, two lots, four steps).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from marginlex.audit.canonical import sha256_hex
from marginlex.audit.explain.text import render_text
from marginlex.audit.ledger.chain import PreparedDecision, prepare
from marginlex.audit.ledger.records import RunRecord
from marginlex.audit.ledger.store import Ledger
from marginlex.audit.ledger.verify import verify
from marginlex.audit.trace.model import DecisionTrace

FIXTURE = Path(__file__).parents[1] / "tests" / "data" / "audit" / "pm_decision.json"


def base_trace(size: str) -> DecisionTrace:
    data = DecisionTrace.model_validate_json(FIXTURE.read_text()).model_dump(mode="json")
    if size == "typical":
        data["steps"] = [s for s in data["steps"] if s["kind"] not in {"offset", "concentration"}]
        margin = next(s for s in data["steps"] if s["kind"] == "margin")["output"]
        margin["groups"] = margin["groups"][:2]
        lots = next(s for s in data["steps"] if s["kind"] == "haircut")["output"]
        lots["lots"] = lots["lots"][:2]
    return DecisionTrace.model_validate(data)


def rulebook_text(k: int) -> str:
    return f"rulebook rb{k} (synthetic text)"


def make_traces(base: DecisionTrace, n: int, books: int = 3, start: int = 0) -> list[DecisionTrace]:
    """n decisions over three rulebooks, each with its own margin set and accounts."""
    refs = [
        base.rulebook.model_copy(update={"id": f"rb{k}", "sha256": sha256_hex(rulebook_text(k))})
        for k in range(books)
    ]
    out = []
    for i in range(start, start + n):
        account = f"ACC-{i // books:06d}"
        ms = base.margin_set.model_copy(update={"id": f"ms-{account}", "account_ids": (account,)})
        out.append(
            base.model_copy(
                update={
                    "decision_id": f"d-{i:07d}",
                    "margin_set": ms,
                    "rulebook": refs[i % books],
                }
            )
        )
    return out


def _record(path: Path, base: DecisionTrace, decisions: list[PreparedDecision]) -> float:
    ledger = Ledger.open(str(path))
    refs = tuple({t.rulebook.id: t.rulebook for t in make_traces(base, 3)}.values())
    run = RunRecord(
        as_of=base.as_of,
        book_sha256=base.book_sha256,
        engine_version=base.engine_version,
        rulebooks=refs,
    )
    start = time.perf_counter()
    ledger.record_run(run, decisions, [rulebook_text(k) for k in range(3)], b"demo book")
    took = time.perf_counter() - start
    ledger.close()
    return took


def _explain_and_verify(path: Path, target: str) -> None:
    start = time.perf_counter()
    ledger = Ledger.open(str(path), create=False)
    text = render_text(ledger.get_decision(target).trace)
    took = time.perf_counter() - start
    print(
        f"explain {target} in-process (open + fetch + render, {len(text):,} chars): "
        f"{took * 1000:.0f} ms (target < 200 ms)"
    )
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "marginlex", "explain", target, "--ledger", str(path)],
        check=True,
        capture_output=True,
    )
    print(
        f"`marginlex explain` as a new process (interpreter start and imports included): "
        f"{(time.perf_counter() - start) * 1000:.0f} ms"
    )
    script = (
        "import sys; from marginlex.audit.ledger.store import Ledger; "
        "from marginlex.audit.explain.text import render_text; "
        "sys.stdout.write(render_text(Ledger.open(sys.argv[1], create=False)"
        ".get_decision(sys.argv[2]).trace))"
    )
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", script, str(path), target], check=True, capture_output=True
    )
    print(
        f"the same with only the audit modules imported (no other command group): "
        f"{(time.perf_counter() - start) * 1000:.0f} ms"
    )
    start = time.perf_counter()
    report = verify(ledger)
    print(f"verify {report.entries:,} entries: {time.perf_counter() - start:.1f} s, ok={report.ok}")
    ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=300_000)
    parser.add_argument("--size", choices=["typical", "rich"], default="typical")
    args = parser.parse_args()
    n = args.decisions
    base = base_trace(args.size)
    print(f"trace: {args.size}, {len(base.canonical()):,} bytes canonical JSON")

    start = time.perf_counter()
    traces = make_traces(base, n)
    print(
        f"build {n:,} trace objects (evaluator side, not timed below): "
        f"{time.perf_counter() - start:.1f} s"
    )
    start = time.perf_counter()
    prepared = [prepare(t) for t in traces]
    prep = time.perf_counter() - start
    del traces
    path = Path(tempfile.mkdtemp(prefix="bench-ledger-")) / "ledger.db"
    took = _record(path, base, prepared)
    print(
        f"record {n:,} decisions on SQLite, one process: {prep + took:.1f} s (target < 15 s) = "
        f"serialize+compress (prepare) {prep:.1f} s + ledger (hash, insert, commit) {took:.1f} s;"
        f" file {path.stat().st_size / 1e6:,.0f} MB"
    )
    del prepared

    _explain_and_verify(path, f"d-{n // 2:07d}")
    path.unlink()


if __name__ == "__main__":
    main()
