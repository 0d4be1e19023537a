"""The root command's own options (``--version``) and its help texts."""

from __future__ import annotations

import typer

SUMMARY = "Rules-as-code compliance engine for portfolio margin and cross-margining."
EXAMPLES = ("marginlex check my_firm.mlx", "marginlex run BOOK -r sec -r my_firm.mlx")


def _version_callback(value: bool) -> None:
    if value:
        from marginlex.engine.version import ENGINE_VERSION  # noqa: PLC0415

        typer.echo(f"marginlex {ENGINE_VERSION}")
        raise typer.Exit()


def root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version."
    ),
) -> None:
    """Rules-as-code compliance engine for portfolio margin and cross-margining."""
