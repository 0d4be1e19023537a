"""Commands of the audit group: ``explain``, ``verify`` and ``ledger``."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from marginlex.cli.trust_commands import checkpoint_command, init_command, upgrade_command
from marginlex.engine.outcomes import DecisionStatus

# The ledger (sqlalchemy), the trace models (pydantic) and the renderers are imported inside
# the commands, so that `marginlex explain` does not pay for every other command's imports.
if TYPE_CHECKING:
    from marginlex.audit.ledger.records import DecisionRow, StoredDecision, StoredRun
    from marginlex.audit.ledger.store import Ledger
    from marginlex.audit.ledger.verify import VerifyReport
    from marginlex.audit.trace.model import DecisionTrace

ENV_VAR = "MARGINLEX_LEDGER"  # marginlex.audit.ledger.store.ENV_VAR, without sqlalchemy
_err = Console(stderr=True)
LEDGER_HELP = (
    f"Ledger file path or postgresql+psycopg:// URL (default: ${ENV_VAR}, "
    "else ./marginlex-ledger.db)."
)
LedgerOpt = Annotated[str | None, typer.Option("--ledger", help=LEDGER_HELP)]
SinceOpt = Annotated[
    datetime | None, typer.Option(help="Only runs recorded at or after this time (UTC).")
]
UntilOpt = Annotated[
    datetime | None, typer.Option(help="Only runs recorded at or before this time (UTC).")
]


class ExplainFormat(StrEnum):
    """Renderings of a decision trace."""

    TEXT = "text"
    JSON = "json"
    HTML = "html"


class ListFormat(StrEnum):
    """Renderings of a ledger listing."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def _open(ledger: str | None) -> Ledger:
    from marginlex.audit.ledger.store import Ledger, LedgerError, resolve_location  # noqa: PLC0415

    try:
        return Ledger.open(resolve_location(ledger), create=False)
    except LedgerError as exc:
        _err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


