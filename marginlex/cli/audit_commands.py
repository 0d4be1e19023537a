"""Commands of the audit group: ``explain``, ``verify`` and ``ledger``."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer

from marginlex.audit.ledger.locks import LockTimeout
from marginlex.audit.ledger.unreadable import UNREADABLE
from marginlex.cli.consoles import lazy_console
from marginlex.cli.help_text import examples
from marginlex.cli.input_errors import input_error_lines
from marginlex.cli.output_file import Read, check_file_or_exit, write_file
from marginlex.cli.rulebook_gate import refuse_unclean
from marginlex.cli.trust_commands import checkpoint_command, init_command, upgrade_command
from marginlex.cli.usage import (
    amount,
    as_of_date,
    head_hash,
    ledger_given,
    moment,
    usage_error,
)
from marginlex.engine.kernels.csv_cells import csv_text
from marginlex.engine.outcomes import DecisionStatus
from marginlex.printable import printable

# The ledger (sqlalchemy), the trace models (pydantic), rich and the renderers are imported
# inside the commands, so that `marginlex explain` does not pay for every other command's imports.
if TYPE_CHECKING:
    from rich.table import Table

    from marginlex.audit.ledger.records import DecisionRow, StoredDecision, StoredRun
    from marginlex.audit.ledger.sqlite_read import SqliteDecisionReader
    from marginlex.audit.ledger.store import Ledger
    from marginlex.audit.ledger.verify import VerifyReport
    from marginlex.audit.trace.model import DecisionTrace

ENV_VAR = "MARGINLEX_LEDGER"  # marginlex.audit.ledger.store.ENV_VAR, without sqlalchemy
_err = lazy_console(stderr=True)


def _say_error(message: str, *, soft_wrap: bool = False) -> None:
    """``error: MESSAGE`` on stderr, ``error:`` in red and the message as written (an id or a
    path holding ``[/]`` is text, not markup)."""
    from rich.markup import escape  # noqa: PLC0415 - rich when an error is shown

    _err.print(f"[red]error:[/] {escape(message)}", soft_wrap=soft_wrap)


LEDGER_HELP = (
    f"Ledger file path or postgresql+psycopg:// URL (default: ${ENV_VAR}, "
    "else ./marginlex-ledger.db if it exists, else your default ledger, where "
    "`marginlex run --record` records)."
)
LedgerOpt = Annotated[str | None, typer.Option("--ledger", help=LEDGER_HELP, callback=ledger_given)]
SinceOpt = Annotated[
    datetime | None,
    typer.Option(
        parser=moment, metavar="DATETIME", help="Only runs recorded at or after this time (UTC)."
    ),
]
UntilOpt = Annotated[
    datetime | None,
    typer.Option(
        parser=moment, metavar="DATETIME", help="Only runs recorded at or before this time (UTC)."
    ),
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
    from marginlex.audit.ledger.acting_role import Access  # noqa: PLC0415
    from marginlex.audit.ledger.store import Ledger, LedgerError  # noqa: PLC0415
    from marginlex.cli.ledger_location import ledger_location  # noqa: PLC0415

    try:
        return Ledger.open(ledger_location(ledger), create=False, access=Access.READ)
    except LedgerError as exc:
        _say_error(str(exc))
        raise typer.Exit(2) from exc


def _open_one(ledger: str | None) -> Ledger | SqliteDecisionReader:
    """A ledger to read one decision from: a SQLite file with ``sqlite3`` (no SQLAlchemy
    to import), PostgreSQL as :func:`_open` opens it."""
    from marginlex.audit.ledger.entry_read import LedgerError  # noqa: PLC0415
    from marginlex.audit.ledger.sqlite_read import SqliteDecisionReader, is_sqlite  # noqa: PLC0415
    from marginlex.cli.ledger_location import ledger_location  # noqa: PLC0415

    location = ledger_location(ledger)
    if not is_sqlite(location):
        return _open(location)
    try:
        return SqliteDecisionReader(location)
    except LedgerError as exc:
        _say_error(str(exc))
        raise typer.Exit(2) from exc


def explain(
    decision_id: Annotated[
        str,
        typer.Argument(
            help="The decision id: as `marginlex ledger` lists it, or RULEBOOK:MARGIN_SET "
            "as `marginlex run --format json` prints it (e.g. sec:ms:A01_ALICE_PM)."
        ),
    ],
    *,
    format: Annotated[ExplainFormat, typer.Option("--format", "-f")] = ExplainFormat.TEXT,
    ledger: LedgerOpt = None,
    run: Annotated[str | None, typer.Option(help="Its recording in this run.")] = None,
    output: Annotated[
        Path | None,
        typer.Option("--out", "-o", "--output", help="Write here (as render --out does)."),
    ] = None,
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
    rulebook: Annotated[
        str | None,
        typer.Option(
            "--rulebook",
            "-r",
            help="Explain without a ledger: evaluate this rulebook (id or .mlx file) on the "
            "book now; DECISION_ID may then be a margin set or an account.",
        ),
    ] = None,
    book: Annotated[
        Path | None,
        typer.Option(help="With --rulebook: the book folder (default: the demo book)."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="With --rulebook: the as-of date (YYYY-MM-DD).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", hidden=True, help="Same as --format json.")
    ] = False,
) -> None:
    """Explain one decision, top-down, with the rule and citation behind every line.

    The decision is read from the ledger and checked against its entry hash; with --rulebook
    it is decided now from a book and a rulebook, and nothing is recorded.

    With --what-if: what would have to change for the decision to change (a failed
    requirement passed, a call cleared, a breach ended), each change verified by evaluating
    the changed recorded book.
    """
    format = ExplainFormat.JSON if as_json else format
    # before the ledger is read or a book evaluated; never over what it reads
    check_file_or_exit(output, "-o", _explain_reads(ledger, rulebook, book))
    _refuse_what_if_html(what_if=what_if, format=format)
    _refuse_cuts(depth=depth, section=section, what_if=what_if, format=format)
    from marginlex.audit.explain.entry import entry_line  # noqa: PLC0415
    from marginlex.audit.explain.text import render_json, render_rich, render_text  # noqa: PLC0415

    if rulebook is not None:
        _refuse_with_rulebook(ledger=ledger, run=run, what_if=what_if)
        trace, stored = _direct(decision_id, rulebook, book, as_of), None
    else:
        if book is not None or as_of is not None:
            raise usage_error("--book and --as-of go with --rulebook", "explain")
        stored = _recorded(ledger, decision_id, run)
        trace = stored.trace
    mismatch = None if stored is None else stored.row.mismatch
    if section is not None:
        _check_section(trace, section)
    if mismatch is not None:  # said on stderr whatever the format, and atop the text
        _err.print(f"[red]{mismatch}[/]: `marginlex verify` names the first broken entry")
    if what_if and stored is not None:
        _write(_what_if(ledger, stored, format is ExplainFormat.JSON), output)
        return
    first = _direct_line(trace) if stored is None else entry_line(stored)
    if format is ExplainFormat.TEXT and output is None and sys.stdout.isatty():
        from rich.console import Console  # noqa: PLC0415 - only a terminal draws with rich
        from rich.markup import escape  # noqa: PLC0415

        if mismatch is not None:
            Console(emoji=False).print(f"[bold red]!! {mismatch}[/]")
        Console(emoji=False).print(f"[dim]{escape(first)}[/]")
        Console(emoji=False).print(render_rich(trace, depth=depth, section=section))
        return
    if format is ExplainFormat.HTML:
        from marginlex.audit.explain.html import render_html  # noqa: PLC0415 - jinja2

        body = render_html(trace, stored)
    elif format is ExplainFormat.JSON:
        body = render_json(trace, stored)
    else:
        body = render_text(trace, stored, depth=depth, section=section)
        body = body if stored is not None else f"{first}\n{body}"
    if mismatch is not None and format is ExplainFormat.TEXT:
        body = f"!! {mismatch}\n{body}"
    _write(body, output)


def _recorded(ledger: str | None, decision_id: str, run: str | None) -> StoredDecision:
    """The stored decision, or exit 1 saying why it cannot be read."""
    from marginlex.audit.ledger.chain import TraceDecodeError  # noqa: PLC0415
    from marginlex.audit.ledger.entry_read import DecisionNotFoundError  # noqa: PLC0415

    store = _open_one(ledger)
    try:
        return store.get_decision(decision_id, run)
    except (DecisionNotFoundError, TraceDecodeError) as exc:
        _say_error(exc.args[0], soft_wrap=True)
        raise typer.Exit(1) from exc
    finally:
        store.close()


def _explain_reads(ledger: str | None, rulebook: str | None, book: Path | None) -> list[Read]:
    """What ``explain`` reads that ``-o`` could name: the rulebook and book with
    ``--rulebook``, else the ledger's file (SQLite)."""
    if rulebook is not None:
        return [("the rulebook", rulebook), ("the book", book)]
    from marginlex.audit.ledger.sqlite_read import is_sqlite  # noqa: PLC0415
    from marginlex.cli.ledger_location import ledger_location  # noqa: PLC0415

    location = ledger_location(ledger)
    if not is_sqlite(location):
        return []
    return [("the ledger", location.removeprefix("sqlite:///"))]


