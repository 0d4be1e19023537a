"""``marginlex run --since RUN_ID``: the earlier run an incremental run compares with."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from marginlex.audit.ledger.carry import Since
    from marginlex.audit.ledger.gathered import GatheredRun
    from marginlex.audit.ledger.partitioned_run import PartitionedRun
    from marginlex.audit.ledger.record import RunRecorder

SINCE = typer.Option(
    None,
    "--since",
    metavar="RUN_ID",
    help="Decide only the margin sets whose inputs changed since this recorded run (needs "
    "--ledger); the others are recorded as references to their earlier decisions.",
)


def since_or_exit(
    run_id: str | None, location: str | None, dask: str | None, err: Console
) -> Since | None:
    """The earlier run ``--since`` names, read before anything is evaluated; exit 1 when
    it cannot be used (nothing is written)."""
    if run_id is None:
        return None
    if not location:
        err.print("error: --since needs --ledger: the run it names is read from there")
        raise typer.Exit(1)
    if dask is not None:
        err.print("error: --since is not available with --dask: run it in one process")
        raise typer.Exit(1)
    from marginlex.audit.ledger.carry import SinceError, load_since  # noqa: PLC0415

    try:
        return load_since(location, run_id)
    except SinceError as exc:
        err.print(f"error: nothing recorded: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None


def report_carried(recorder: RunRecorder | GatheredRun | PartitionedRun, err: Console) -> None:
    """Say on stderr how many decisions were carried forward and how many re-decided, and
    why a rulebook's sets were all decided anew (a new as-of date, rulebook or engine code)."""
    since: Since | None = getattr(recorder, "since", None)
    if since is None:
        return
    carried = int(getattr(recorder, "carried_count", 0))
    err.print(
        f"since run {since.run_id}: {recorder.decision_count - carried} decisions "
        f"re-decided, {carried} carried forward unchanged",
        markup=False,
    )
    redecided: dict[str, str] = getattr(recorder, "redecided", {})
    reasons: dict[str, list[str]] = {}
    for rulebook_id, why in redecided.items():  # a few rulebooks
        reasons.setdefault(why, []).append(rulebook_id)
    for why, rulebook_ids in reasons.items():
        err.print(
            f"since run {since.run_id}: every set of {', '.join(rulebook_ids)} decided anew: {why}",
            markup=False,
            soft_wrap=True,
        )
