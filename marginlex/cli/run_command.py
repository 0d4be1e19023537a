"""Commands of the run group: ``marginlex run``."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from marginlex.cli import process_memory
from marginlex.cli.help_text import examples
from marginlex.cli.input_errors import input_error_lines, loaded_book
from marginlex.cli.output_format import JSON_ALIAS, OutputFormat, chosen, format_option
from marginlex.cli.rulebook_gate import ALLOW_WARNINGS, refuse_unclean
from marginlex.cli.run_output import (
    check_out_or_exit,
    decision_table,
    recorded_line,
    run_csv,
    run_json,
    write_or_exit,
)
from marginlex.cli.run_since import SINCE, report_carried, since_or_exit
from marginlex.cli.tables import StdoutConsole, fit
from marginlex.cli.usage import as_of_date, ledger_given, usage_error
from marginlex.engine.outcomes import FileFormat

# The engine (pandas, numpy, networkx) and the ledger (sqlalchemy) are imported inside the
# functions that use them, so that `marginlex --help` and other commands start fast.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from rich.progress import Progress

    from marginlex.audit.ledger.carry import Since
    from marginlex.audit.ledger.gathered import GatheredRun
    from marginlex.audit.ledger.partitioned_run import PartitionedRun
    from marginlex.audit.ledger.record import RunRecorder
    from marginlex.dsl.resolve import ResolvedRulebook
    from marginlex.engine.book.load import Book
    from marginlex.engine.evaluation import Evaluation

DEFAULT_RULEBOOKS = ("sec", "cftc", "harmonized")  # engine.run.DEFAULT_RULEBOOKS, without pandas
LEDGER_ENV = "MARGINLEX_LEDGER"

_out = StdoutConsole(off_terminal=170)  # pipes and CI logs: wide enough for every column
_err = Console(stderr=True, highlight=False, emoji=False)
DECISION_WHOLE = frozenset({"requirement", "initial", "value", "excess", "call", "method"})
SUMMARY_WHOLE = frozenset({"rulebook", "total requirement", "total call", "violations"})
SUMMARY_OPTIONAL = ("out of scope", "eligible")  # dropped under 100 columns
SMALL_BOOK_SETS = 50
LONG_RUN_POSITIONS = 20_000
LONG_RUN_DECISIONS = 20_000

_BOOK = typer.Argument(None, help="A book folder; without it, the embedded demo book.")
_RULEBOOK = typer.Option(
    None,
    "--rulebook",
    "-r",
    help="Rulebook id or .mlx path; repeat for several (default: sec, cftc, harmonized).",
)
_AS_OF = typer.Option(None, "--as-of", help="As-of date YYYY-MM-DD (default: the book's).")
_FORMAT = format_option(
    "table (for people), json (every decision with its rules) or csv (one decision a row); "
    "with --since, only the sets evaluated, those of the parts of the book that changed "
    "(stderr counts the re-decided and carried; the ledger holds the whole run).",
    csv=True,
)
_OUT = typer.Option(
    None, "--out", help="Write decisions and trace frames under this folder (see --out-format)."
)
_OUT_FORMAT = typer.Option(
    FileFormat.PARQUET,
    "--out-format",
    help="File format of --out: parquet (typed, columnar) or csv (for spreadsheets).",
)
_RECORD = typer.Option(
    False,
    "--record",
    help="Record the run where `marginlex ledger` reads without --ledger: $MARGINLEX_LEDGER, "
    "else ./marginlex-ledger.db if it exists, else your default ledger.",
)
_WIDE = typer.Option(
    False, "--wide", help="Decision tables with method, initial, excess, reasons and paths."
)
_LEDGER = typer.Option(
    None,
    "--ledger",
    envvar=LEDGER_ENV,
    callback=ledger_given,
    help=(
        "Record the run (every decision with its trace, the rulebook texts and the book) "
        f"in this ledger: a SQLite path or a postgresql+psycopg:// URL (default: ${LEDGER_ENV}"
        "; without either, nothing is recorded)."
    ),
)
_DASK = typer.Option(
    None,
    "--dask",
    help=(
        "Evaluate on a Dask cluster: local:N (N worker processes on this machine) or a "
        "scheduler's address, tcp://HOST:8786. Decisions and recorded entries are a "
        "single-process run's."
    ),
)

_SIGN = typer.Option(
    None, "--sign", help="After recording, sign the ledger's head with this Ed25519 key."
)
_CHECKPOINTS = typer.Option(
    None,
    "--checkpoints",
    help="Append the signed checkpoint here (file or folder; default beside a SQLite "
    "ledger: LEDGER.checkpoints.jsonl).",
)

_OPERATOR = typer.Option(
    None,
    "--operator",
    help="Who runs this, as the ledger records it (default: $MARGINLEX_OPERATOR, else the "
    "OS user).",
)


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _summary_table(results: list[Evaluation]) -> Table:
    table = Table(title="Margin decisions by rulebook")
    for name in (
        "rulebook",
        "sets decided",
        "out of scope",
        "eligible",
        "calls",
        "total requirement",
        "total call",
        "violations",  # of segregation: (lot, constraint) pairs whose path is forbidden
    ):
        table.add_column(name, justify="left" if name == "rulebook" else "right")
    for ev in results:
        s = ev.summary()
        table.add_row(
            s.rulebook_id,
            str(s.margin_sets),
            str(s.out_of_scope),
            str(s.eligible),
            str(s.calls),
            _money(s.total_requirement),
            _money(s.total_call),
            str(s.segregation_violations),
        )
    return table


def _progress(*, bar: bool, show: bool) -> Progress:
    """A transient progress display on stderr, safe while the recorder forks workers.

    It refreshes only when told (a refresh thread could hold the terminal's lock at a fork,
    and the child would inherit it locked) and leaves sys.stdout and sys.stderr alone (the
    workers inherit them). With ``bar``, a bar and the time elapsed follow the description.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    more = (BarColumn(), TimeElapsedColumn()) if bar else ()
    return Progress(
        TextColumn("{task.description}"),
        *more,
        console=_err,
        disable=not show,
        transient=True,
        auto_refresh=False,
        redirect_stdout=False,
        redirect_stderr=False,
    )


