"""Commands of the workbench group: ``marginlex render``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from marginlex.cli.help_text import examples
from marginlex.cli.output_file import check_file_or_exit, write_file

# The rulebook language, the engine and Jinja2 are imported inside the command, so that
# `marginlex --help` stays light.
if TYPE_CHECKING:
    from marginlex.dsl.resolve import ResolvedRulebook
    from marginlex.workbench.render import CaseIndex


class _Format(StrEnum):
    HTML = "html"
    MD = "md"


_RULEBOOK = typer.Argument(..., help="A rulebook: a .mlx path, or the id of a shipped one.")
_FORMAT = typer.Option(_Format.HTML, "--format", "-f", help="html (a standalone page) or md.")
_OUT = typer.Option(None, "--out", "-o", help="Write the page here instead of to stdout.")
_TESTS = typer.Option(
    None,
    "--tests",
    help="Rulebook test files or folders to run for coverage (default: the shipped tests and "
    "the *.test.toml files beside the rulebook).",
)
_NO_TESTS = typer.Option(False, "--no-tests", help="Do not run rulebook tests.")


def _load(rulebook: str) -> ResolvedRulebook:
    from marginlex.dsl.diagnostics import RulebookError  # noqa: PLC0415
    from marginlex.dsl.loader import load_rulebook  # noqa: PLC0415

    try:
        return load_rulebook(rulebook)
    except RulebookError as exc:
        for d in exc.diagnostics:
            typer.echo(d.render(), err=True)
        typer.echo(f"error: rulebook `{rulebook}` does not load", err=True)
        raise typer.Exit(1) from None


def _tests(rulebook: str, rulebook_id: str, paths: list[Path] | None) -> CaseIndex:
    from marginlex.engine.variants.rulebook_tests import RulebookTestError  # noqa: PLC0415
    from marginlex.workbench.render import collect_tests, tests_near  # noqa: PLC0415

    try:
        return collect_tests(paths or tests_near(Path(rulebook)), {rulebook_id})
    except RulebookTestError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def render_command(
    rulebook: str = _RULEBOOK,
    fmt: _Format = _FORMAT,
    out: Path | None = _OUT,
    tests: list[Path] | None = _TESTS,
    no_tests: bool = _NO_TESTS,
) -> None:
    """Render a rulebook as a readable document: header, statements under their sections
    with citation, evidence, dates, conditions and tables, parameters and where they are
    used, the rulebook tests covering each statement, and for a variant its diff against its
    base. Each statement has the anchor `#rule-<id>`."""
    from marginlex.workbench.render import Format, render_rulebook  # noqa: PLC0415

    check_file_or_exit(out, "-o", [("the rulebook", rulebook)])
    resolved = _load(rulebook)
    index = None if no_tests else _tests(rulebook, resolved.id, tests)
    page = render_rulebook(resolved, Format(fmt.value), index)
    if out is None:
        typer.echo(page, nl=False)
    else:
        write_file(out, "-o", lambda path: path.write_text(page, encoding="utf-8"))


def register(app: typer.Typer) -> None:
    """Add the workbench commands to ``app``."""
    app.command(
        "render",
        epilog=examples(
            "marginlex render sec -o sec.html",
            "marginlex render my_firm.mlx --format md --no-tests",
        ),
    )(render_command)
