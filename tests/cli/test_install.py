"""`marginlex` on the PATH: installed from the checkout into a fresh virtualenv, it starts
and runs from any folder (the shipped rulebooks and the demo book are package data)."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from marginlex import __version__

CHECKOUT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("uv") is None, reason="needs uv, as the README does")
def test_pip_install_puts_marginlex_on_the_path(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run(["uv", "venv", "-q", "--python", "3.11", str(venv)], check=True)
    install = ["uv", "pip", "install", "-q", "--python", str(venv / "bin" / "python")]
    done = subprocess.run([*install, str(CHECKOUT)], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    elsewhere = tmp_path / "any_folder"
    elsewhere.mkdir()
    marginlex = str(venv / "bin" / "marginlex")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [marginlex, *args],
            check=False,
            cwd=elsewhere,
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert run("--version").stdout.strip() == f"marginlex {__version__}"
    decided = run("run", "-r", "sec", "--json")
    assert decided.returncode == 0, decided.stderr
    assert '"sec:ms:A01_ALICE_PM"' in decided.stdout  # the demo book under a shipped rulebook


def test_uv_compiles_the_installed_packages_bytecode() -> None:
    """Under PYTHONDONTWRITEBYTECODE (this reference machine sets it) nothing imported is
    ever cached: without this setting every command compiled pandas, SQLAlchemy, typer and
    rich from source again (docs/running.md, "Start-up")."""
    settings = tomllib.loads((CHECKOUT / "pyproject.toml").read_text(encoding="utf-8"))
    assert settings["tool"]["uv"]["compile-bytecode"] is True
