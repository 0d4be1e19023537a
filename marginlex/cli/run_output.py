"""What ``marginlex run`` prints and writes: the decision table and the ``--out`` folder.

The default decision table fits an 80-column terminal (margin set, eligible, requirement,
value, call, status); ``--wide`` adds the method, initial, excess, every failed
requirement and every segregation violation with its path; ``--json`` has everything.
The engine is imported inside the functions, so that ``marginlex --help`` starts fast.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from marginlex.cli.output_format import cents
from marginlex.engine.kernels.csv_cells import csv_text

if TYPE_CHECKING:
    from marginlex.engine.evaluation import Evaluation
    from marginlex.engine.outcomes import FileFormat

_err = Console(stderr=True, highlight=False, emoji=False)

COMPACT = ("margin set", "eligible", "requirement", "value", "call", "status")
WIDE = (
    "margin set",
    "eligible",
    "method",
    "requirement",
    "initial",
    "value",
    "excess",
    "call",
    "status",
)
_LEFT = frozenset({"margin set", "eligible", "method", "status"})
_HINT = "more columns (method, initial, reasons, breach paths): --wide; all: --format json"


def _money(x: float) -> str:
    return "" if math.isnan(x) else f"{x:,.2f}"  # NaN (no initial) prints as nothing


def _listed(joined: str) -> list[str]:
    return [part for part in str(joined).split(";") if part]


def _margin_set(row: dict[str, Any]) -> str:
    """``A + B``, and for a Treasury cross-margin set the accounts whose positions it took."""
    text = " + ".join(_listed(row["account_ids"]))
    taken = _listed(row["takes_in_from"])
    return text + (f" (+ positions of {', '.join(taken)})" if taken else "")


def _breaches(ev: Evaluation) -> dict[str, list[str]]:
    """Per margin set id, ``rule: path`` of each segregation violation (a few rows)."""
    frame = ev.frames["segregation"]
    out: dict[str, list[str]] = {}
    rows = zip(frame["margin_set_id"], frame["rule_id"], frame["path"], strict=True)
    for set_id, rule_id, path in rows:  # violations only, for the printed table
        text = f"{rule_id}: {path}"
        if text not in out.setdefault(str(set_id), []):
            out[str(set_id)].append(text)
    return out


def _wide_cells(row: dict[str, Any], breaches: list[str]) -> list[str]:
    failed = ", ".join(_listed(row["failed_requirements"]))
    status = "; ".join([str(row["status"]), *breaches]) if breaches else str(row["status"])
    return [
        _margin_set(row),
        "yes" if row["eligible"] else f"no: {failed}",
        str(row["method_rule_id"]),
        _money(row["maintenance"]),
        _money(row["initial"]),
        _money(row["value"]),
        _money(row["excess"]),
        _money(row["call"]),
        status,
    ]


def decision_table(ev: Evaluation, *, wide: bool = False) -> Table:
    """Every decision of one rulebook as a table (compact unless ``wide``)."""
    names = WIDE if wide else COMPACT
    table = Table(
        title=f"{ev.rulebook_id}: {ev.plan.title} (as of {ev.as_of.isoformat()})",
        caption=None if wide else _HINT,
    )
    for name in names:
        table.add_column(name, justify="left" if name in _LEFT else "right")
    breaches = _breaches(ev) if wide else {}
    rows: list[dict[str, Any]] = ev.decisions.to_dict("records")  # type: ignore[assignment]
    for row in rows:  # rendering at most a small book's sets
        if wide:
            table.add_row(*_wide_cells(row, breaches.get(str(row["margin_set_id"]), [])))
            continue
        table.add_row(
            _margin_set(row),
            "yes" if row["eligible"] else "no",
            _money(row["maintenance"]),
            _money(row["value"]),
            _money(row["call"]),
            str(row["status"]),
        )
    return table


def recorded_line(run_id: str, decisions: int, rulebooks: int, location: str) -> str:
    """The line a recording command prints once the run is in the ledger.

    >>> recorded_line("r-1", 12, 1, "l.db")
    'recorded run r-1: 12 decisions (1 rulebook) in l.db'
    >>> recorded_line("r-2", 1, 3, "l.db")
    'recorded run r-2: 1 decision (3 rulebooks) in l.db'
    """
    said = f"{decisions} decision{'s' * (decisions != 1)}"
    return (
        f"recorded run {run_id}: {said} ({rulebooks} rulebook{'s' * (rulebooks != 1)}) "
        f"in {location}"
    )


def check_out_or_exit(out: Path | None, ids: Sequence[str] = ()) -> None:
    """Refuse an ``--out`` that cannot be a folder before anything is evaluated (exit 1);
    ``ids``: the rulebooks, whose folders under it are checked too."""
    from marginlex.engine.run import OutputError, check_out_folder  # noqa: PLC0415

    if out is None:
        return
    try:
        check_out_folder(out, ids)
    except OutputError as exc:
        _err.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None


def write_or_exit(ev: Evaluation, out: Path, file_format: FileFormat) -> Path:
    """Write one evaluation under ``out``; print the problem and exit 1 when it cannot."""
    from marginlex.engine.run import OutputError, write_evaluation  # noqa: PLC0415

    try:
        return write_evaluation(ev, out, file_format)
    except OutputError as exc:
        _err.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None


MONEY = frozenset(
    {"requirement", "initial", "equity", "value", "excess", "call"}
    | {"total_requirement", "total_call"}
)
"""The money fields of a decision and of a summary: numbers rounded to the cent in JSON."""


def money_rounded(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with every money field a number rounded to the cent (None stays None)."""
    return {k: cents(v) if k in MONEY and v is not None else v for k, v in record.items()}


def run_json(results: list[Evaluation]) -> str:
    """``run --format json``: per rulebook its book, summary and every decision."""
    doc = {
        ev.rulebook_id: {
            "as_of": ev.as_of.isoformat(),
            "book": ev.book_name,
            "book_sha256": ev.book_sha256,
            "summary": money_rounded(ev.summary().model_dump()),
            "decisions": [money_rounded(r) for r in ev.records()],
        }
        for ev in results
    }
    return json.dumps(doc, indent=2)


def run_csv(results: list[Evaluation]) -> str:
    """``run --format csv``: every decision of every rulebook, one a row (lists joined by
    ``;``, segregation paths as JSON), with its ``rulebook_id`` first."""
    rows = [
        {"rulebook_id": ev.rulebook_id, **money_rounded(r)} for ev in results for r in ev.records()
    ]
    names = list(dict.fromkeys(k for row in rows for k in row))
    # rendering the decisions already made
    return csv_text(names, ([_cell(row.get(k, "")) for k in names] for row in rows))


def _cell(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ";".join(value)
    return json.dumps(value) if isinstance(value, (list, dict)) else value