def _refuse_what_if_html(*, what_if: bool, format: ExplainFormat) -> None:
    """Exit 2 for ``--what-if --format html``: it wrote the text, in a file named .html."""
    if what_if and format is ExplainFormat.HTML:
        raise usage_error("--what-if writes text or json (--format json), not html", "explain")


def _refuse_cuts(
    *, depth: int | None, section: str | None, what_if: bool, format: ExplainFormat
) -> None:
    """Exit 2 for ``--depth`` or ``--section`` where they cut nothing: ``--what-if`` (a list
    of changes, not the tree) and ``--format json|html`` (the whole trace) ignored them."""
    given = [name for name, on in (("--depth", depth is not None), ("--section", section)) if on]
    if not given:
        return
    cut = " and ".join(given)
    verb = "cuts" if len(given) == 1 else "cut"
    if what_if:
        raise usage_error(
            f"{cut} {verb} the decision's tree; --what-if lists changes, not the tree: give "
            "one or the other",
            "explain",
        )
    if format is not ExplainFormat.TEXT:
        raise usage_error(
            f"{cut} {verb} the text form; --format {format.value} writes the whole decision: "
            "leave it out or use the text form",
            "explain",
        )


def _refuse_with_rulebook(*, ledger: str | None, run: str | None, what_if: bool) -> None:
    """Exit 2 when a ledger-only option is given with --rulebook."""
    given = [name for name, on in (("--ledger", ledger), ("--run", run)) if on]
    given += ["--what-if"] if what_if else []
    if given:
        verb = "applies" if len(given) == 1 else "apply"  # "--what-if only apply" it said
        raise usage_error(
            f"--rulebook decides now, without a ledger; {' and '.join(given)} only {verb} to "
            "a recorded decision: give one or the other",
            "explain",
        )


