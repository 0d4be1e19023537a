"""``marginlex --help`` from the static command table, kept once drawn (issue 16, part 3).

The root help is drawn from stand-ins of :data:`LISTING` and then written from the cache
folder: each must be byte for byte what typer draws from the real commands, in colour and
without, at every width.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from marginlex.cli import app
from marginlex.cli.command_table import LISTING
from marginlex.cli.root_help import help_key
from marginlex.dsl.cache import CACHE_ENV

ROOT = Path(__file__).resolve().parents[2]
REAL = "import sys; sys.argv = ['marginlex', '--help']; from marginlex.cli import app; app()"
FAST = "import sys; sys.argv = ['marginlex', '--help']; from marginlex.cli import main; main()"


def _first_paragraph(command: object) -> str:
    shown = getattr(command, "short_help", None) or getattr(command, "help", None) or ""
    return inspect.cleandoc(shown).split("\n\n")[0].replace("\n", " ").strip()


def test_the_table_lists_the_real_commands_in_order_with_their_first_paragraphs() -> None:
    group = typer.main.get_command(app)
    names = group.list_commands(None)  # type: ignore[arg-type]
    real = {name: _first_paragraph(group.commands[name]) for name in names}  # type: ignore[attr-defined]
    assert list(real) == list(LISTING)
    assert real == LISTING


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.parametrize(
    "env",
    [
        {"COLUMNS": "80"},
        {"COLUMNS": "57"},
        {"COLUMNS": "140"},
        {"COLUMNS": "100", "FORCE_COLOR": "1"},
        {"COLUMNS": "80", "FORCE_COLOR": "1", "TERM": "xterm-256color", "COLORTERM": "truecolor"},
    ],
    ids=lambda env: " ".join(f"{k}={v}" for k, v in env.items()),
)
def test_drawn_and_kept_root_help_are_what_typer_draws(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, CACHE_ENV: str(tmp_path)}
    real = _run(REAL, env).stdout
    drawn = _run(FAST, env).stdout  # first: drawn from the table, and kept
    assert [p.name.startswith("help-") for p in tmp_path.iterdir()] == [True]
    kept = _run(FAST, env).stdout  # then written from the kept file
    assert "Commands" in real
    assert ("\x1b[" in real) == ("FORCE_COLOR" in env)  # colour drawn where asked for
    assert drawn == real
    assert kept == real


def test_a_kept_help_is_only_read_under_its_own_key(tmp_path: Path) -> None:
    """A different width (or colour, locale, typer) is drawn again under another name."""
    env = {CACHE_ENV: str(tmp_path), "COLUMNS": "80"}
    _run(FAST, env)
    wide = _run(FAST, {**env, "COLUMNS": "120"}).stdout
    assert len(list(tmp_path.iterdir())) == 2
    assert max(len(line) for line in wide.splitlines()) == 120


def test_the_key_follows_width_colour_and_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("LANG", raising=False)
    first = help_key()
    assert help_key() == first
    monkeypatch.setenv("COLUMNS", "81")
    assert help_key() != first
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    assert help_key() != first
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    assert help_key() != first
    monkeypatch.delenv("LANG")
    monkeypatch.setenv("HOME_OF_NOTHING", "x")  # an unrelated variable keeps the key
    assert help_key() == first


def test_with_the_cache_off_the_help_is_drawn_every_time(tmp_path: Path) -> None:
    off = _run(FAST, {CACHE_ENV: "", "XDG_CACHE_HOME": str(tmp_path), "COLUMNS": "80"}).stdout
    assert off == _run(REAL, {"COLUMNS": "80"}).stdout
    assert list(tmp_path.iterdir()) == []  # not kept in the default folder either


def test_version_alone_is_written_as_typer_writes_it() -> None:
    real = _run(REAL.replace("'--help'", "'--version'"), {}).stdout
    fast = _run(FAST.replace("'--help'", "'--version'"), {}).stdout
    assert real.startswith("marginlex ")
    assert fast == real