def _evaluate_all(
    book: Book,
    rulebooks: list[ResolvedRulebook],
    as_of: dt.date | None,
    recorder: RunRecorder | None,
) -> list[Evaluation]:
    from marginlex.engine.run import SharedBook  # noqa: PLC0415

    shared: dict[int, SharedBook] = {}  # by book: the whole book, or --since's cut of it
    results: list[Evaluation] = []
    show = len(book.positions) >= LONG_RUN_POSITIONS
    progress = _progress(bar=True, show=show)
    with progress:
        task = progress.add_task("evaluating", total=len(rulebooks))
        for rulebook in rulebooks:  # a handful of rulebooks
            progress.update(task, description=f"evaluating {rulebook.id}", refresh=True)
            part = recorder.book_for(rulebook, as_of) if recorder is not None else book
            if id(part) not in shared:
                shared[id(part)] = SharedBook(part)
            results.append(shared[id(part)].evaluate(rulebook, as_of))
            if recorder is not None:  # its traces are built while the next one is evaluated
                recorder.add(results[-1], rulebook)
            progress.advance(task)
    return results


def _evaluate_on_cluster(
    dask: str,
    book: Path | None,
    rulebooks: list[ResolvedRulebook],
    as_of: dt.date | None,
    *,
    record: bool,
    frames: bool,
) -> tuple[list[Evaluation], GatheredRun | PartitionedRun | None]:
    """Evaluate on the cluster ``dask`` names, traces built by its workers (dask imported
    only here). A partitioned book is read by the workers, partition by partition, and
    never whole by the client."""
    from marginlex.audit.ledger.gathered import GatheredRun, partition_traces  # noqa: PLC0415
    from marginlex.engine.book.partitioned import is_partitioned  # noqa: PLC0415
    from marginlex.engine.distributed.cluster import (  # noqa: PLC0415
        ClusterSpec,
        evaluate_on_cluster,
        open_client,
    )
    from marginlex.engine.distributed.partition_files import (  # noqa: PLC0415
        evaluate_files_on_cluster,
    )

    spec = ClusterSpec.parse(dask)
    spec.check_reachable()  # before the book is read
    files = book if book is not None and is_partitioned(book) else None
    if files is not None and record:
        return _record_on_cluster(dask, files, rulebooks, as_of, frames=frames)
    loaded = loaded_book(book, as_of) if files is None else None
    with _progress(bar=False, show=True) as status:
        status.add_task(f"evaluating on the Dask cluster {dask}")
        status.refresh()
        with open_client(spec) as client:
            if files is not None:
                after = partition_traces if record else None
                lean = not (record or frames)
                gathered = evaluate_files_on_cluster(
                    client, rulebooks, files, as_of, after, book=loaded, lean=lean
                )
            else:
                assert loaded is not None  # read whole above
                gathered = evaluate_on_cluster(client, rulebooks, loaded, as_of, partition_traces)
    if loaded is None:
        return [g.evaluation for g in gathered], None
    run = GatheredRun(loaded, gathered, rulebooks)
    return run.evaluations, run