def _direct(decision_id: str, rulebook: str, book: Path | None, as_of: str | None) -> DecisionTrace:
    """The trace of a decision made now, or exit 1 saying why there is none."""
    from marginlex.audit.explain.direct import (  # noqa: PLC0415
        DirectDecisionNotFoundError,
        direct_trace,
    )

    day = as_of_date(as_of, "explain")
    refuse_unclean([rulebook], False, _err)
    lines: list[str] | None
    try:
        return direct_trace(decision_id, rulebook, book, day)
    except DirectDecisionNotFoundError as exc:
        lines = [f"error: {exc.args[0]}"]
    except Exception as exc:
        if (lines := input_error_lines(exc)) is None:
            raise
    for line in lines:
        _err.print(line, markup=False, soft_wrap=True)
    raise typer.Exit(1)


def _direct_line(trace: DecisionTrace) -> str:
    """The text form's first line for a decision made now: what it was made from."""
    return (
        f"Not recorded: decided now by marginlex {trace.engine_version} from rulebook "
        f"{trace.rulebook.id} (sha256 {trace.rulebook.sha256[:12]}) on the book with sha256 "
        f"{trace.book_sha256[:12]}, as of {trace.as_of.isoformat()}; "
        "`marginlex run --record` records it"
    )


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
        _say_error(str(exc))
        raise typer.Exit(1) from exc
    finally:
        store.close()
    return what_if_json(found, stored) if as_json else render_what_if(found, stored)


