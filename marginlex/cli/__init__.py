"""The ``marginlex`` command line (typer + rich).

Each command group lives in its own module and registers itself on the one app;
this module only assembles them, so that command groups never edit each other.
"""

from __future__ import annotations

import typer

from marginlex import __version__
from marginlex.cli import audit_commands, book_commands, dsl_commands, run_command, variant_commands

app = typer.Typer(
    name="marginlex",
    help="Rules-as-code compliance engine for portfolio margin and cross-margining.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (dsl_commands, book_commands, run_command, audit_commands, variant_commands):
    _module.register(app)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"marginlex {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version."
    ),
) -> None:
    """Rules-as-code compliance engine for portfolio margin and cross-margining."""


def main() -> None:
    """Entry point of the ``marginlex`` console script."""
    app()
