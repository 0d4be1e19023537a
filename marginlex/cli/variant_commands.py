"""Commands of the variant group: ``marginlex compare``, ``marginlex diff``, ``marginlex test``."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from marginlex.cli.help_text import examples
from marginlex.cli.output_file import Read, check_file_or_exit, write_file, writing
from marginlex.cli.output_format import JSON_ALIAS, OutputFormat, chosen, format_option
from marginlex.cli.progress import progress_reporter
from marginlex.cli.property_output import print_properties
from marginlex.cli.rulebook_gate import ALLOW_WARNINGS, refuse_unclean
from marginlex.cli.study_output import (
    SAMPLES,
    SCENARIOS,
    SEED,
    STUDY,
    TODAY,
    check_study_options,
    print_study,
    run_study,
    today_pair,
)
from marginlex.cli.tables import StdoutConsole, fit
from marginlex.cli.usage import as_of_date, ledger_given, usage_error

# The rulebook language and the engine (pandas, numpy) are imported inside the commands, so
# that `marginlex --help` and the other groups' commands start fast.
if TYPE_CHECKING:
    from marginlex.dsl.resolve import ResolvedRulebook
    from marginlex.engine.book.load import Book
    from marginlex.engine.variants.attribution import Attribution
    from marginlex.engine.variants.compare import CompareResult, Comparison
    from marginlex.engine.variants.mutate import Mutant, MutationReport
    from marginlex.engine.variants.rulebook_tests import TestReport

_out = StdoutConsole(off_terminal=150)
MONEY = frozenset(
    {
        "total requirement",
        "total value",
        "total call",
        "requirement delta",
        "value delta",
        "call delta",
        "requirement before",
        "requirement after",
        "requirement",
        "value",
        "call",
    }
)
WHOLE = MONEY | {"rulebook", "account", "set before", "set after", "rule", "figure", "row"}
_err = Console(stderr=True, highlight=False, emoji=False)


def _fail(message: str) -> typer.Exit:
    _err.print(f"[red]error[/red]: {escape(message)}", markup=True, highlight=False)
    return typer.Exit(1)


def _load(name: str, near: list[Path] | None = None) -> ResolvedRulebook:
    from marginlex.dsl.diagnostics import RulebookError  # noqa: PLC0415
    from marginlex.dsl.loader import load_rulebook  # noqa: PLC0415

    try:
        return load_rulebook(name, near or ())
    except RulebookError as exc:
        for d in exc.diagnostics:  # as `check` shows them: the line, a caret, unwrapped
            _err.print(d.render(_source_of(d.span.file)), markup=False, soft_wrap=True)
        raise _fail(f"rulebook `{name}` does not load") from None


def _source_of(file: str | None) -> str | None:
    """The text of the file a diagnostic is in (None: not a file one can read here)."""
    path = Path(file) if file else None
    try:
        return path.read_text(encoding="utf-8") if path is not None and path.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _totals_table(result: CompareResult) -> Table:
    table = Table(title=f"Rulebooks on {result.book_name} (as of {result.as_of.isoformat()})")
    for name in (
        "rulebook",
        "sets",
        "accounts decided",
        "calls",
        "total requirement",
        "total value",
        "total call",
    ):
        table.add_column(name, justify="left" if name == "rulebook" else "right")
    for t in result.totals:
        mark = " (baseline)" if t.rulebook_id == result.baseline else ""
        table.add_row(
            t.rulebook_id + mark,
            str(t.decisions),
            str(t.accounts_decided),
            str(t.calls),
            _money(t.total_requirement),
            _money(t.total_value),
            _money(t.total_call),
        )
    return table


def _table(title: str, columns: tuple[str, ...], rows: list[list[str]], left: int = 0) -> Table:
    """A table whose first ``left`` columns are text and the rest right-aligned figures."""
    table = Table(title=title)
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i < left else "right")
    for row in rows:
        table.add_row(*row)
    return table


def _head_table(c: Comparison) -> Table:
    columns = (
        "accounts",
        "changed",
        "better off",
        "worse off",
        "unchanged",
        "calls created",
        "calls removed",
        "requirement delta",
        "value delta",
        "call delta",
    )
    counts = (
        c.accounts_compared,
        c.changed,
        c.better_off,
        c.worse_off,
        c.unchanged,
        c.calls_created,
        c.calls_removed,
    )
    row = [*map(str, counts), *map(_money, (c.requirement_delta, c.value_delta, c.call_delta))]
    if _out.narrow:  # one row of ten figures: a column of them instead
        table = _table(f"{c.from_id} -> {c.to_id}", ("", ""), [], left=1)
        table.show_header = False
        for name, cell in zip(columns, row, strict=True):
            table.add_row(name, cell)
    else:
        table = _table(f"{c.from_id} -> {c.to_id}", columns, [row])
    table.caption = _scope_caption(c)
    return table


def _scope_caption(c: Comparison) -> str | None:
    """Under the counts, the accounts only one of the two rulebooks decides (the counts are
    of the accounts both decide; the deltas, the difference of the totals, include these)."""
    if not (c.now_decided or c.no_longer_decided):
        return None
    parts = [
        f"{n:,} account(s) only {who} decides"
        for n, who in ((c.now_decided, c.to_id), (c.no_longer_decided, c.from_id))
        if n
    ]
    only = " and ".join(parts)
    return f"the counts are of the accounts both decide; {only}: the deltas count them too"


def _movers_table(c: Comparison) -> Table:
    columns = (
        "account",
        "set before",
        "set after",
        "requirement before",
        "requirement after",
        "requirement delta",
        "value delta",
        "call delta",
    )
    rows = [
        [
            m.account_id,
            m.margin_set_from,
            m.margin_set_to,
            *map(
                _money,
                (
                    m.requirement_from,
                    m.requirement_to,
                    m.requirement_delta,
                    m.value_delta,
                    m.call_delta,
                ),
            ),
        ]
        for m in c.largest_changes
    ]
    title = "largest changes (per account, set figures on the anchor account)"
    return _table(title, columns, rows, left=3)


def _steps_table(a: Attribution) -> Table:
    idle = [s.label for s in a.steps if not (s.requirement or s.value or s.call)]
    rows = [
        [str(i), s.label, *map(_money, (s.requirement, s.value, s.call))]
        for i, s in enumerate(a.steps, 1)
        if s.label not in idle
    ]
    title = f"attribution over {a.changed_accounts} changed account(s), one rule at a time"
    table = _table(title, ("step", "rules switched", "requirement", "value", "call"), rows)
    table.columns[1].justify = "left"
    if idle:
        table.caption = f"{len(idle)} other step(s) moved nothing: {', '.join(idle)}"
    return table


def _comparison_tables(c: Comparison) -> list[Table]:
    tables = [_head_table(c)]
    if c.largest_changes:
        tables.append(_movers_table(c))
    if c.attribution is not None and c.attribution.steps:
        tables.append(_steps_table(c.attribution))
    return tables


NARROW_DROPS = ("set before", "set after", "requirement before", "requirement after")
"""Columns of the comparison tables dropped under 100 columns (the delta stays)."""

_BOOK = typer.Argument(None, help="A book folder; without it, the embedded demo book.")
_RULEBOOKS = typer.Option(
    ...,
    "--rulebook",
    "-r",
    help="Rulebook id or .mlx path; two or more, the first is the baseline.",
)
_AS_OF = typer.Option(None, "--as-of", help="As-of date YYYY-MM-DD (default: the book's).")
_JSON = JSON_ALIAS
_FORMAT = format_option("table (for people) or json (every figure, for programs).")
_REPORT = typer.Option(None, "--report", help="Write a self-contained HTML report here.")
_NO_ATTRIBUTION = typer.Option(
    False,
    "--no-attribution",
    help="Skip attributing each changed account's delta to the rules (faster).",
)
_WORKERS = typer.Option(
    1, "--workers", min=1, help="Processes evaluating attribution steps side by side."
)
_LEDGER = typer.Option(
    None,
    "--ledger",
    envvar="MARGINLEX_LEDGER",
    callback=ledger_given,
    help="Record the compared rulebooks' runs (not the attribution hybrids) in this ledger: "
    "a SQLite path or a postgresql+psycopg:// URL.",
)
_A = typer.Argument(..., help="The old rulebook: id or .mlx path.")
_B = typer.Argument(..., help="The new rulebook: id or .mlx path.")
_PATHS = typer.Argument(
    None,
    help="Test files or folders (default: the tests of sec, cftc and harmonized, in "
    "rulebooks/tests; the shipped variants' tests are beside them in rulebooks/variants).",
)


def _refuse_folders_without_tests(folders: list[Path]) -> None:
    """A folder given that holds no test file is an error: "0 passed, 0 failed" and exit 0
    let a mistyped folder pass a CI gate."""
    from marginlex.engine.variants.rulebook_tests import SUFFIX  # noqa: PLC0415

    for folder in folders:
        if folder.is_dir() and next(folder.rglob(f"*{SUFFIX}"), None) is None:
            raise _fail(f"{folder}: no rulebook test file (*{SUFFIX}) in this folder or under it")


def _percent(value: float) -> float:
    """A threshold in percent: 0 to 100 (NaN, which every comparison passes, is refused)."""
    if not 0.0 <= value <= 100.0:
        raise typer.BadParameter(f"{value:g} is not a percent from 0 to 100")
    return value


_FAIL_UNDER = typer.Option(
    0.0,
    "--fail-under",
    callback=_percent,
    help="Also fail when a rulebook's rule coverage is below this percent (0 to 100).",
)


def compare_command(  # noqa: PLR0917 - typer passes options by position
    book: Path | None = _BOOK,
    rulebook: list[str] = _RULEBOOKS,
    as_of: str | None = _AS_OF,
    fmt: OutputFormat = _FORMAT,
    as_json: bool = _JSON,
    report: Path | None = _REPORT,
    no_attribution: bool = _NO_ATTRIBUTION,
    workers: int = _WORKERS,
    ledger: str | None = _LEDGER,
    allow_warnings: bool = ALLOW_WARNINGS,
    study: Path | None = STUDY,
    scenarios: Path | None = SCENARIOS,
    shapley_samples: int = SAMPLES,
    seed: int = SEED,
    today: str | None = TODAY,
) -> None:
    """Compare rulebooks on one book: per account and per set, with attribution.

    With --study, also an impact study for a comment letter (collateral freed by segment and
    carrying firm, Shapley attribution, calls under stress scenarios). Exit code 0 when the
    comparison ran, 1 on a bad book, rulebook, date or scenario file. A rulebook file with
    warnings is refused, as `check` refuses it, unless --allow-warnings.
    """
    from marginlex.cli.input_errors import loaded_book  # noqa: PLC0415
    from marginlex.engine.book.problems import BookError  # noqa: PLC0415
    from marginlex.engine.plan.compile import CompileError  # noqa: PLC0415
    from marginlex.engine.plan.context import EvaluationError  # noqa: PLC0415
    from marginlex.engine.stress.shocks import ShockError  # noqa: PLC0415
    from marginlex.engine.variants.compare import compare  # noqa: PLC0415
    from marginlex.engine.variants.compare_json import compare_json  # noqa: PLC0415

    as_json = chosen(fmt, as_json, "compare", csv=False) is OutputFormat.JSON
    if len(rulebook) < 2:
        raise usage_error("give at least two rulebooks: --rulebook A --rulebook B", "compare")
    check_study_options(study, scenarios, today)
    day = as_of_date(as_of, "compare")
    reads = [("the book", book), *(("a rulebook", name) for name in rulebook)]
    for path, option in ((report, "--report"), (study, "--study")):
        check_file_or_exit(path, option, reads)
    refuse_unclean(rulebook, allow_warnings, _err)
    from marginlex.dsl.loader import folders_of  # noqa: PLC0415

    near = folders_of(rulebook)
    books = [_load(name, near) for name in rulebook]
    side_by_side = today_pair(today, books)
    try:
        loaded = loaded_book(book, day)
        with progress_reporter(_err) as report_progress:
            result = compare(
                books,
                loaded,
                day,
                with_attribution=not no_attribution,
                workers=workers,
                keep_evaluations=bool(ledger or study),
                progress=report_progress,
            )
            shapley = None if no_attribution else (shapley_samples, seed)
            studied = (
                run_study(
                    result,
                    books,
                    loaded,
                    scenarios,
                    shapley=shapley,
                    today=side_by_side,
                    workers=workers,
                    progress=report_progress,
                )
                if study is not None
                else None
            )
    except BookError as exc:
        raise _fail(f"the book is not valid:\n{exc}") from None
    except (CompileError, EvaluationError, ShockError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if ledger:
        _record(ledger, result, books, loaded)
    if report is not None:
        # matplotlib is slow to import: only loaded when a report is asked for
        from marginlex.engine.variants.report import write_report  # noqa: PLC0415

        write_file(report, "--report", partial(write_report, result))
    if studied is not None and study is not None:
        from marginlex.engine.variants.study.report import write_study  # noqa: PLC0415

        write_file(study, "--study", partial(write_study, studied))
    if as_json:
        body = compare_json(result)
        if studied is not None:
            from marginlex.engine.variants.study.study_json import study_json  # noqa: PLC0415

            body["study"] = study_json(studied)
        typer.echo(json.dumps(body, indent=2))
        return
    _out.print(fit(_totals_table(result), _out, whole=WHOLE, optional=("sets", "accounts decided")))
    for c in result.comparisons:
        for table in _comparison_tables(c):
            _out.print(fit(table, _out, whole=WHOLE, optional=NARROW_DROPS))
    if studied is not None and study is not None:
        print_study(_out, studied, study)


def _record(
    location: str, result: CompareResult, books: list[ResolvedRulebook], book: Book
) -> None:
    # sqlalchemy and the trace builder are only needed when recording
    from marginlex.audit.ledger.fork_pool import WorkerError  # noqa: PLC0415
    from marginlex.audit.ledger.record import record_run  # noqa: PLC0415
    from marginlex.audit.ledger.store import LedgerError  # noqa: PLC0415
    from marginlex.cli.run_output import recorded_line  # noqa: PLC0415

    try:
        recorded = record_run(location, result.evaluations, books, book)
    except (LedgerError, WorkerError) as exc:
        raise _fail(f"nothing recorded: {exc}") from None
    _err.print(
        recorded_line(recorded.run_id, recorded.decisions, len(books), recorded.location),
        markup=False,
        soft_wrap=True,
    )


def diff_command(
    a: str = _A, b: str = _B, fmt: OutputFormat = _FORMAT, as_json: bool = _JSON
) -> None:
    """The rules and parameters that differ between two rulebooks, after `extends`."""
    as_json = chosen(fmt, as_json, "diff", csv=False) is OutputFormat.JSON
    from marginlex.dsl.diff import diff_rulebooks, render_diff  # noqa: PLC0415
    from marginlex.dsl.loader import folders_of  # noqa: PLC0415

    near = folders_of([a, b])
    diff = diff_rulebooks(_load(a, near), _load(b, near), sources=True)
    if as_json:
        typer.echo(diff.model_dump_json(indent=2))
    else:
        typer.echo(render_diff(diff), nl=False)


def _print_report(report: TestReport) -> None:
    for case in report.cases:
        if case.passed:
            named = escape(f"{case.rulebook} {case.name}")
            _out.print(f"[green]PASS[/green] {named}", markup=True, highlight=False)
            continue
        named = escape(f"{case.file}: {case.name}")
        _out.print(f"[red]FAIL[/red] {named}", markup=True, highlight=False)
        if case.error:  # every line of it under the case (a rulebook's diagnostics: several)
            for line in case.error.splitlines():
                _out.print(f"     {line}", markup=False, soft_wrap=True)
        for m in case.mismatches:
            _out.print(f"     {m.field}: expected {m.expected}, got {m.actual}", markup=False)
        if case.trace:
            _out.print(case.trace, markup=False, soft_wrap=True)
    failed = len(report.failed)
    _out.print(f"\n{len(report.cases) - failed} passed, {failed} failed")
    for cov in report.coverage:
        own_items = [i for i in cov.rules if i.own]
        own = ""
        if len(own_items) < len(cov.rules):
            done = sum(i.exercised for i in own_items)
            own = f"; {done} of the {len(own_items)} it defines or re-parameterizes"
        rows = sum(i.exercised for i in cov.rows)
        _out.print(
            f"coverage {cov.rulebook_id}: {cov.percent:.1f}% of "
            f"{len(cov.rules)} rules and requirements exercised{own}; table rows: {rows} of "
            f"{len(cov.rows)} decided something ({cov.rows_percent:.1f}%)"
        )
        for item in cov.missing:
            _out.print(f"  not exercised: {item.kind} {item.item} ({item.detail})", markup=False)


_MUTATE = typer.Option(
    False,
    "--mutate",
    help="Also change each figure of each tested rulebook in turn (x10, /10, the "
    "neighbouring row's value) and list the mutants no test catches.",
)
_KILL_UNDER = typer.Option(
    0.0,
    "--kill-under",
    callback=_percent,
    help="With --mutate: exit 1 when a rulebook's kill rate is below this percent (0 to 100).",
)


def _print_mutants(reports: list[MutationReport]) -> None:
    for r in reports:
        rows = [
            [_place(x.mutant), x.mutant.rule_id, x.mutant.row, x.mutant.figure, x.mutant.mutation]
            for x in r.survivors
        ]
        inherited = len(r.survivors) - r.own_survivors
        split = (
            f" ({r.own_survivors} in {r.file}, listed first; {inherited} in the rulebooks it "
            "extends)"
            if inherited and r.file
            else ""
        )
        _out.print(
            f"mutants {r.rulebook_id}: {len(r.results) - len(r.survivors)} of {len(r.results)} "
            f"killed ({r.kill_rate:.1f}%) by {r.tests} test file(s) and the checker; "
            f"{len(r.survivors)} survive{split}{'' if rows else '.'}{':' if rows else ''}"
        )
        if rows:
            table = _table("", ("where", "rule", "row", "figure", "mutation"), rows, left=5)
            _out.print(fit(table, _out, whole=WHOLE))


def _place(mutant: Mutant) -> str:
    """Where a mutant's figure is written: ``sec.mlx:21`` (a base's file for an inherited
    statement)."""
    return f"{mutant.file}:{mutant.line}" if mutant.file else str(mutant.line)


def _mutation_json(reports: list[MutationReport]) -> str:
    doc = [
        {
            "rulebook_id": r.rulebook_id,
            "test_files": r.tests,
            "mutants": len(r.results),
            "killed": len(r.results) - len(r.survivors),
            "kill_rate": round(r.kill_rate, 2),
            "file": r.file,
            "own_survivors": r.own_survivors,
            "survivors": [
                x.mutant.model_dump(
                    include={"rule_id", "row", "figure", "mutation", "file", "line"}
                )
                for x in r.survivors
            ],
        }
        for r in reports
    ]
    return json.dumps({"mutation": doc}, indent=2, ensure_ascii=False)


_JUNIT = typer.Option(
    None,
    "--junit",
    metavar="FILE",
    help="Also write the results as JUnit XML to FILE, for CI (e.g. --junit results.xml).",
)


def _test_reads(paths: list[Path]) -> list[Read]:
    """The files ``test`` reads that ``--junit`` could name: each test file given, and the
    test and rulebook files under each folder given."""
    found: list[Path] = []
    for path in paths:  # a few paths
        if path.is_dir():
            found += [*path.rglob("*.test.toml"), *path.rglob("*.mlx")]
        else:
            found.append(path)
    return [("a file the tests read", path) for path in found]


def test_command(  # noqa: PLR0917 - typer passes options by position
    paths: list[Path] | None = _PATHS,
    fail_under: float = _FAIL_UNDER,
    mutate: bool = _MUTATE,
    kill_under: float = _KILL_UNDER,
    fmt: OutputFormat = _FORMAT,
    as_json: bool = _JSON,
    junit: Path | None = _JUNIT,
) -> None:
    """Run rulebook tests (*.test.toml), report rule and row coverage, and with --mutate the
    mutants no test catches. Exit 1 on a failure."""
    from marginlex.dsl.loader import shipped_dir  # noqa: PLC0415
    from marginlex.engine.variants.mutate import run_mutants, tested_rulebooks  # noqa: PLC0415
    from marginlex.engine.variants.rulebook_tests import RulebookTestError, run_tests  # noqa: PLC0415

    as_json = chosen(fmt, as_json, "test", csv=False) is OutputFormat.JSON
    # before the tests run, not after; never over a test or rulebook they read
    check_file_or_exit(junit, "--junit", _test_reads(paths or [shipped_dir() / "tests"]))
    if kill_under and not mutate:  # a CI gate that left out --mutate passed with no mutant
        raise usage_error("--kill-under needs --mutate: it is a bar for the mutants made", "test")
    folders = paths or [shipped_dir() / "tests"]
    _refuse_folders_without_tests(folders)
    try:
        report = run_tests(folders)
        # A failing test would "kill" every mutant: mutants are made only of a passing suite.
        mutants = mutate and not report.failed
        reports = [run_mutants(rb, folders) for rb in tested_rulebooks(folders)] if mutants else []
    except RulebookTestError as exc:
        raise _fail(str(exc)) from None
    if mutate and report.failed:
        _err.print("no mutants made: --mutate needs every test to pass first", highlight=False)
    if junit is not None:
        from marginlex.dsl.format.files import whole_file  # noqa: PLC0415
        from marginlex.engine.variants.junit import write_junit  # noqa: PLC0415

        with writing(junit, "--junit"), whole_file(junit) as temporary:
            write_junit(report, temporary)
    if as_json:
        typer.echo(_mutation_json(reports) if mutate else report.model_dump_json(indent=2))
    else:
        _print_report(report)
        print_properties(_out, report.properties)
        _print_mutants(reports)
    low = [c for c in report.coverage if c.percent < fail_under]
    weak = [r for r in reports if r.kill_rate < kill_under]
    for c in low:  # every test may pass: say why the exit code is 1
        _err.print(
            f"{c.rulebook_id}: rule coverage {c.percent:.1f}% "
            f"is below --fail-under {fail_under:g}%",
            markup=False,
            soft_wrap=True,
        )
    for r in weak:
        _err.print(
            f"{r.rulebook_id}: kill rate {r.kill_rate:.1f}% is below --kill-under {kill_under:g}%",
            markup=False,
            soft_wrap=True,
        )
    if report.failed or report.failed_properties or low or weak:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the marginlex app."""
    app.command(
        "compare",
        epilog=examples(
            "marginlex compare -r sec -r harmonized",
            "marginlex compare my_book/ -r sec -r my_firm.mlx --report compare.html",
            "marginlex compare -r sec -r harmonized --study study.html --scenarios stress.toml",
        ),
    )(compare_command)
    app.command(
        "diff",
        epilog=examples(
            "marginlex diff sec my_firm.mlx",
            "marginlex diff harmonized harmonized_85pct_offsets --format json",
        ),
    )(diff_command)
    app.command(
        "test",
        epilog=examples(
            "marginlex test",
            "marginlex test rulebooks/tests/ --fail-under 90 --junit results.xml",
            "marginlex test --mutate --kill-under 80",
        ),
    )(test_command)
