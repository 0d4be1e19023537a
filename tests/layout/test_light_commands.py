"""Light commands do not import the heavy scientific stack (issue 16, part 3).

Each command runs in a fresh interpreter, as the console script does; at exit the child
prints which of the heavy modules ended up in ``sys.modules``. Not a timed test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from marginlex.cli import GROUPS
from marginlex.dsl.cache import CACHE_ENV

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


def _heavy_imported(
    args: list[str], heavy: tuple[str, ...] = HEAVY, cache: Path | None = None
) -> list[str]:
    code = PROBE.format(heavy=heavy, args=args)
    env = None if cache is None else {**os.environ, CACHE_ENV: str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env=env,
    )
    line = [x for x in done.stderr.splitlines() if x.startswith("HEAVY=")]
    assert line, done.stderr
    return list(json.loads(line[-1].removeprefix("HEAVY=")))


LEDGER = ROOT / "tests" / "data" / "audit" / "ledger_1_0_demo.db"
DECISION = "d-ms:A01_ALICE_PM-4b5174f4d6d9"  # entry #1 of that ledger


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (["--help"], ()),
        (["--version"], ()),
        (["fmt", "--check", SEC], ()),
        # the conflict pass proves SEC's rules with z3, unless it has the answer (below)
        (["check", SEC], ("z3",)),
        # a page without its tests never loads the engine (the checker's z3 as for `check`)
        (["render", SEC, "--no-tests", "--format", "md"], ("z3",)),
        (["explain", DECISION, "--ledger", "{ledger}"], ()),
        (["explain", DECISION, "--ledger", "{ledger}", "-f", "json"], ()),
        (["ledger", "--ledger", "{ledger}"], ()),
        (["ledger", "--ledger", "{ledger}", "--call-above", "1000"], ()),
        (["ledger", "runs", "--ledger", "{ledger}"], ()),
        (["verify", "--ledger", "{ledger}"], ()),
    ],
    ids=lambda v: " ".join(v)[:40] if isinstance(v, list) else None,
)
def test_light_command_imports_no_heavy_module(
    args: list[str], allowed: tuple[str, ...], tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.db"  # a copy: the shipped ledger is a golden file
    ledger.write_bytes(LEDGER.read_bytes())
    args = [a.format(ledger=ledger) for a in args]
    assert [m for m in _heavy_imported(args) if m not in allowed] == []


def test_check_imports_z3_only_to_prove(tmp_path: Path) -> None:
    """A second check of the same file reads the conflict pass's kept answer: no z3."""
    assert _heavy_imported(["check", SEC], cache=tmp_path) == ["z3"]
    assert _heavy_imported(["check", SEC], cache=tmp_path) == []
    edited = tmp_path / "sec_edited.mlx"  # a changed file is proved again
    edited.write_text(Path(SEC).read_text("utf-8") + "\n# edited\n", encoding="utf-8")
    assert _heavy_imported(["check", str(edited)], cache=tmp_path) == ["z3"]


CHECKING = (
    "lark",
    "marginlex.dsl.parser",
    "marginlex.dsl.model.expressions",  # a diagnostic needs only its Span (model/span.py)
    "marginlex.dsl.model.rulebook",
    "marginlex.dsl.check.passes",
)


def test_check_of_an_unchanged_file_parses_nothing(tmp_path: Path) -> None:
    """A second check of the same file reads its kept answer: no lark, no rulebook model,
    no passes (``dsl/check/answers.py``); an edited file is checked again."""
    assert _heavy_imported(["check", SEC], CHECKING, cache=tmp_path) == sorted(CHECKING)
    assert _heavy_imported(["check", SEC], CHECKING, cache=tmp_path) == []
    edited = tmp_path / "sec_edited.mlx"
    edited.write_text(Path(SEC).read_text("utf-8") + "\n# edited\n", encoding="utf-8")
    assert _heavy_imported(["check", str(edited)], CHECKING, cache=tmp_path) == sorted(CHECKING)


def test_verify_with_replay_is_not_light(tmp_path: Path) -> None:
    """The probe tells a heavy command from a light one: replay re-evaluates with the engine."""
    ledger = tmp_path / "ledger.db"
    ledger.write_bytes(LEDGER.read_bytes())
    assert {"pandas", "numpy"} <= set(
        _heavy_imported(["verify", "--replay", "--ledger", str(ledger)])
    )


def test_probe_sees_a_heavy_import() -> None:
    """The probe itself works: every command imports typer, and the probe says so."""
    assert _heavy_imported(["fmt", "--help"], heavy=("typer", "no_such_module")) == ["typer"]


FRAMEWORKS = ("typer", "rich", "rich.markdown", "pydantic", "sqlalchemy", "lark")
LEDGER_READ = ("pydantic", "rich", "sqlalchemy", "typer")
COMMAND_MODULES = tuple(GROUPS)


