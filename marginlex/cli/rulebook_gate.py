"""One policy for ``run`` and ``compare``: refuse a rulebook file that ``check`` refuses.

``check`` fails on any diagnostic, a warning too; ``run`` and ``compare`` print the same
diagnostics and refuse the same files, unless the user passes ``--allow-warnings`` (errors
are refused always: such a rulebook does not load).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console

ALLOW_WARNINGS = typer.Option(
    False,
    "--allow-warnings",
    help="Run a rulebook file even when `marginlex check` reports warnings on it "
    "(the warnings are still printed).",
)


def refuse_unclean(names: list[str], allow_warnings: bool, err: Console) -> None:
    """Check every name that is a rulebook file; print its diagnostics; exit 1 when
    ``check`` would fail on it, unless only warnings were found and they are allowed.

    Shipped rulebook ids are not files and are checked by the suite, not here.
    """
    from marginlex.dsl.check.runner import check_paths  # noqa: PLC0415
    from marginlex.dsl.diagnostics import Severity  # noqa: PLC0415

    files = [name for name in names if Path(name).is_file()]
    if not files:
        return
    reports = check_paths(files)
    found = [(r, d) for r in reports for d in r.diagnostics]
    for report, diagnostic in found:
        err.print(diagnostic.render(report.source or None), markup=False, soft_wrap=True)
    if any(d.severity == Severity.ERROR for _, d in found):
        raise typer.Exit(1)
    if found and not allow_warnings:
        err.print(
            f"refused: {len(found)} warning(s), as `marginlex check` refuses them; "
            "fix them or pass --allow-warnings",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
