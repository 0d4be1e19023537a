"""One spelling for machine output: ``--format table|json|csv`` on every command.

``--json`` stays as a hidden alias of ``--format json`` so that scripts do not break. A
command that has no CSV form refuses ``--format csv`` as a usage error (exit 2). Money in
every command's JSON is a number rounded to the cent (:func:`cents`); the decision trace
(``explain --format json``) keeps the trace schema's decimal strings.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import typer

from marginlex.cli.usage import usage_error


class OutputFormat(StrEnum):
    """What a command prints on stdout."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


FORMAT_HELP = "table (for people), json or csv (for programs); json has every field."
JSON_ALIAS = typer.Option(False, "--json", hidden=True, help="Same as --format json.")


def format_option(help_text: str = FORMAT_HELP, *, csv: bool = False) -> OutputFormat:
    """The ``--format``/``-f`` option (default: table); its help lists ``csv`` only for a
    command that has a CSV form (the others refuse it: :func:`chosen`)."""
    shown = "table|json|csv" if csv else "table|json"
    return typer.Option(  # type: ignore[no-any-return]
        OutputFormat.TABLE, "--format", "-f", help=help_text, metavar=shown
    )


def chosen(fmt: OutputFormat, as_json: bool, command: str, *, csv: bool) -> OutputFormat:
    """The format asked for (``--json`` wins); ``csv`` a usage error where there is none."""
    fmt = OutputFormat.JSON if as_json else fmt
    if fmt is OutputFormat.CSV and not csv:
        raise usage_error(f"`{command}` has no CSV output: --format table or json", command)
    return fmt


def cents(amount: float | Decimal | str) -> float:
    """Money as JSON shows it in every command: a number rounded to the cent.

    >>> cents(1234.5678), cents(Decimal("10")), cents("0.005")
    (1234.57, 10.0, 0.01)
    """
    return float(Decimal(str(amount)).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP"))
