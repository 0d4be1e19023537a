"""The app factory: routers, the token and header middleware, error pages, static files.

``create_app`` is separate from ``marginlex serve`` so that tests drive it with Starlette's
``TestClient``, and nothing is opened until the first request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from zstandard import ZstdError

from marginlex.audit.ledger.locks import LockTimeout
from marginlex.audit.ledger.read import DecisionNotFoundError
from marginlex.audit.ledger.store import LedgerError
from marginlex.console.pages import ROUTERS
from marginlex.console.render import page
from marginlex.console.security import HEADERS, token_guard
from marginlex.console.state import ConsoleState
from marginlex.console.verify_jobs import VerifyJobs
from marginlex.console.workbench import remove_scratch

log = logging.getLogger("marginlex.console")
UNREADABLE = "The ledger cannot be read"


def create_app(
    ledger_url: str,
    *,
    token: str | None = None,
    book: Path | None = None,
    rulebooks: Path | None = None,
) -> FastAPI:
    """The console over the ledger at ``ledger_url`` (a SQLite path or a PostgreSQL URL).

    Args:
        ledger_url: where the ledger is; it is opened read-only on the first request.
        token: when given, every request must present it (header, cookie or ``?token=``).
        book: a book folder the workbench may preview on, beside the demo book.
        rulebooks: the folder the workbench's "Save as" writes into (None: no saving).
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        state.close()
        remove_scratch()

    state = ConsoleState(ledger_url, VerifyJobs(), book, rulebooks)
    app = FastAPI(
        title="marginlex console",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.console = state
    app.middleware("http")(token_guard(token))
    app.mount(
        "/static", StaticFiles(directory=str(files("marginlex.console") / "static")), "static"
    )
    for router in ROUTERS:
        app.include_router(router)
    app.add_api_route("/", _home, include_in_schema=False)
    app.add_api_route("/favicon.ico", _no_icon, include_in_schema=False)
    _errors(app)
    return app


async def _home() -> Response:
    return RedirectResponse("/runs", status_code=307)


async def _no_icon() -> Response:
    return Response(status_code=204)  # no icon, and no 404 in the browser's console


def _errors(app: FastAPI) -> None:
    """Error pages: never a traceback, always what happened in words."""

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        title = "Not found" if exc.status_code == 404 else f"Error {exc.status_code}"
        return page(request, "error.html.j2", exc.status_code, title=title, message=exc.detail)

    @app.exception_handler(DecisionNotFoundError)
    async def no_decision(request: Request, exc: DecisionNotFoundError) -> Response:
        return page(request, "error.html.j2", 404, title="Not found", message=str(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return page(request, "error.html.j2", 400, title="Bad request", message=problems)

    async def unreadable(request: Request, exc: Exception) -> Response:
        # A database error says what the database said, not the statement it was given.
        said = getattr(exc, "orig", None) if isinstance(exc, SQLAlchemyError) else None
        shown = said if said is not None else exc
        message = str(exc) if isinstance(exc, LedgerError) else f"{type(shown).__name__}: {shown}"
        log.warning("console request failed: %s: %s", request.url.path, message)
        return page(request, "error.html.j2", 500, title=UNREADABLE, message=message)

    for kind in (LedgerError, SQLAlchemyError, ValueError, LookupError, ZstdError):
        app.add_exception_handler(kind, unreadable)

    @app.exception_handler(LockTimeout)
    async def locked(request: Request, exc: LockTimeout) -> Response:
        # Another process (a run recording) held the ledger past the wait: try again later.
        log.warning("console request waited for the ledger: %s: %s", request.url.path, exc)
        response = page(request, "error.html.j2", 503, title="Ledger busy", message=str(exc))
        response.headers["Retry-After"] = "30"
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("console request failed: %s", request.url.path)
        message = f"an unexpected {type(exc).__name__}; the server log has the details"
        response = page(request, "error.html.j2", 500, title=UNREADABLE, message=message)
        response.headers.update(HEADERS)  # outside the middleware that adds them elsewhere
        return response
