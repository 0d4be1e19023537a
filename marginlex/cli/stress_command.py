"""Commands of the stress group: ``marginlex stress``."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from marginlex.cli import process_memory
from marginlex.cli.help_text import examples
from marginlex.cli.output_file import check_file_or_exit, write_file
from marginlex.cli.output_format import JSON_ALIAS, OutputFormat, chosen, format_option
from marginlex.cli.rulebook_gate import ALLOW_WARNINGS, refuse_unclean
from marginlex.cli.tables import StdoutConsole, fit
from marginlex.cli.usage import usage_error

# The engine (pandas, numpy) and matplotlib are imported inside the command.
if TYPE_CHECKING:
    from marginlex.engine.stress.run import StressResult
    from marginlex.engine.stress.shocks import Scenario

DEFAULT_RULEBOOKS = ("sec", "cftc", "harmonized")
CLI_SCENARIO = "shock"

_out = StdoutConsole(off_terminal=150)
_WHOLE = frozenset(
    {"requirement delta", "call delta", "total call", "margin set", "call before", "call under"}
)
_IMPACT_DROPS = ("created", "grown", "cleared", "eligibility lost")
_AFFECTED_DROPS = ("accounts", "requirement", "eligible")
_err = Console(stderr=True, highlight=False, emoji=False)

_BOOK = typer.Argument(None, help="A book folder; without it, the embedded demo book.")
_RULEBOOKS = typer.Option(
    None, "--rulebook", "-r", help="Rulebook id or .mlx path; repeat (default: all three)."
)
_SHOCK = typer.Option(
    None,
    "--shock",
    help='SELECTOR=PATTERN:MOVE, e.g. "class_group=SPX:-20%" or "product=ust_*:+150bp"; '
    "repeat for several (one scenario named 'shock').",
)
_VOL = typer.Option(
    None, "--vol", help="Every option's implied volatility moved, e.g. +10pts (once)."
)
_SCENARIOS = typer.Option(
    None,
    "--scenarios",
    help="A TOML file of named scenarios ([scenario.NAME] tables); repeat for several files.",
)
_FORMAT = format_option("table (for people) or json (every figure, for programs).")
_REPORT = typer.Option(None, "--report", help="Write an HTML report with plots here.")


def _fail(message: str) -> typer.Exit:
    _err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _scenarios(shock: list[str], vols: list[str], files: list[Path]) -> list[Scenario]:
    """The scenarios asked for; a bad --shock or --vol, --vol twice, or none at all, is a
    usage error; a scenario name two files share is an error."""
    from marginlex.engine.stress.shocks import (  # noqa: PLC0415
        Scenario,
        ShockError,
        load_scenarios,
        parse_shock,
        parse_vol,
    )

    if not (shock or vols or files):
        raise usage_error(
            'give a scenario: --shock "class_group=SPX:-20%", --vol or --scenarios FILE', "stress"
        )
    if len(vols) > 1:  # one move of every option's volatility: the last one silently won
        given = ", ".join(vols)
        raise usage_error(f"give --vol once; it was given {len(vols)} times: {given}", "stress")
    vol = vols[0] if vols else None
    out: list[Scenario] = []
    if shock or vol:
        try:
            shocks = [parse_shock(s) for s in shock] + ([parse_vol(vol)] if vol else [])
        except ShockError as exc:
            raise usage_error(str(exc), "stress") from None
        out.append(Scenario(name=CLI_SCENARIO, shocks=tuple(shocks)))
    for path in files:  # each file's scenarios, in the order the files are given
        for scenario in load_scenarios(path):
            if any(x.name == scenario.name for x in out):
                raise ShockError(
                    str(path),
                    f"scenario {scenario.name!r} is named by an earlier file or --shock too",
                    "give each scenario its own name: the report shows them by name",
                )
            out.append(scenario)
    return out


def _impact_table(result: StressResult) -> Table:
    from marginlex.engine.stress.report import IMPACT_HEADER, impact_row  # noqa: PLC0415

    table = Table(title=f"Stress of {result.book_name} (as of {result.as_of.isoformat()})")
    for k, name in enumerate(IMPACT_HEADER):
        table.add_column(name, justify="left" if k < 2 else "right")
    for i in result.impacts:
        table.add_row(*impact_row(i))
    return table


def _affected_table(result: StressResult) -> Table:
    from marginlex.engine.stress.report import AFFECTED_HEADER, affected_row  # noqa: PLC0415

    table = Table(title="Most affected margin sets (largest call growth first)")
    for k, name in enumerate(["scenario", "rulebook", *AFFECTED_HEADER]):
        table.add_column(name, justify="left" if k < 4 else "right")
    for i in result.impacts:
        for r in i.most_affected[:3]:
            table.add_row(i.scenario, i.rulebook_id, *affected_row(r))
    return table


def stress_command(  # noqa: PLR0917 - typer passes options by position
    book: Path | None = _BOOK,
    rulebook: list[str] | None = _RULEBOOKS,
    shock: list[str] | None = _SHOCK,
    vol: list[str] | None = _VOL,
    scenarios: list[Path] | None = _SCENARIOS,
    fmt: OutputFormat = _FORMAT,
    as_json: bool = JSON_ALIAS,
    report: Path | None = _REPORT,
    allow_warnings: bool = ALLOW_WARNINGS,
) -> None:
    """Re-price a book under market shocks and re-decide every margin set.

    Reports, per scenario and rulebook, the calls created, grown and cleared, the accounts
    that lose eligibility, the totals and the most affected margin sets. Exit code 0 when
    the stress ran, 1 on a bad shock, scenario file, book or rulebook.
    """
    from marginlex.cli.input_errors import loaded_book  # noqa: PLC0415
    from marginlex.dsl.diagnostics import RulebookError  # noqa: PLC0415
    from marginlex.dsl.loader import folders_of, load_rulebook  # noqa: PLC0415
    from marginlex.engine.book.problems import BookError  # noqa: PLC0415
    from marginlex.engine.plan.compile import CompileError  # noqa: PLC0415
    from marginlex.engine.plan.context import EvaluationError  # noqa: PLC0415
    from marginlex.engine.stress.run import stress  # noqa: PLC0415
    from marginlex.engine.stress.shocks import ShockError  # noqa: PLC0415

    as_json = chosen(fmt, as_json, "stress", csv=False) is OutputFormat.JSON
    names = list(rulebook or DEFAULT_RULEBOOKS)
    try:
        picked = _scenarios(shock or [], vol or [], scenarios or [])
    except ShockError as exc:
        raise _fail(str(exc)) from None
    reads = [("the book", book), *(("a rulebook", name) for name in names)]
    check_file_or_exit(report, "--report", reads)
    refuse_unclean(names, allow_warnings, _err)
    process_memory.keep_freed_memory()  # a batch's arrays are freed and made again
    try:
        rulebooks = [load_rulebook(n, folders_of(names)) for n in names]
        loaded = loaded_book(book)
        with _err.status("stressing"):
            result = stress(loaded, rulebooks, picked)
    except RulebookError as exc:
        raise _fail("\n".join(d.render() for d in exc.diagnostics)) from None
    except BookError as exc:
        raise _fail(f"the book is not valid:\n{exc}") from None
    except (ShockError, CompileError, EvaluationError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if report is not None:
        from marginlex.engine.stress.report import write_report  # noqa: PLC0415

        write_file(report, "--report", partial(write_report, result))
    if as_json:
        from marginlex.engine.stress.report import stress_json  # noqa: PLC0415

        typer.echo(json.dumps(stress_json(result), indent=2))
        return
    _out.print(fit(_impact_table(result), _out, whole=_WHOLE, optional=_IMPACT_DROPS))
    _out.print(fit(_affected_table(result), _out, whole=_WHOLE, optional=_AFFECTED_DROPS))


def register(app: typer.Typer) -> None:
    """Add this group's commands to the marginlex app."""
    app.command(
        "stress",
        epilog=examples(
            'marginlex stress --shock "class_group=SPX:-20%"',
            'marginlex stress my_book/ -r sec --shock "product=ust_*:+150bp" --vol +10pts',
            "marginlex stress --scenarios scenarios.toml --report stress.html",
        ),
    )(stress_command)