def _record_on_cluster(
    dask: str,
    folder: Path,
    rulebooks: list[ResolvedRulebook],
    as_of: dt.date | None,
    *,
    frames: bool,
) -> tuple[list[Evaluation], PartitionedRun]:
    """A recorded run of a partitioned book: its traces stay on the workers until the
    ledger takes them, so the client stays open until the run is recorded (and closed)."""
    from contextlib import ExitStack  # noqa: PLC0415

    from marginlex.audit.ledger.partitioned_run import PartitionedRun  # noqa: PLC0415
    from marginlex.engine.distributed.cluster import ClusterSpec, open_client  # noqa: PLC0415

    stack = ExitStack()
    try:
        with _progress(bar=False, show=True) as status:
            status.add_task(f"evaluating on the Dask cluster {dask}")
            status.refresh()
            client = stack.enter_context(open_client(ClusterSpec.parse(dask)))
            run = PartitionedRun(stack, client, folder, rulebooks, as_of, frames=frames)
    except BaseException:
        stack.close()
        raise
    return run.evaluations, run


def _run_or_exit(
    book: Path | None,
    names: list[str],
    as_of: str | None,
    *,
    record: bool,
    dask: str | None = None,
    since: Since | None = None,
    frames: bool = True,
    out: Path | None = None,
) -> tuple[list[Evaluation], RunRecorder | GatheredRun | PartitionedRun | None]:
    """Load the book and rulebooks and evaluate each; print the problems, exit 1 on failure.

    With ``record``, also returns a :class:`RunRecorder` (the caller closes it) that was
    given each evaluation as soon as it existed, so its traces are already being built.
    """
    from marginlex.audit.ledger.record import RunRecorder  # noqa: PLC0415
    from marginlex.dsl.loader import folders_of  # noqa: PLC0415
    from marginlex.engine.run import resolve_rulebook  # noqa: PLC0415

    day = as_of_date(as_of, "run")
    recorder = None
    try:
        # a cluster run reads a partitioned book on the workers, not here
        loaded = loaded_book(book, day) if dask is None else None
        near = folders_of(names)
        rulebooks = [resolve_rulebook(name, near) for name in names]
        _refuse_repeats([r.id for r in rulebooks])
        check_out_or_exit(out, [r.id for r in rulebooks])  # each folder, before any work
        if dask is not None:
            return _evaluate_on_cluster(dask, book, rulebooks, day, record=record, frames=frames)
        assert loaded is not None  # read above
        recorder = RunRecorder(loaded, since=since) if record else None
        return _evaluate_all(loaded, rulebooks, day, recorder), recorder
    except BaseException as exc:
        lines = input_error_lines(exc)
        if recorder is not None:
            recorder.close()  # a failed run: stop the workers; nothing is recorded
        if lines is None:
            raise
    for line in lines:
        _err.print(line, markup=False, soft_wrap=True)
    raise typer.Exit(1)


def _refuse_repeats(ids: list[str]) -> None:
    """A run decides each rulebook once (twice, its ledger would refuse the second copy of
    every decision, after evaluating both): a rulebook named twice, by id or by path, is a
    usage error."""
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        named = ", ".join(f"`{i}`" for i in repeated)
        raise usage_error(
            f"rulebook {named} is given more than once: a run decides each once", "run"
        )


