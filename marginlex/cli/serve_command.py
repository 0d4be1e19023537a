"""``marginlex serve``: the auditor's console over a ledger, read-only, until Ctrl-C."""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Annotated

import typer

from marginlex.cli.help_text import examples
from marginlex.cli.usage import ledger_given

_LEDGER = typer.Option(
    "--ledger",
    callback=ledger_given,
    help="Ledger file path or postgresql+psycopg:// URL (default: $MARGINLEX_LEDGER, else the "
    "demo book recorded once under sec, cftc and harmonized in your data folder).",
)


def serve(
    *,
    ledger: Annotated[str | None, _LEDGER] = None,
    book: Annotated[
        Path | None,
        typer.Option(
            help="With no ledger: record this book folder instead of the demo book. The "
            "workbench previews on it too."
        ),
    ] = None,
    rulebooks: Annotated[
        Path | None,
        typer.Option(
            help="The folder the workbench's Save as writes .mlx files into (default: none, "
            "no saving).",
            file_okay=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            help="Require this token (default: $MARGINLEX_TOKEN); needed off loopback.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the auditor's console: runs, decisions, explanations, history, rulebooks, verify,
    and the workbench (edit a variant, check it, preview it against its base on a book).

    Read-only: the ledger is opened so that nothing can be written to it; the workbench's
    Save as writes into --rulebooks DIR only. Listening on an address other than loopback
    needs a token; open the printed address once with ?token=... and the browser keeps it.
    """
    import os  # noqa: PLC0415

    from marginlex.console.security import StartError, start_token  # noqa: PLC0415

    try:
        required = start_token(host, token)
    except StartError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if book is not None:
        _check_book_or_exit(book)
    location = ledger or os.environ.get("MARGINLEX_LEDGER") or _default_ledger(book)
    _serve(location, host, port, required, (book, rulebooks))


def _check_ledger_or_exit(location: str) -> None:
    """Refuse a ledger that cannot be opened, before serving: a mistyped path, a folder, a
    file that is not a ledger, a server that refuses (the console said "serving on", then
    answered every page with an error page)."""
    from marginlex.audit.ledger.entry_read import LedgerError  # noqa: PLC0415
    from marginlex.audit.ledger.read_only import open_read_only  # noqa: PLC0415

    try:
        open_read_only(location).close()
    except LedgerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


def _serve(
    location: str, host: str, port: int, token: str | None, folders: tuple[Path | None, ...]
) -> None:
    """Print the address, then serve until Ctrl-C."""
    import uvicorn  # noqa: PLC0415

    from marginlex.audit.ledger.store import shown_location  # noqa: PLC0415
    from marginlex.console.app import create_app  # noqa: PLC0415

    book, rulebooks = folders
    if rulebooks is not None and not rulebooks.is_dir():
        typer.echo(f"error: --rulebooks {rulebooks} is not a folder", err=True)
        raise typer.Exit(2)
    sock = _bound_or_exit(host, port)  # before "serving on": a port in use is said instead
    try:
        _check_ledger_or_exit(location)
    except typer.Exit:
        sock.close()
        raise
    shown = "localhost" if host in {"127.0.0.1", "::1"} else host
    typer.echo(f"marginlex console over {shown_location(location)}")
    suffix = "/?token=..." if token else "/"
    typer.echo(f"serving on http://{shown}:{port}{suffix}  (Ctrl-C stops it)")
    app = create_app(location, token=token, book=book, rulebooks=rulebooks)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


def _bound_or_exit(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` for the server to listen on; a port in use or a
    host that does not resolve is one line and exit 1 (uvicorn said "serving on" first,
    then logged the error and exited 3)."""
    sock = None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[
            0
        ]  # socket.gaierror: a name that does not resolve
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        if sock is not None:
            sock.close()
        taken = exc.errno == errno.EADDRINUSE
        hint = " (another program holds it: give --port another number)" if taken else ""
        typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}{hint}", err=True)
        raise typer.Exit(1) from None
    return sock


def _check_book_or_exit(book: Path) -> None:
    """Refuse a --book that does not load, with every problem, before serving (the
    workbench's preview on it failed only when asked, as a server error)."""
    from marginlex.engine.book.load import validate_book  # noqa: PLC0415
    from marginlex.engine.book.problems import Severity  # noqa: PLC0415

    errors = [p for p in validate_book(book) if p.severity is Severity.ERROR]
    for problem in errors:
        typer.echo(problem.render(), err=True)
    if errors:
        typer.echo(f"error: --book {book} does not load: {len(errors)} error(s)", err=True)
        raise typer.Exit(1)


def _default_ledger(book: Path | None) -> str:
    """The default ledger, recorded once (from ``book`` if given, else the demo book)."""
    from marginlex.audit.ledger.default import default_ledger_path, ensure_demo_ledger  # noqa: PLC0415

    where = default_ledger_path()
    if book is not None:
        where = where.with_name(f"ledger-{book.resolve().name}.db")
    if not where.exists():
        typer.echo(f"recording {'the demo book' if book is None else book} into {where} (once)")
    return str(ensure_demo_ledger(where, book))


def register(app: typer.Typer) -> None:
    """Register ``serve``."""
    app.command(
        epilog=examples("marginlex serve", "marginlex serve --ledger audit.db --port 8080")
    )(serve)
