"""Start-up of the light commands as a person meets it: whole processes, medians (issue 16).

Targets on the 2-core reference machine: ``marginlex --help`` <= 150 ms, ``check`` of one
rulebook <= 400 ms, ``explain ID --ledger L`` <= 300 ms. Also times ``--help`` drawn afresh
(the cache folder off: what the first ``--help`` of a terminal pays), ``fmt --check``,
``ledger``, ``ledger runs`` and ``verify`` (without ``--replay``), and three floors: the bare
interpreter, the interpreter importing typer with its rich help renderer (what typer's own
help costs), and a two-command typer app running one command with two parameters (what any
typer command pays before the first line of marginlex runs: typer 0.29 converts every
parameter through a pydantic ``TypeAdapter``).

    uv run --no-sync python bench/bench_cli.py [--runs 7] [--ledger FILE]

Without ``--ledger`` the demo book is recorded into a temporary ledger first; give a large
ledger (``marginlex run BOOK --ledger FILE``) to time ``explain`` where it is hardest. Each
command runs once to warm the disk cache and the parser cache, then ``--runs`` times; the
median wall time and CPU time (user + system) are printed (a shared machine is noisy:
quote medians; when it is busy, the CPU time is the steadier figure).

``check`` is timed warm, as a person meets it from the second check of a file on: the
uncounted first run keeps lark's tables, the conflict pass's answers and the file's whole
answer in the cache folder, so the counted runs read the kept answer and parse nothing.
``check -v (parsed)`` is what an edited file costs once its base is known: ``--verbose``
always parses, resolves and runs every pass (lark's tables loaded, the conflict pass
answered from the cache, no z3; the first check of a new or edited file proves with z3,
about a second more). ``explain`` on a SQLite ledger reads its decision
with the standard library's ``sqlite3``; a fourth floor, pydantic with one model, is what any
command pays that validates a model (typer's parameters, the trace).
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEC = str(ROOT / "rulebooks" / "sec.mlx")
TARGETS_MS = {"--help": 150, "check (warm)": 400, "explain": 300, "explain RULEBOOK:SET": 300}
TYPER_APP = """
from pathlib import Path
import typer
app = typer.Typer()
@app.command()
def explain(decision: str, ledger: Path = typer.Option(None)) -> None: pass
@app.command()
def other() -> None: pass
app(["explain", "d-1", "--ledger", "l.db"])
"""
PYDANTIC = "import pydantic\nclass A(pydantic.BaseModel):\n    x: int\n"
DRAWN = {"MARGINLEX_CACHE_DIR": ""}  # the cache folder off: --help drawn by typer each time


def _marginlex() -> list[str]:
    """The console script beside this interpreter (what a user runs), else ``-m``."""
    script = Path(sys.executable).with_name("marginlex")
    found = str(script) if script.exists() else shutil.which("marginlex")
    return [found] if found else [sys.executable, "-m", "marginlex"]


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


@functools.cache
def _environment() -> dict[str, str]:
    """The children's environment: with their bytecode cached, as an installed marginlex runs.

    Under ``PYTHONDONTWRITEBYTECODE`` every process compiles typer, rich, sqlalchemy and
    marginlex from source again (about half of a light command's time); the children then
    keep their bytecode in a temporary folder instead, so that no file is written beside
    the sources.
    """
    env = dict(os.environ)
    if env.pop("PYTHONDONTWRITEBYTECODE", None) and "PYTHONPYCACHEPREFIX" not in env:
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="bench-cli-pyc-")
    return env


def _median_ms(
    argv: list[str], runs: int, extra: dict[str, str] | None = None
) -> tuple[float, float]:
    """Median wall and CPU (user + system) milliseconds of ``argv`` as a new process."""
    walls, cpus = [], []
    env = {**_environment(), **(extra or {})}
    for k in range(runs + 1):  # the first run warms the caches and is not counted
        start, cpu = time.perf_counter(), _cpu()
        out = subprocess.DEVNULL
        subprocess.run(argv, check=False, stdout=out, stderr=out, env=env)
        if k:
            walls.append(time.perf_counter() - start)
            cpus.append(_cpu() - cpu)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


def _ledger(given: Path | None) -> Path:
    if given is not None:
        return given
    path = Path(tempfile.mkdtemp(prefix="bench-cli-")) / "demo.db"
    subprocess.run([*_marginlex(), "run", "--ledger", str(path)], check=True, capture_output=True)
    return path


def _middle_decision(ledger: Path) -> tuple[str, str, int]:
    """The middle entry's decision id, its ``RULEBOOK:MARGIN_SET`` name, the entry count."""
    with sqlite3.connect(ledger) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM decisions").fetchone()
        query = "SELECT decision_id, rulebook_id, margin_set_id FROM decisions WHERE seq = ?"
        decision, rulebook, margin_set = conn.execute(query, ((count + 1) // 2,)).fetchone()
    return str(decision), f"{rulebook}:{margin_set}", int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--ledger", type=Path, default=None, help="an existing SQLite ledger")
    args = parser.parse_args()
    ledger = _ledger(args.ledger)
    decision, named, entries = _middle_decision(ledger)
    at = ["--ledger", str(ledger)]
    cases = {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        "import typer + rich help (floor)": [
            sys.executable,
            "-c",
            "import typer, typer.rich_utils",
        ],
        "pydantic + one model (floor)": [sys.executable, "-c", PYDANTIC],
        "typer app, one command (floor)": [sys.executable, "-c", TYPER_APP],
        "--help": [*_marginlex(), "--help"],
        "--help (drawn)": [*_marginlex(), "--help"],
        "check (warm)": [*_marginlex(), "check", SEC],
        "check -v (parsed)": [*_marginlex(), "check", "-v", SEC],
        "fmt --check": [*_marginlex(), "fmt", "--check", SEC],
        "explain": [*_marginlex(), "explain", decision, *at],
        "explain RULEBOOK:SET": [*_marginlex(), "explain", named, *at],
        "ledger": [*_marginlex(), "ledger", *at],
        "ledger runs": [*_marginlex(), "ledger", "runs", *at],
        "verify": [*_marginlex(), "verify", *at],
    }
    print(f"ledger {ledger} ({entries:,} decisions); median of {args.runs} runs each")
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    for name, argv in cases.items():
        wall, cpu = _median_ms(argv, args.runs, DRAWN if name == "--help (drawn)" else None)
        target = TARGETS_MS.get(name)
        aim = f" (target <= {target} ms)" if target else ""
        print(f"{name:>34}: {wall:6.0f} ms wall, {cpu:6.0f} ms cpu{aim}")
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
