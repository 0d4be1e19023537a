"""Rendering: the one Jinja environment (autoescaped), tables as HTML, CSV or JSON.

Every page that shows a table builds it as a :class:`Table`, so that the same rows are the
HTML table and its CSV export (``?format=csv`` or a ``.csv`` address).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from marginlex.engine.kernels.csv_cells import csv_text
from marginlex.printable import visible

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("marginlex.console", "templates"),
    autoescape=True,  # every template, whatever its name
    undefined=jinja2.StrictUndefined,
    finalize=visible,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters["segment"] = lambda value: quote(str(value), safe="")
"""One path segment of a link: ``/`` and ``?`` escaped too (Jinja's ``urlencode`` keeps
``/``, so an account id ``../../etc/passwd`` linked out of the console's pages)."""


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, and a link when it names something with a page."""

    text: str
    href: str | None = None
    css: str = ""


@dataclass(frozen=True)
class Table:
    """A table as shown and as exported: a name (for ``?table=``), columns and rows."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]] = field(default_factory=list)
    numeric: frozenset[str] = frozenset()

    def csv(self) -> str:
        """The table as CSV text (a header line, then one line a row); a numeric column's
        figures as numbers (``-140235.66``: the page's ``-140,235.66`` is text to a
        spreadsheet, and a text cell starting with ``-`` is written as text)."""
        plain = [name in self.numeric for name in self.columns]
        return csv_text(
            self.columns,
            (
                [c.text.replace(",", "") if p else c.text for c, p in zip(row, plain, strict=True)]
                for row in self.rows
            ),
        )


def cell(value: object, href: str | None = None, css: str = "") -> Cell:
    """A cell from a value: amounts with cents, None as empty."""
    if value is None:
        return Cell("", href, css)
    if isinstance(value, Decimal):
        return Cell(f"{value:.2f}", href, css)
    return Cell(str(value), href, css)


def split_format(ident: str) -> tuple[str, str | None]:
    """An id from an address and the format its ending asks for.

    >>> split_format("r-0123.csv"), split_format("r-0123")
    (('r-0123', 'csv'), ('r-0123', None))
    """
    for ending in ("csv", "json"):
        if ident.endswith(f".{ending}"):
            return ident.removesuffix(f".{ending}"), ending
    return ident, None


def wanted_format(
    request: Request, ending: str | None = None, offered: tuple[str, ...] = ("html", "csv")
) -> str:
    """One of ``offered``: from the address's ending, else ``?format=`` (``ending=""``: the
    address has none, though it ends in ``.csv``: an id that does).

    Raises:
        HTTPException: 400, a format the page does not offer (it was shown as HTML).
    """
    if ending is None and request.url.path.endswith((".csv", ".json")):
        ending = request.url.path.rsplit(".", 1)[1]
    fmt = ending or request.query_params.get("format", "html")
    if fmt not in offered:
        raise HTTPException(400, f"format: {' or '.join(offered)}, not {fmt!r}")
    return fmt


def csv_response(table: Table) -> Response:
    """A table as a CSV download named after it."""
    return Response(
        table.csv(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{table.name}.csv"'},
    )


def pick_table(request: Request, tables: list[Table]) -> Table:
    """The table ``?table=`` names (the first when none is named).

    Raises:
        HTTPException: 400, a name no table of the page has (the first table answered it).
    """
    name = request.query_params.get("table")
    if name is None:
        return tables[0]
    found = next((t for t in tables if t.name == name), None)
    if found is None:
        names = ", ".join(t.name for t in tables)
        raise HTTPException(400, f"no table {name!r} on this page: there are {names}")
    return found


async def bounded_body(request: Request, limit: int, why: str) -> bytes:
    """A request's body, read chunk by chunk up to ``limit`` bytes: a larger one is not read
    into memory but answered 413, the message saying ``why`` the form is no larger.

    Raises:
        HTTPException: 413, the body is over ``limit`` bytes.
    """
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"the form is over {limit:,} bytes: {why}")
    return bytes(body)


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page rendered from ``templates/`` with the request at hand."""
    html = ENV.get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status_code)


def tables_or_page(
    request: Request, tables: list[Table], template: str, ending: str | None = None, **context: Any
) -> Response:
    """The page, or one of its tables as CSV when the address asks for it."""
    if wanted_format(request, ending) == "csv":
        return csv_response(pick_table(request, tables))
    return page(request, template, tables={t.name: t for t in tables}, **context)
