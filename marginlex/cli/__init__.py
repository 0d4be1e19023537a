"""The ``marginlex`` command line (typer + rich).

Each command group lives in its own module and registers itself on the one app;
this module only assembles them, so that command groups never edit each other.

Start-up is kept short: the console script registers only the group of the command it was
asked for (``marginlex explain`` never imports the evaluator or the rulebook language), and
command modules import their heavy dependencies inside the commands. ``app`` (what tests
and ``python -m marginlex`` use) has every group.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer

GROUPS: dict[str, tuple[str, ...]] = {
    "marginlex.cli.dsl_commands": ("check", "fmt"),
    "marginlex.cli.book_commands": ("validate", "synth"),
    "marginlex.cli.run_command": ("run",),
    "marginlex.cli.audit_commands": ("explain", "verify", "ledger"),
    "marginlex.cli.variant_commands": ("compare", "diff", "test"),
    "marginlex.cli.workbench_commands": ("render",),
    "marginlex.cli.stress_command": ("stress",),
    "marginlex.cli.lsp_command": ("lsp",),
    "marginlex.cli.serve_command": ("serve",),
    "marginlex.cli.trust_commands": ("keys",),
}
"""Each command group's module and the commands it registers (a command not listed here
makes the console script register every group, so a new command is never hidden)."""


def _version_callback(value: bool) -> None:
    if value:
        from marginlex.engine.version import ENGINE_VERSION  # noqa: PLC0415

        typer.echo(f"marginlex {ENGINE_VERSION}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version."
    ),
) -> None:
    """Rules-as-code compliance engine for portfolio margin and cross-margining."""


def build_app(modules: tuple[str, ...] = tuple(GROUPS)) -> typer.Typer:
    """The typer app with the command groups of ``modules`` registered."""
    built = typer.Typer(
        name="marginlex",
        help="Rules-as-code compliance engine for portfolio margin and cross-margining.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    built.callback()(_root)
    for name in modules:
        importlib.import_module(name).register(built)
    return built


def modules_for(argv: list[str]) -> tuple[str, ...]:
    """The groups to register for a command line: the command's own, else every group.

    >>> modules_for(["explain", "d-1"])
    ('marginlex.cli.audit_commands',)
    >>> len(modules_for(["--help"]))
    10
    """
    command = next((a for a in argv if not a.startswith("-")), None)
    owners = tuple(m for m, commands in GROUPS.items() if command in commands)
    return owners or tuple(GROUPS)


_full: typer.Typer | None = None


def __getattr__(name: str) -> Any:
    """``app``: built with every group on first use."""
    global _full  # noqa: PLW0603 - one app per process, built on demand
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _full is None:
        _full = build_app()
    return _full


def main() -> None:
    """Entry point of the ``marginlex`` console script."""
    build_app(modules_for(sys.argv[1:]))()
