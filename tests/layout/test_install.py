"""The install writes bytecode: a start that compiles the stack again is a slow start."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_uv_compiles_the_installed_packages_bytecode() -> None:
    # Under PYTHONDONTWRITEBYTECODE nothing imported is ever cached: without this setting
    # every marginlex command compiles pandas, SQLAlchemy, typer and rich from source.
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert settings["tool"]["uv"]["compile-bytecode"] is True
