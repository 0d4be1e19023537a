"""The workbench: start a variant from a shipped or recorded rulebook, edit it, check it as
``marginlex check`` does, preview its effect on a book against its base, and "Save as" into
the ``--rulebooks`` folder. The ledger is only read; nothing is written but by "Save as".

Forms are plain url-encoded POSTs (the page works without JavaScript); ``workbench.js``
posts the text to ``/workbench/check`` as it is typed and shows the diagnostics it answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from marginlex.console.render import bounded_body, page
from marginlex.console.state import ConsoleState, state_of
from marginlex.console.workbench import (
    Start,
    WorkbenchError,
    Workspace,
    check,
    choices,
    diagnostics_json,
    preview,
    save,
    start_text,
    workspace,
)
from marginlex.dsl.claims import RULEBOOK_ENCODING
from marginlex.dsl.diagnostics import Severity
from marginlex.dsl.limits import MAX_RULEBOOK_BYTES

if TYPE_CHECKING:
    from marginlex.audit.ledger.store import Ledger
    from marginlex.engine.book.load import Book

router = APIRouter()
StateDep = Annotated[ConsoleState, Depends(state_of)]
DEFAULT_BASE = "shipped:sec"
DEMO = "demo"


def _ledger(state: ConsoleState) -> Ledger | None:
    """The ledger, or None when there is none to read (the shipped bases still work)."""
    from marginlex.audit.ledger.store import LedgerError  # noqa: PLC0415

    try:
        return state.ledger()
    except LedgerError:
        return None


def _workspace(state: ConsoleState, key: str) -> Workspace:
    return state.cached(("workbench", key), lambda: workspace(key, _ledger(state), state.rulebooks))


def _books(state: ConsoleState) -> list[tuple[str, str]]:
    found = [(DEMO, "the demo book")]
    if state.book is not None:
        found.append((str(state.book), f"{state.book.name} (--book)"))
    return found


def _book(state: ConsoleState, which: str) -> Book:
    from marginlex.engine.run import resolve_book  # noqa: PLC0415

    if which != DEMO and (state.book is None or which != str(state.book)):
        raise WorkbenchError(f"no book {which!r} here: the demo book or the --book given")
    from marginlex.engine.book.problems import BookError  # noqa: PLC0415

    folder = None if which == DEMO else Path(which)
    try:  # loaded again when a file of the folder changed, appeared or went (a stat each)
        key = ("workbench-book", which, *_stamp(folder))
        return state.cached(key, lambda: resolve_book(folder))
    except BookError as exc:  # the --book folder changed since the console started
        first = "; ".join(p.render() for p in exc.problems[:3])
        raise WorkbenchError(f"the book {which} does not load: {first}") from exc


def _stamp(folder: Path | None) -> tuple[str, ...]:
    """Each file of a book folder with its size and modification time (the demo: none)."""
    if folder is None:
        return ()
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return ("(unreadable)",)
    return tuple(
        f"{p.name}:{st.st_size}:{st.st_mtime_ns}"
        for p in entries
        if p.is_file() and (st := p.stat())
    )


def _render(
    request: Request, state: ConsoleState, *, status: int = 200, **context: Any
) -> Response:
    values: dict[str, Any] = {
        "base": DEFAULT_BASE,
        "start": Start.VARIANT,
        "name": "my_variant",
        "book": DEMO,
        "diagnostics": None,
        "tables": None,
        "message": None,
        "saved": None,
        "notice": None,
        **context,
    }
    return page(
        request,
        "workbench.html.j2",
        status,
        bases=choices(_ledger(state)),
        books=_books(state),
        can_save=state.rulebooks is not None,
        **values,
    )


@router.get("/workbench")
def workbench_page(
    request: Request, state: StateDep, base: str = DEFAULT_BASE, start: Start = Start.VARIANT
) -> Response:
    """The editor, opened on a new variant of ``base`` (or on its own text: ``start=edit``)."""
    try:
        text = start_text(_workspace(state, base), start)
    except WorkbenchError as exc:
        return _render(
            request, state, status=404, base=base, start=start, text="", message=str(exc)
        )
    return _render(request, state, base=base, start=start, text=text)


MAX_FORM_BYTES = 3 * MAX_RULEBOOK_BYTES + 65_536
"""The largest form a workbench page reads: a rulebook past MLX002's limit, each byte
percent-encoded (three characters), and the other fields. A larger body is not read into
memory: it is a 413."""


async def _form(request: Request) -> dict[str, Any]:
    why = f"a rulebook is at most {MAX_RULEBOOK_BYTES:,} bytes (MLX002)"
    body = await bounded_body(request, MAX_FORM_BYTES, why)
    raw = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    fields = {k: v[0] for k, v in raw.items()}
    return {
        "base": fields.get("base", DEFAULT_BASE),
        "name": fields.get("name", "my_variant").strip(),
        "book": fields.get("book", DEMO),
        # line ends as `check` reads a file's: a lone carriage return is one too (a crafted
        # form's checked clean inside a quoted text, then the save's formatting refused it)
        "text": fields.get("text", "").replace("\r\n", "\n").replace("\r", "\n"),
    }


@router.post("/workbench/check")
async def check_text(request: Request, state: StateDep) -> Response:
    """The diagnostics of the posted text: JSON for the script, else the page with them."""
    form = await _form(request)
    try:
        ws = await run_in_threadpool(_workspace, state, form["base"])
    except WorkbenchError as exc:
        return _render(request, state, status=400, **form, message=str(exc))
    analysis = await run_in_threadpool(check, ws, form["text"], form["name"])
    if "application/json" in request.headers.get("accept", ""):
        return Response(diagnostics_json(analysis), media_type="application/json")
    return _render(request, state, **form, diagnostics=analysis.diagnostics)


def _preview(state: ConsoleState, form: dict[str, Any]) -> dict[str, Any]:
    from marginlex.console.preview_report import report_tables  # noqa: PLC0415

    ws = _workspace(state, form["base"])
    analysis = check(ws, form["text"], form["name"])
    try:
        result = preview(ws, analysis, _book(state, form["book"]))
    except WorkbenchError as exc:
        return {"diagnostics": analysis.diagnostics, "message": str(exc)}
    warned = sum(d.severity is Severity.WARNING for d in analysis.diagnostics)
    notice = (
        f"Previewed with {warned} warning(s), as `--allow-warnings` would: `marginlex run` and "
        "`marginlex compare` refuse this text until they are fixed or accepted."
        if warned
        else None
    )
    return {"diagnostics": analysis.diagnostics, "tables": report_tables(result), "notice": notice}


@router.post("/workbench/preview")
async def preview_text(request: Request, state: StateDep) -> Response:
    """The posted variant compared with its base on the chosen book, as a report."""
    form = await _form(request)
    try:
        shown = await run_in_threadpool(_preview, state, form)
    except WorkbenchError as exc:
        return _render(request, state, status=400, **form, message=str(exc))
    status = 400 if shown.get("message") else 200
    return _render(request, state, status=status, **form, **shown)


@router.post("/workbench/save")
async def save_text(request: Request, state: StateDep) -> Response:
    """Write the formatted text into the ``--rulebooks`` folder (refused unless it checks
    clean there, under a plain name, as a new file)."""
    form = await _form(request)
    try:
        ws = await run_in_threadpool(_workspace, state, form["base"])
        path = await run_in_threadpool(save, ws, form["text"], form["name"], state.rulebooks)
    except WorkbenchError as exc:
        return _render(request, state, status=400, **form, message=str(exc))
    state.forget(("workbench", form["base"]))  # its library reads the folder again
    text = path.read_text(encoding=RULEBOOK_ENCODING)
    return _render(request, state, **{**form, "text": text}, saved=str(path))
