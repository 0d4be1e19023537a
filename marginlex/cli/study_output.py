"""``compare --study``: the impact study's options, its run and its tables on stdout.

The engine (pandas, numpy, matplotlib) is imported inside the functions, so that
``marginlex --help`` stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from marginlex.cli.usage import usage_error

if TYPE_CHECKING:
    from marginlex.dsl.resolve import ResolvedRulebook
    from marginlex.engine.book.load import Book
    from marginlex.engine.variants.compare import CompareResult
    from marginlex.engine.variants.study.study import PairStudy, Study

STUDY = typer.Option(
    None,
    "--study",
    metavar="FILE.html",
    help="Also write an impact study here: collateral freed by segment and carrying firm, "
    "Shapley attribution, calls under --scenarios; with --format json it is the `study` key.",
)
SCENARIOS = typer.Option(
    None,
    "--scenarios",
    metavar="FILE.toml",
    help="With --study: stress scenarios (the TOML of `marginlex stress`); the calls each "
    "creates or removes, per rulebook pair.",
)
SAMPLES = typer.Option(
    32,
    "--shapley-samples",
    min=2,
    max=10_000,
    help="With --study: random orders drawn when more than 8 players differ (Shapley; each "
    "order re-evaluates the book once per player, so at most 10,000).",
)
SEED = typer.Option(17, "--seed", min=0, help="With --study: the seed of the Shapley sampling.")
TODAY = typer.Option(
    None,
    "--today",
    metavar="SEC+CFTC",
    help="With --study: also today's regimes side by side as a baseline, e.g. sec+cftc (both "
    "compared): each account's figures from the rulebook of its regime, counted once.",
)


def today_pair(
    today: str | None, rulebooks: list[ResolvedRulebook]
) -> tuple[ResolvedRulebook, ResolvedRulebook] | None:
    """The two rulebooks ``--today SEC+CFTC`` names; a usage error (exit 2) unless both are
    compared and a third rulebook is there to compare them with."""
    if today is None:
        return None
    by_id = {r.id: r for r in rulebooks}
    names = today.split("+")
    if len(names) != 2 or any(n not in by_id for n in names) or names[0] == names[1]:
        raise usage_error(
            f"--today {today}: give two compared rulebooks as SEC+CFTC, e.g. sec+cftc", "compare"
        )
    if len(by_id) < 3:
        raise usage_error("--today needs a third rulebook to compare today's with", "compare")
    return by_id[names[0]], by_id[names[1]]


def check_study_options(study: Path | None, scenarios: Path | None, today: str | None) -> None:
    """``--scenarios`` and ``--today`` mean nothing without ``--study``: a usage error (exit 2)."""
    if scenarios is not None and study is None:
        raise usage_error("--scenarios needs --study FILE.html", "compare")
    if today is not None and study is None:
        raise usage_error("--today needs --study FILE.html", "compare")


def run_study(
    result: CompareResult,
    rulebooks: list[ResolvedRulebook],
    book: Book,
    scenarios: Path | None,
    *,
    shapley: tuple[int, int] | None,
    today: tuple[ResolvedRulebook, ResolvedRulebook] | None = None,
    workers: int,
    progress: Callable[[str, int, int], None] | None = None,
) -> Study:
    """The study of ``result``; ``shapley`` is (samples, seed), None to skip Shapley values.

    Raises:
        marginlex.engine.stress.shocks.ShockError: a bad scenario file or shock.
    """
    from marginlex.engine.stress.shocks import load_scenarios  # noqa: PLC0415
    from marginlex.engine.variants.study.study import ShapleyOptions, impact_study  # noqa: PLC0415

    picked = load_scenarios(scenarios) if scenarios is not None else ()
    options = ShapleyOptions(samples=shapley[0], seed=shapley[1]) if shapley else None
    return impact_study(
        result,
        rulebooks,
        book,
        picked,
        options=options,
        today=today,
        workers=workers,
        progress=progress,
    )


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _pair_table(p: PairStudy) -> Table:
    table = Table(title=f"impact study {p.from_id} -> {p.to_id}: collateral freed by carrying firm")
    for name in ("firm", "accounts", "freed", "call delta", "calls created", "calls removed"):
        table.add_column(name, justify="left" if name == "firm" else "right")
    firms = next(t for t in p.segments if t.dimension.value == "carrying firm")
    for r in firms.rows:
        table.add_row(
            r.segment,
            str(r.accounts),
            _money(r.freed),
            _money(r.call_delta),
            str(r.calls_created),
            str(r.calls_removed),
        )
    sides = [
        f"{c.side}: {c.firms} firm(s), top {c.top_firm} {c.top_share:.2f}%, Herfindahl {c.hhi:.1f}"
        for c in (p.benefit, p.burden)
        if c.firms
    ]
    table.caption = "; ".join(
        [f"freed in total {_money(p.freed)}", *sides, *([p.note] if p.note else [])]
    )
    return table


def _shapley_table(p: PairStudy) -> Table | None:
    s = p.shapley
    if s is None:
        return None
    how = (
        "exact"
        if s.method == "exact"
        else f"{s.samples} sampled orders ({s.pairing}), seed {s.seed}, ± 1 s.e."
    )
    table = Table(title=f"Shapley values {p.from_id} -> {p.to_id} ({how})")
    for name in ("player", "rules", "requirement", "value", "call"):
        table.add_column(name, justify="left" if name == "rules" else "right")
    for i, v in enumerate(s.players, 1):
        if not (v.requirement or v.value or v.call):
            continue
        cells = [
            _money(x) + (f" ± {_money(se)}" if se is not None else "")
            for x, se in (
                (v.requirement, v.requirement_se),
                (v.value, v.value_se),
                (v.call, v.call_se),
            )
        ]
        table.add_row(str(i), v.label, *cells)
    return table


def print_study(console: Console, study: Study, path: Path) -> None:
    """Per pair, the firms table and the Shapley values; where the page was written."""
    for p in study.pairs:
        console.print(_pair_table(p))
        shapley = _shapley_table(p)
        if shapley is not None:
            console.print(shapley)
    console.print(f"impact study written to {path}", markup=False, highlight=False)
