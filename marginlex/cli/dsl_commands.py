"""Commands of the dsl group: ``marginlex check`` and ``marginlex fmt``."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from marginlex.cli.help_text import examples
from marginlex.cli.output_format import JSON_ALIAS, OutputFormat, chosen, format_option

# marginlex.dsl (lark, the checks) is imported inside the commands: other commands start fast.
if TYPE_CHECKING:
    from marginlex.dsl.check.runner import FileReport as CheckReport

_PATHS = typer.Argument(..., help="Rulebook files (.mlx) or folders holding them.")
_FORMAT = format_option("table (the report) or json (every diagnostic).")


def check(
    paths: list[str] = _PATHS,
    fmt: OutputFormat = _FORMAT,
    as_json: bool = JSON_ALIAS,
    verbose: bool = typer.Option(
        False,
        "--verbose",
        "-v",
        help="Also show, for each clean file, the file and sha256 of every rulebook it "
        "resolved from.",
    ),
) -> None:
    """Check rulebooks: syntax, names, units, tables, citations, extends and overrides.

    Exit 0 when clean, 1 with any diagnostic (a warning too: a rulebook with an unknown
    asset name is not clean until someone has looked at it). The report goes to stdout, so
    that it pipes (`marginlex check rulebooks/ | less`).
    """
    from marginlex.dsl.check.runner import check_paths  # noqa: PLC0415
    from marginlex.dsl.diagnostics import Severity  # noqa: PLC0415

    as_json = chosen(fmt, as_json, "check", csv=False) is OutputFormat.JSON
    reports = check_paths(paths, verbose=verbose)
    diagnostics = [d for r in reports for d in r.diagnostics]
    errors = [d for d in diagnostics if d.severity == Severity.ERROR]
    if as_json:
        payload = [{**d.model_dump(mode="json"), "docs": d.code.docs} for d in diagnostics]
        typer.echo(json.dumps(payload, indent=2))
    else:
        out = Console(highlight=False, soft_wrap=True, emoji=False)
        for report in reports:
            if report.sources:
                out.print(_sources_text(report), markup=False)
            for d in report.diagnostics:
                out.print(d.render(report.source or None), markup=False)
                out.print()
        files = len({r.path for r in reports})
        warnings = len(diagnostics) - len(errors)
        codes = sorted({d.code for d in diagnostics})
        if codes:
            anchors = ", ".join(f"{c.value}: {c.docs}" for c in codes)
            out.print(f"explained with an example and the fix in {anchors}", markup=False)
        summary = (
            f"{len(errors)} error(s), {warnings} warning(s) in {files} file(s)"
            if diagnostics
            else f"{files} rulebook file(s) checked: clean"
        )
        out.print(summary, markup=False)
    raise typer.Exit(1 if diagnostics else 0)


def _sources_text(report: CheckReport) -> str:
    from marginlex.dsl.provenance import source_lines  # noqa: PLC0415

    head = f"{report.path}: rulebook {report.sources[-1].id} resolved from"
    return "\n".join([head, *source_lines(report.sources)])


def fmt(
    paths: list[str] = _PATHS,
    check_only: bool = typer.Option(
        False, "--check", help="Do not write; exit 1 if any file is not in canonical form."
    ),
    diff: bool = typer.Option(
        False,
        "--diff",
        help="Do not write; print each change as a unified diff on stdout (exit 1 only "
        "with --check).",
    ),
) -> None:
    """Rewrite rulebooks in place in canonical layout (comments kept). Idempotent.

    With --check, writes nothing and exits 1 if a file would change; with --diff, writes
    nothing and prints each change as a unified diff.
    """
    from marginlex.dsl.check.runner import collect_files  # noqa: PLC0415

    files, problems = collect_files(paths)
    err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
    failed = bool(problems)
    for d in problems:
        err.print(d.render(), markup=False)
    for path in files:
        failed |= _format_one(path, check_only, err, diff=diff)
    raise typer.Exit(1 if failed else 0)


def _format_one(path: Path, check_only: bool, err: Console, *, diff: bool = False) -> bool:
    """Format one file (or, with ``check_only``, say it would change); True on a failure."""
    from marginlex.dsl.claims import read_text  # noqa: PLC0415
    from marginlex.dsl.diagnostics import RulebookError  # noqa: PLC0415
    from marginlex.dsl.format.files import replace_text  # noqa: PLC0415
    from marginlex.dsl.format.formatter import format_text  # noqa: PLC0415

    shown: str | None = None  # unread: no source line under it (it showed "1 | " and a caret)
    try:  # a file that is not UTF-8 is MLX001, as `check` says, not a traceback
        text = shown = read_text(path)
        formatted = format_text(text, str(path))
    except RulebookError as exc:
        for d in exc.diagnostics:
            err.print(d.render(shown), markup=False)
        return True
    if formatted == text:
        return False
    if check_only or diff:  # --diff alone shows the change and writes nothing, as a preview
        err.print(f"{path}: would be reformatted", markup=False)
        if diff:
            typer.echo(_unified(path, text, formatted), nl=False)
        return check_only
    try:  # whole or not at all (never half a rulebook), with the file's own line ends
        replace_text(path, formatted.replace("\n", _line_end(path)))
    except OSError as exc:  # read-only: said, and the other files are still formatted
        err.print(f"error: cannot write {path}: {exc.strerror or exc}", markup=False)
        return True
    err.print(f"{path}: reformatted", markup=False)
    return False


def _line_end(path: Path) -> str:
    """The line end a file is written with: CRLF when most of its lines end so (a file
    saved on Windows stays one: rewritten with LF, every line changed in version control)."""
    data = path.read_bytes()
    crlf = data.count(b"\r\n")
    return "\r\n" if crlf and crlf * 2 >= data.count(b"\n") else "\n"


def _unified(path: Path, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"{path}", f"{path}"
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the marginlex app."""
    app.command(
        "check",
        epilog=examples(
            "marginlex check my_firm.mlx",
            "marginlex check rulebooks/ --format json",
            "marginlex check my_firm.mlx --verbose",
        ),
    )(check)
    app.command(
        "fmt",
        epilog=examples("marginlex fmt my_firm.mlx", "marginlex fmt --check --diff rulebooks/"),
    )(fmt)