def _record(
    location: str,
    recorder: RunRecorder | GatheredRun | PartitionedRun,
    to_stderr: bool,
    operator: str | None,
) -> str:
    """Record the run in one transaction, with who ran it; print the run id and count."""
    from marginlex.audit.ledger.fork_pool import WorkerError  # noqa: PLC0415
    from marginlex.audit.ledger.origin import run_origin  # noqa: PLC0415
    from marginlex.audit.ledger.store import LedgerError, shown_location  # noqa: PLC0415

    decisions = recorder.decision_count
    show = decisions >= LONG_RUN_DECISIONS
    status = _progress(bar=False, show=show)
    new_file = _new_sqlite_file(location)
    try:
        with status:
            status.add_task(f"recording {decisions:,} decisions in {shown_location(location)}")
            status.refresh()
            recorded = recorder.record(location, run_origin(sys.argv, operator))
    except (LedgerError, WorkerError) as exc:
        if new_file is not None:
            _remove_unrecorded(new_file)
        _err.print(f"error: nothing recorded: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    except BaseException:
        if new_file is not None:
            _remove_unrecorded(new_file)
        raise
    line = recorded_line(
        recorded.run_id, recorded.decisions, len(recorder.evaluations), recorded.location
    )
    (_err if to_stderr else _out).print(line, markup=False, soft_wrap=True)
    return recorded.run_id


def _new_sqlite_file(location: str) -> Path | None:
    """The SQLite file a run would create (None: a server's URL, or a file that exists)."""
    if "://" in location and not location.startswith("sqlite:///"):
        return None
    path = Path(location.removeprefix("sqlite:///")).expanduser()
    return None if path.exists() else path


def _remove_unrecorded(path: Path) -> None:
    """Remove the ledger file a failed run created when it is empty: a disk that filled while
    the schema was written left a 0-byte file (the schema's transaction rolled back), which
    the next command met as "not a marginlex ledger". Anything else stays: a file holding
    bytes (a ledger, empty or not, or another process's), and a 0-byte file beside a journal
    or write-ahead log (another run creating the same ledger, mid-transaction); the journal
    and log files are never the failed run's to remove."""
    if not path.is_file() or path.stat().st_size:
        return
    live = (path.with_name(path.name + s) for s in ("-journal", "-wal"))
    if any(f.exists() for f in live):
        return
    with contextlib.suppress(OSError):
        path.unlink()


def _signer(
    location: str | None, sign: Path | None, checkpoints: Path | None
) -> tuple[Ed25519PrivateKey, Path] | None:
    """The signing key and checkpoint path of ``--sign``, checked before anything runs."""
    from marginlex.cli.trust_commands import (  # noqa: PLC0415
        checkpoint_path_or_exit,
        signing_key_or_exit,
    )

    if sign is None:
        if checkpoints is not None:
            _err.print("error: --checkpoints needs --sign KEY", markup=False)
            raise typer.Exit(1)
        return None
    if not location:
        _err.print("error: --sign needs --ledger: only a recorded run is checkpointed")
        raise typer.Exit(1)
    return signing_key_or_exit(sign), checkpoint_path_or_exit(location, checkpoints)


def _checkpoint(location: str, signer: tuple[Ed25519PrivateKey, Path], run_id: str) -> None:
    """Sign the head the run left (after its transaction committed)."""
    from marginlex.audit.ledger.store import Ledger  # noqa: PLC0415
    from marginlex.cli.trust_commands import sign_or_exit  # noqa: PLC0415

    store = Ledger.open(location, create=False)
    try:
        sign_or_exit(store, *signer, run_id)
    finally:
        store.close()


def run(
    book: Path | None = _BOOK,
    *,
    rulebook: list[str] | None = _RULEBOOK,
    as_of: str | None = _AS_OF,
    fmt: OutputFormat = _FORMAT,
    as_json: bool = JSON_ALIAS,
    out: Path | None = _OUT,
    out_format: FileFormat = _OUT_FORMAT,
    ledger: str | None = _LEDGER,
    record: bool = _RECORD,
    wide: bool = _WIDE,
    allow_warnings: bool = ALLOW_WARNINGS,
    sign: Path | None = _SIGN,
    checkpoints: Path | None = _CHECKPOINTS,
    operator: str | None = _OPERATOR,
    dask: str | None = _DASK,
    since: str | None = SINCE,
) -> None:
    """Decide every margin set of a book under one or more rulebooks.

    Prints a summary per rulebook and, for small books (at most 50 margin sets), every
    decision; with --format json or csv, every decision on stdout instead. With --ledger (or
    $MARGINLEX_LEDGER), records the whole run in one transaction and prints its run id.
    Exit code 0 when every rulebook ran (and was recorded), 1 on a bad book, rulebook or
    date, or a ledger that cannot record; nothing is recorded when evaluation fails. A
    rulebook file with warnings is refused, as `check` refuses it, unless --allow-warnings.
    With --sign KEY, a signed checkpoint of the ledger's head follows the recording.
    With --dask, the book is evaluated on a Dask cluster, cut by margin set. With --since
    RUN_ID, only the margin sets whose inputs changed since that run are decided anew; the
    sets of the parts of the book that hold a change are printed (table, json, csv, --out),
    and stderr counts the sets re-decided and carried; the ledger records the whole run.
    """
    fmt = chosen(fmt, as_json, "run", csv=True)
    as_json = fmt is not OutputFormat.TABLE  # machine output: only it on stdout
    check_out_or_exit(out)
    location = ledger or os.environ.get(LEDGER_ENV) or (_default_ledger() if record else None)
    signer = _signer(location, sign, checkpoints)
    if location:
        _check_ledger_or_exit(location)
    names = list(rulebook or DEFAULT_RULEBOOKS)
    refuse_unclean(names, allow_warnings, _err)
    earlier = since_or_exit(since, location, dask, _err)
    process_memory.keep_freed_memory()  # each rulebook's arrays are freed and made again
    results, recorder = _run_or_exit(
        book,
        names,
        as_of,
        record=bool(location),
        dask=dask,
        since=earlier,
        frames=out is not None,
        out=out,
    )
    try:
        _report(results, out, out_format)
        if recorder is not None and location:
            run_id = _record(location, recorder, to_stderr=as_json, operator=operator)
            report_carried(recorder, _err)
            if signer is not None:
                _checkpoint(location, signer, run_id)
    finally:
        if recorder is not None:
            recorder.close()
    if fmt is not OutputFormat.TABLE:
        typer.echo(run_json(results) if fmt is OutputFormat.JSON else run_csv(results), nl=False)
        return
    for ev in results:
        if len(ev.decisions) <= SMALL_BOOK_SETS:
            _out.print(fit(decision_table(ev, wide=wide), _out, whole=DECISION_WHOLE))
    summary = _summary_table(results)
    _out.print(fit(summary, _out, whole=SUMMARY_WHOLE, optional=SUMMARY_OPTIONAL))


def _check_ledger_or_exit(location: str) -> None:
    """Exit 1 before anything is evaluated when the ledger could not record the run (a
    file that is not a database was said only after the whole evaluation)."""
    from marginlex.audit.ledger.store import LedgerError, check_ledger  # noqa: PLC0415

    try:
        check_ledger(location)
    except LedgerError as exc:
        _err.print(f"error: nothing recorded: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from exc


def _default_ledger() -> str:
    """The ledger `ledger`, `explain` and `verify` read by default, its folder made."""
    from marginlex.cli.ledger_location import ledger_location  # noqa: PLC0415

    location = ledger_location(None)
    Path(location).parent.mkdir(parents=True, exist_ok=True)
    return location


def _report(results: list[Evaluation], out: Path | None, out_format: FileFormat) -> None:
    """What was skipped and the files written, on stderr."""
    for ev in results:
        skipped = ", ".join(s.rule_id for s in ev.plan.skipped)
        if skipped:
            _err.print(
                f"{ev.rulebook_id}: not in force on {ev.as_of.isoformat()}, skipped: {skipped}",
                markup=False,
            )
        if out is not None:
            _err.print(f"wrote {write_or_exit(ev, out, out_format)}", markup=False)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the marginlex app."""
    app.command(
        "run",
        epilog=examples(
            "marginlex run",
            "marginlex run my_book/ -r sec -r my_firm.mlx",
            "marginlex run my_book/ --as-of 2026-06-30 --format json",
            "marginlex run my_book/ --ledger ledger.db",
        ),
    )(run)
