"""Every command's --help: an example, readable types, nothing cut, sentences not hard-wrapped."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from marginlex.cli import app

runner = CliRunner()
BOX = re.compile(r"[│╭╮╰╯─]")
PYTHON_TYPES = ("<bool>", "<str>", "<list[", "<Decimal>", "<int", "<float", "<path>", "<datetime>")


def _commands(group: Any, prefix: str = "") -> dict[str, Any]:
    """Every command by name, sub-commands as `group sub` (typer ships its own click)."""
    found: dict[str, Any] = {}
    for name, command in group.commands.items():
        found[f"{prefix}{name}"] = command
        if hasattr(command, "commands"):
            found |= _commands(command, f"{prefix}{name} ")
    return found


COMMANDS = _commands(typer.main.get_command(app))


def _flat(text: str) -> str:
    """Text without the boxes' borders, backticks and line breaks: words in order."""
    return " ".join(BOX.sub(" ", text.replace("`", "")).split())


def _help(command: str, columns: int) -> str:
    result = runner.invoke(app, [*command.split(), "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_root_help_has_an_example() -> None:
    assert "Examples" in _help("", 80)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_has_an_example_and_readable_types(name: str) -> None:
    shown = _help(name, 80)
    assert "Examples" in shown
    assert f"marginlex {name}" in shown.split("Examples", 1)[1]  # the example is of this command
    assert not [t for t in PYTHON_TYPES if t in shown], shown
    assert "…" not in shown  # rich's mark of a cut text
    assert max(len(line) for line in shown.splitlines()) <= 80


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_no_option_text_is_cut(name: str) -> None:
    flat = _flat(_help(name, 80))
    for param in COMMANDS[name].params:
        said = getattr(param, "help", None)
        if said and not getattr(param, "hidden", False):
            assert _flat(said) in flat, (param.name, said)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_paragraphs_reflow_instead_of_keeping_source_line_breaks(name: str) -> None:
    """On a wide terminal each paragraph of the description is one line."""
    lines = [_flat(line) for line in _help(name, 1000).splitlines()]
    doc = inspect.cleandoc(COMMANDS[name].help or "")
    for paragraph in doc.split("\n\n"):
        assert _flat(paragraph) in lines, paragraph