def _write(body: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(body)
    else:
        write_file(output, "-o", lambda path: path.write_text(body, encoding="utf-8"))


def _check_section(trace: DecisionTrace, section: str) -> None:
    from marginlex.audit.explain.tree import build_tree  # noqa: PLC0415

    heads = [child.text.split(" ")[0] for child in build_tree(trace).children]
    if not any(h.casefold().startswith(section.casefold()) for h in heads):
        names = ", ".join(dict.fromkeys(heads))
        _say_error(f"no section {section!r} in this decision; it has: {names}")
        raise typer.Exit(1)


def verify_command(
    *,
    ledger: LedgerOpt = None,
    replay: Annotated[bool, typer.Option(help="Also re-evaluate every recorded run.")] = False,
    expect_head: Annotated[
        str | None,
        typer.Option(
            parser=head_hash,
            metavar="HASH",
            help="A head hash noted earlier (all 64 hex digits): the chain must still hold it.",
        ),
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
    from marginlex.cli.trust_commands import (  # noqa: PLC0415
        check_checkpoints_or_exit,
        checkpoint_inputs_or_exit,
    )

    if checkpoints is not None and public_key is None:
        _say_error("--checkpoints needs --public-key to check their signatures")
        raise typer.Exit(2)
    signed = None if public_key is None else checkpoint_inputs_or_exit(checkpoints, public_key)
    replayer = None
    if replay:  # re-evaluation needs the engine (pandas, the rulebook language): only then
        from marginlex.audit.ledger.replay_run import replay_run  # noqa: PLC0415

        replayer = replay_run
    store = _open(ledger)
    try:
        report = verify(store, replayer=replayer, expect_head=expect_head)
        _print_report(report)
        anchored = signed is None or check_checkpoints_or_exit(store, checkpoints, signed)
    except ValueError as exc:  # a recorded input that no longer loads: cannot replay
        if not replay:
            raise  # not replay's: a value edited by hand (see _readable)
        _say_error(f"replay failed: {exc}")
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
        Decimal | None,
        typer.Option(parser=amount, metavar="USD", help="Only calls above this amount (USD)."),
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
        unknown = None if rows else store.unknown_filter(run, rulebook, account)
    finally:
        store.close()
    if unknown is not None:  # an empty listing would read as "no such decision"
        _err.print(f"error: {unknown}", markup=False, soft_wrap=True)
        raise typer.Exit(1)
    more = paged and len(rows) > PAGE
    rows = rows[:PAGE] if more else rows
    _warn_mismatches(rows)
    if format is ListFormat.JSON:
        dumped = [r.json_row() for r in rows]
        sys.stdout.write(json.dumps(dumped, indent=2) + "\n")
    elif format is ListFormat.CSV:
        sys.stdout.write(rows_csv(rows))
    else:
        from marginlex.cli.tables import StdoutConsole, fit  # noqa: PLC0415 - rich

        # Off a terminal, rich would squeeze the table to 80 columns and cut the ids.
        out = StdoutConsole(off_terminal=200)
        out.print(fit(_table(rows), out, whole=_WHOLE, optional=_NARROW_DROPS))
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
_WHOLE = frozenset({"seq", "run_id", "decision_id", "requirement", "call"})
_NARROW_DROPS = ("run_id", "rulebook_id", "margin_set_id", "account_ids")
"""Under 100 columns: the decision id names the rulebook and the set; --run filters runs."""
_RUN_WHOLE = frozenset({"run_id", "as_of"})
_RUN_DROPS = ("decisions", "ok", "call", "breach", "host")
"""At 80 columns a run shows its id, time (wrapped after the date), as-of date, rulebooks and
operator; the counts and the host are in the wider table, CSV and JSON."""


def rows_csv(rows: list[DecisionRow]) -> str:
    """Decision rows as CSV (account ids joined by ``;``)."""
    return csv_text(
        _CSV_COLUMNS,
        (
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
            for r in rows
        ),
    )


def _table(rows: list[DecisionRow]) -> Table:
    from rich.table import Table  # noqa: PLC0415 - rich only to draw a table
    from rich.text import Text  # noqa: PLC0415

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
            Text(r.status.value, style=style[r.status]),
            f"{r.requirement:,.2f}",
            f"{r.call:,.2f}",
            *([Text(r.mismatch, style="bold red") if r.mismatch else "ok"] if checked else []),
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
        cells = ([row.get(name, "") for name in _RUN_COLUMNS] for row in rows)
        sys.stdout.write(csv_text(_RUN_COLUMNS, cells))
    else:
        from rich.table import Table  # noqa: PLC0415 - rich only to draw a table

        from marginlex.cli.tables import StdoutConsole, fit  # noqa: PLC0415

        table = Table(title=f"{len(rows)} run{'' if len(rows) == 1 else 's'}")
        for name in _RUN_TABLE:
            table.add_column(name, justify="left" if name in _RUN_TEXT else "right")
        for row in rows:
            # rulebooks wrap between ids, not inside one; the time after its date
            shown = row | {"recorded_at": str(row["recorded_at"]).replace("T", " ", 1)}
            table.add_row(*(str(shown[name]).replace(";", " ") for name in _RUN_TABLE))
        console = StdoutConsole(off_terminal=200)
        console.print(fit(table, console, whole=_RUN_WHOLE, optional=_RUN_DROPS))


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


P = ParamSpec("P")
R = TypeVar("R")


def _readable(command: Callable[P, R]) -> Callable[P, R]:
    """The command, with a ledger holding values no marginlex wrote (edited by hand, or
    another program's database) reported as an error naming the value, not a traceback."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except LockTimeout as exc:  # a read after the first waited for a writer, in vain
            _say_error(str(exc), soft_wrap=True)
            raise typer.Exit(2) from exc
        except Exception as exc:
            from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 - when one is raised

            if not isinstance(exc, (*UNREADABLE, SQLAlchemyError)):
                raise
            # the driver's error, not SQLAlchemy's: that one quotes the SQL statement and
            # its parameters (a 60,000-character id), which say nothing to the reader
            cause = getattr(exc, "orig", None) or exc
            found = printable(" ".join(f"{type(cause).__name__}: {cause}".split()))
            _say_error(
                f"the ledger cannot be read: {found[:300]} (a value in it was edited by hand, "
                "or it is not a marginlex ledger); `marginlex verify` names the first entry "
                "changed",
                soft_wrap=True,
            )
            raise typer.Exit(1) from exc

    return run


def register(app: typer.Typer) -> None:
    """Add this group's commands to the marginlex app (``ledger`` with its ``runs``)."""
    app.command(
        "explain",
        epilog=examples(
            "marginlex ledger --status call",
            "marginlex explain sec:ms:A01_ALICE_PM",
            "marginlex explain sec:ms:A01_ALICE_PM --format html -o why.html",
            "marginlex explain A08_FOX_FUT --rulebook cftc --book book/",
        ),
    )(_readable(explain))
    app.command(
        "verify", epilog=examples("marginlex verify", "marginlex verify --ledger audit.db --replay")
    )(_readable(verify_command))
    group = typer.Typer(invoke_without_command=True, add_completion=False)
    group.callback(
        epilog=examples(
            "marginlex ledger",
            "marginlex ledger --status call --call-above 1000000",
            "marginlex ledger --since 2026-06-30 --format csv > decisions.csv",
        )
    )(_readable(ledger_command))
    group.command(
        "runs",
        epilog=examples(
            "marginlex ledger runs", "marginlex ledger runs --since 2026-06-01 --format json"
        ),
    )(_readable(runs_command))
    group.command(
        "checkpoint",
        epilog=examples("marginlex ledger checkpoint --ledger l.db --sign keys/ledger.key"),
    )(_readable(checkpoint_command))
    group.command(
        "init",
        epilog=examples("marginlex ledger init postgresql://owner@db/marginlex --roles"),
    )(init_command)
    group.command(
        "upgrade", epilog=examples("marginlex ledger upgrade --ledger marginlex-ledger.db")
    )(upgrade_command)
    app.add_typer(group, name="ledger")