def explain(
    decision_id: Annotated[
        str,
        typer.Argument(
            help="The decision id: as `marginlex ledger` lists it, or RULEBOOK:MARGIN_SET "
            "as `marginlex run --json` prints it (e.g. sec:ms:A01_ALICE_PM)."
        ),
    ],
    *,
    format: Annotated[ExplainFormat, typer.Option("--format", "-f")] = ExplainFormat.TEXT,
    ledger: LedgerOpt = None,
    run: Annotated[str | None, typer.Option(help="Its recording in this run.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
    depth: Annotated[
        int | None, typer.Option(min=0, help="Text: only this many levels under the decision.")
    ] = None,
    section: Annotated[
        str | None,
        typer.Option(help="Text: only the decision's lines starting so (e.g. Requirement)."),
    ] = None,
    what_if: Annotated[
        bool,
        typer.Option(
            "--what-if",
            help="The smallest changes that alter the decision, each re-evaluated on the "
            "recorded book and rulebook.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Explain one decision, top-down, with the rule and citation behind every line.

    With --what-if: what would have to change for the decision to change (a failed
    requirement passed, a call cleared, a breach ended), each change verified by evaluating
    the changed recorded book.
    """
    format = ExplainFormat.JSON if as_json else format
    from marginlex.audit.explain.entry import entry_line  # noqa: PLC0415
    from marginlex.audit.explain.text import render_json, render_rich, render_text  # noqa: PLC0415
    from marginlex.audit.ledger.chain import TraceDecodeError  # noqa: PLC0415
    from marginlex.audit.ledger.read import DecisionNotFoundError  # noqa: PLC0415

    store = _open(ledger)
    try:
        stored = store.get_decision(decision_id, run)
    except (DecisionNotFoundError, TraceDecodeError) as exc:
        _err.print(f"[red]error:[/] {escape(exc.args[0])}", soft_wrap=True)
        raise typer.Exit(1) from exc
    finally:
        store.close()
    trace, mismatch = stored.trace, stored.row.mismatch
    if section is not None:
        _check_section(trace, section)
    if mismatch is not None:  # said on stderr whatever the format, and atop the text
        _err.print(f"[red]{mismatch}[/]: `marginlex verify` names the first broken entry")
    if what_if:
        _write(_what_if(ledger, stored, format is ExplainFormat.JSON), output)
        return
    if format is ExplainFormat.TEXT and output is None and sys.stdout.isatty():
        if mismatch is not None:
            Console().print(f"[bold red]!! {mismatch}[/]")
        Console().print(f"[dim]{escape(entry_line(stored))}[/]")
        Console().print(render_rich(trace, depth=depth, section=section))
        return
    if format is ExplainFormat.HTML:
        from marginlex.audit.explain.html import render_html  # noqa: PLC0415 - jinja2

        body = render_html(trace, stored)
    elif format is ExplainFormat.JSON:
        body = render_json(trace, stored)
    else:
        body = render_text(trace, stored, depth=depth, section=section)
    if mismatch is not None and format is ExplainFormat.TEXT:
        body = f"!! {mismatch}\n{body}"
    _write(body, output)


def _what_if(ledger: str | None, stored: StoredDecision, as_json: bool) -> str:
    """The counterfactuals of a stored decision (the engine is imported only here)."""
    from marginlex.audit.explain.what_if import (  # noqa: PLC0415
        recorded_what_if,
        render_what_if,
        what_if_json,
    )
    from marginlex.audit.ledger.recorded_inputs import RecordedInputError  # noqa: PLC0415
    from marginlex.engine.whatif.evaluator import SetNotFoundError  # noqa: PLC0415

    store = _open(ledger)
    try:
        with _err.status("searching what would change the decision"):
            found = recorded_what_if(store, stored)
    except (RecordedInputError, SetNotFoundError) as exc:
        _err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    finally:
        store.close()
    return what_if_json(found, stored) if as_json else render_what_if(found, stored)


def _write(body: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(body)
    else:
        output.write_text(body, encoding="utf-8")
        _err.print(f"wrote {output}")


def _check_section(trace: DecisionTrace, section: str) -> None:
    from marginlex.audit.explain.tree import build_tree  # noqa: PLC0415

    heads = [child.text.split(" ")[0] for child in build_tree(trace).children]
    if not any(h.casefold().startswith(section.casefold()) for h in heads):
        names = ", ".join(dict.fromkeys(heads))
        _err.print(f"[red]error:[/] no section {section!r} in this decision; it has: {names}")
        raise typer.Exit(1)


def verify_command(
    *,
    ledger: LedgerOpt = None,
    replay: Annotated[bool, typer.Option(help="Also re-evaluate every recorded run.")] = False,
    expect_head: Annotated[
        str | None, typer.Option(help="A head hash noted earlier: the chain must still hold it.")
    ] = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(help="A checkpoint file (or folder) `run --sign` appended to."),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(help="Check every checkpoint's signature with this public key."),
    ] = None,
) -> None:
    """Re-walk the hash chain; name the first entry changed, removed or reordered (exit 1).

    With --replay, also rebuild every recorded run's rulebooks and book from the ledger,
    re-evaluate, and compare each decision's trace byte for byte (exit 1 on any difference).
    With --public-key, also check the signed checkpoints (of --checkpoints, else the ledger's
    own): every signature, and that the ledger still holds each checkpointed head.
    """
    from sqlalchemy.exc import DBAPIError  # noqa: PLC0415

    from marginlex.audit.ledger.verify import verify  # noqa: PLC0415
    from marginlex.cli.trust_commands import check_checkpoints_or_exit  # noqa: PLC0415

    if checkpoints is not None and public_key is None:
        _err.print("[red]error:[/] --checkpoints needs --public-key to check their signatures")
        raise typer.Exit(2)
    replayer = None
    if replay:  # re-evaluation needs the engine (pandas, the rulebook language): only then
        from marginlex.audit.ledger.replay_run import replay_run  # noqa: PLC0415

        replayer = replay_run
    store = _open(ledger)
    try:
        report = verify(store, replayer=replayer, expect_head=expect_head)
        _print_report(report)
        anchored = public_key is None or check_checkpoints_or_exit(store, checkpoints, public_key)
    except ValueError as exc:  # a recorded input that no longer loads: cannot replay
        _err.print(f"[red]error:[/] replay failed: {escape(str(exc))}")
        raise typer.Exit(1) from exc
    except DBAPIError as exc:  # a column edited into what the driver cannot read
        shown = "".join(c if c.isprintable() else "?" for c in str(exc.orig))
        _err.print(f"error: the ledger cannot be read: {shown}", markup=False)
        raise typer.Exit(1) from exc
    finally:
        store.close()
    if not (report.ok and anchored):
        raise typer.Exit(1)


def _print_report(report: VerifyReport) -> None:
    if report.problem is not None:
        p = report.problem
        where = f"entry #{p.seq}" if p.seq is not None else "ledger"
        who = f" (decision {p.decision_id}, run {p.run_id})" if p.decision_id else ""
        typer.echo(f"FAILED at {where}{who}: {p.kind.value}: {p.message}")
        return
    typer.echo(
        f"OK: {report.entries} entries in {report.runs} runs; the chain is intact; "
        f"head #{report.head_seq} {report.head_hash}"
    )
    if report.replayed is not None:
        differ = len(report.replay_differences)
        if differ == 0:
            typer.echo(f"replayed {report.replayed} decisions: every one identical, byte for byte")
        else:
            typer.echo(f"replayed {report.replayed} decisions: {differ} differ")
        for d in report.replay_differences:
            typer.echo(f"DIFFERS entry #{d.seq} {d.decision_id} (run {d.run_id}): {d.detail}")


def ledger_command(
    ctx: typer.Context,
    *,
    ledger: LedgerOpt = None,
    run: Annotated[str | None, typer.Option(help="Only this run.")] = None,
    account: Annotated[str | None, typer.Option(help="Only sets holding this account.")] = None,
    rulebook: Annotated[str | None, typer.Option(help="Only this rulebook id.")] = None,
    status: Annotated[DecisionStatus | None, typer.Option(help="ok, call or breach.")] = None,
    call_above: Annotated[
        Decimal | None, typer.Option(help="Only calls above this amount (USD).")
    ] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: Annotated[
        int | None,
        typer.Option(min=1, help=f"At most this many rows (a table: {PAGE} unless --all)."),
    ] = None,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many rows first.")] = 0,
    all_rows: Annotated[bool, typer.Option("--all", help="A table: every row, unpaged.")] = False,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.TABLE,
) -> None:
    """List and filter recorded decisions as a table, CSV or JSON.

    Each row shown is checked against its entry hash; a row edited since it was recorded
    says HASH MISMATCH beside it. A table shows one page of rows; CSV and JSON every row.
    `marginlex ledger runs` lists the runs instead.
    """
    if ctx.invoked_subcommand is not None:
        return
    paged = format is ListFormat.TABLE and limit is None and not all_rows
    store = _open(ledger)
    try:
        rows = store.query(
            run=run,
            account=account,
            rulebook=rulebook,
            status=status,
            call_above=call_above,
            since=since,
            until=until,
            limit=PAGE + 1 if paged else limit,
            offset=offset,
        )
    finally:
        store.close()
    more = paged and len(rows) > PAGE
    rows = rows[:PAGE] if more else rows
    _warn_mismatches(rows)
    if format is ListFormat.JSON:
        dumped = [r.model_dump(mode="json", exclude_none=True) for r in rows]
        sys.stdout.write(json.dumps(dumped, indent=2) + "\n")
    elif format is ListFormat.CSV:
        sys.stdout.write(rows_csv(rows))
    else:
        # Off a terminal, rich would squeeze the table to 80 columns and cut the ids.
        Console(width=None if sys.stdout.isatty() else 200).print(_table(rows))
        if more:
            typer.echo(_more_hint(offset, len(rows)))


PAGE = 50  # rows a ledger table shows unless told otherwise


def _more_hint(offset: int, shown: int) -> str:
    first, last = offset + 1, offset + shown
    return (
        f"rows {first}-{last} shown; more match: --offset {last} for the next page, "
        "--limit N for N rows, --all for every row, or -f csv / -f json for a file"
    )


def _warn_mismatches(rows: list[DecisionRow]) -> None:
    bad = [r for r in rows if r.mismatch is not None]
    if bad:
        _err.print(
            f"[red]{len(bad)} of the rows shown no longer match their hash[/]: "
            "`marginlex verify` names the first broken entry"
        )


_COLUMNS = (
    "seq",
    "run_id",
    "decision_id",
    "rulebook_id",
    "margin_set_id",
    "account_ids",
    "status",
    "requirement",
    "call",
)
_CSV_COLUMNS = (*_COLUMNS, "mismatch")


def rows_csv(rows: list[DecisionRow]) -> str:
    """Decision rows as CSV (account ids joined by ``;``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.seq,
                r.run_id,
                r.decision_id,
                r.rulebook_id,
                r.margin_set_id,
                ";".join(r.account_ids),
                r.status.value,
                r.requirement,
                r.call,
                r.mismatch or "",
            ]
        )
    return out.getvalue()


def _table(rows: list[DecisionRow]) -> Table:
    table = Table(title=f"{len(rows)} decisions")
    checked = any(r.mismatch for r in rows)  # the column only when a row fails its hash
    for name in (*_COLUMNS, "hash") if checked else _COLUMNS:
        table.add_column(
            name, justify="right" if name in {"seq", "requirement", "call"} else "left"
        )
    style = {DecisionStatus.OK: "green", DecisionStatus.CALL: "red", DecisionStatus.BREACH: "red"}
    for r in rows:
        table.add_row(
            str(r.seq),
            r.run_id,
            r.decision_id,
            r.rulebook_id,
            r.margin_set_id,
            ", ".join(r.account_ids),
            f"[{style[r.status]}]{r.status.value}[/]",
            f"{r.requirement:,.2f}",
            f"{r.call:,.2f}",
            *([f"[bold red]{r.mismatch}[/]" if r.mismatch else "ok"] if checked else []),
        )
    return table


def runs_command(
    *,
    ledger: LedgerOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.TABLE,
) -> None:
    """List the recorded runs, oldest first: when each was recorded, its book date, counts
    and who ran it (CSV and JSON add the command line, the marginlex version and the sha256
    of the book and of each rulebook bundle)."""
    store = _open(ledger)
    try:
        runs = [r for r in store.runs() if _within(r.record.created_at, since, until)]
    finally:
        store.close()
    rows = [_run_row(r) for r in runs]
    if format is ListFormat.JSON:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    elif format is ListFormat.CSV:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=_RUN_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(out.getvalue())
    else:
        table = Table(title=f"{len(rows)} runs")
        for name in _RUN_TABLE:
            table.add_column(name, justify="left" if name in _RUN_TEXT else "right")
        for row in rows:
            table.add_row(*(str(row[name]) for name in _RUN_TABLE))
        Console(width=None if sys.stdout.isatty() else 200).print(table)


_RUN_TABLE = (
    "run_id",
    "recorded_at",
    "as_of",
    "rulebooks",
    "decisions",
    "ok",
    "call",
    "breach",
    "operator",
    "host",
)
_RUN_COLUMNS = (*_RUN_TABLE, "command_line", "marginlex", "book_sha256", "rulebook_sha256")
"""CSV and JSON: who ran each run and the sha256 of its inputs too."""
_RUN_TEXT = {"run_id", "recorded_at", "as_of", "rulebooks", "operator", "host"}
NOT_RECORDED = "not recorded"  # who ran a run recorded before marginlex recorded it


def _within(moment: datetime, since: datetime | None, until: datetime | None) -> bool:
    def utc(t: datetime) -> datetime:
        return t if t.tzinfo else t.replace(tzinfo=UTC)  # a bare time is UTC

    return (since is None or moment >= utc(since)) and (until is None or moment <= utc(until))


def _run_row(run: StoredRun) -> dict[str, str | int | None]:
    r, c = run.record, run.counts
    return {
        "run_id": r.run_id,
        "recorded_at": r.created_at.isoformat(),
        "as_of": r.as_of.isoformat(),
        "rulebooks": ";".join(ref.id for ref in r.rulebooks),
        "decisions": c.decisions,
        "ok": c.ok,
        "call": c.call,
        "breach": c.breach,
        "operator": r.origin.operator if r.origin else NOT_RECORDED,
        "host": r.origin.host if r.origin else NOT_RECORDED,
        "command_line": r.origin.command_line if r.origin else NOT_RECORDED,
        "marginlex": r.engine_version,
        "book_sha256": r.book_sha256,
        "rulebook_sha256": ";".join(f"{ref.id}={ref.sha256}" for ref in r.rulebooks),
    }


def register(app: typer.Typer) -> None:
    """Add this group's commands to the marginlex app (``ledger`` with its ``runs``)."""
    app.command("explain")(explain)
    app.command("verify")(verify_command)
    group = typer.Typer(invoke_without_command=True, add_completion=False)
    group.callback()(ledger_command)
    group.command("runs")(runs_command)
    group.command("checkpoint")(checkpoint_command)
    group.command("init")(init_command)
    group.command("upgrade")(upgrade_command)
    app.add_typer(group, name="ledger")