@pytest.mark.parametrize(
    ("args", "imported"),
    [
        (["--version"], ()),  # written without typer, as typer's --version writes it
        (["fmt", "--check", SEC], ("lark", "pydantic", "rich", "typer")),
        (["check", SEC], ("lark", "pydantic", "rich", "typer")),
        # one decision from a SQLite ledger: the standard library's sqlite3, no SQLAlchemy,
        # and written as text without rich (rich draws on a terminal, or an error)
        (["explain", DECISION, "--ledger", "{ledger}"], ("pydantic", "typer")),
        (["explain", DECISION, "--ledger", "{ledger}", "-f", "json"], ("pydantic", "typer")),
        (["ledger", "--ledger", "{ledger}"], LEDGER_READ),
        # a clean verify prints its report without rich
        (["verify", "--ledger", "{ledger}"], ("pydantic", "sqlalchemy", "typer")),
        # a command's own help draws Markdown with rich, and imports only its own group
        (["explain", "--help"], ("pydantic", "rich", "rich.markdown", "typer")),
    ],
    ids=lambda v: " ".join(v)[:40] if isinstance(v, list) else None,
)
def test_which_frameworks_a_light_command_imports(
    args: list[str], imported: tuple[str, ...], tmp_path: Path
) -> None:
    """Exactly these: a command that starts importing SQLAlchemy, lark or rich's Markdown
    renderer fails here, and so does one made lighter (then update the row)."""
    ledger = tmp_path / "ledger.db"
    ledger.write_bytes(LEDGER.read_bytes())
    args = [a.format(ledger=ledger) for a in args]
    assert _heavy_imported(args, FRAMEWORKS, cache=tmp_path / "cache") == sorted(imported)


def test_a_command_imports_only_its_own_group(tmp_path: Path) -> None:
    shown = _heavy_imported(["check", "--help"], COMMAND_MODULES, cache=tmp_path)
    assert shown == ["marginlex.cli.dsl_commands"]


def test_the_root_help_is_drawn_from_the_table_then_kept(tmp_path: Path) -> None:
    """The first ``--help`` draws with typer and rich but imports no command module; the
    next writes the kept text and imports neither typer, rich nor pydantic."""
    watched = (*FRAMEWORKS, *COMMAND_MODULES, "marginlex.dsl.parser", "marginlex.dsl.model")
    assert _heavy_imported(["--help"], watched, cache=tmp_path) == [
        "rich",
        "rich.markdown",
        "typer",
    ]
    assert _heavy_imported(["--help"], watched, cache=tmp_path) == []


ENGINE = ("marginlex.engine.run", "marginlex.engine.evaluate", "marginlex.engine.book.load")
LANGUAGE = ("marginlex.dsl.parser", "marginlex.dsl.model.rulebook", "marginlex.dsl.check.smt")
SQLALCHEMY_READ = ("sqlalchemy", "marginlex.audit.ledger.store", "marginlex.audit.ledger.read")


@pytest.mark.parametrize(
    ("args", "barred"),
    [
        (
            ["explain", DECISION, "--ledger", "{ledger}"],
            (*SQLALCHEMY_READ, *ENGINE, *LANGUAGE, "rich", "marginlex.dsl"),
        ),
        (["explain", DECISION, "--ledger", "{ledger}", "-f", "json"], SQLALCHEMY_READ),
        (["explain", DECISION, "--ledger", "sqlite:///{ledger}"], SQLALCHEMY_READ),
        (["check", SEC], (*SQLALCHEMY_READ, *ENGINE, "marginlex.audit.trace.model")),
        (["fmt", "--check", SEC], (*SQLALCHEMY_READ, *ENGINE, "marginlex.audit.trace.model")),
        (["ledger", "--ledger", "{ledger}"], (*ENGINE, *LANGUAGE)),
        (["verify", "--ledger", "{ledger}"], (*ENGINE, *LANGUAGE)),
    ],
    ids=lambda v: " ".join(v)[:40] if isinstance(v, list) else None,
)
def test_what_a_light_command_must_not_import(
    args: list[str], barred: tuple[str, ...], tmp_path: Path
) -> None:
    """Each light command against the modules it has no use for: SQLAlchemy and its readers
    (``explain`` reads one decision with ``sqlite3``), the engine, the rulebook language."""
    ledger = tmp_path / "ledger.db"
    ledger.write_bytes(LEDGER.read_bytes())
    args = [a.format(ledger=ledger) for a in args]
    assert _heavy_imported(args, barred, cache=tmp_path / "cache") == []


def test_explain_on_postgresql_still_reads_with_sqlalchemy(tmp_path: Path) -> None:
    """The probe sees the reader chosen by the location: a URL that is not SQLite goes to
    SQLAlchemy (the refused URL fails before any server is reached)."""
    args = ["explain", DECISION, "--ledger", "postgresql+psycopg://nobody@127.0.0.1:1/none"]
    assert "sqlalchemy" in _heavy_imported(args, SQLALCHEMY_READ, cache=tmp_path)
