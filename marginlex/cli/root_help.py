"""``marginlex --help`` without typer or rich: the root help drawn once, then kept.

typer draws help with rich, whose console, tables, panels and Markdown renderer cost
several times the interpreter's own start-up; the root help is what a person types first.
It is drawn from :data:`marginlex.cli.command_table.LISTING` (a stand-in command for each
line, so no command module is imported), exactly as typer draws it, and the text written
is kept in the cache folder (:func:`marginlex.dsl.cache.cache_dir`) in a file named for
everything that shapes it: the terminal (which streams are terminals, their sizes, the
output encoding), the environment variables rich and typer read (colour, width, locale),
the program name, Python's version, the installed typer, rich, Pygments and markdown-it
(their files), and the modules that define the root help (this one, the table, the app).
A later ``--help`` with the same key writes the kept text and imports neither typer nor
rich; any difference draws it again. ``MARGINLEX_CACHE_DIR=`` (empty) turns the keeping
off, and so does Windows (where rich also asks the console's mode): the help is then drawn
every time.
"""

from __future__ import annotations

import hashlib
import os
import sys
from importlib.machinery import PathFinder
from pathlib import Path
from typing import IO, Any

_HERE = Path(__file__).resolve().parent
_DEFINING = (
    "__init__.py",
    "help_text.py",
    "root_options.py",
    "command_table.py",
    "root_help.py",
)
_LIBRARIES = ("typer", "rich", "pygments", "markdown_it")
_ENV_WORDS = (
    "COLOR",
    "TERM",
    "TTY",
    "COLUMNS",
    "LINES",
    "WIDTH",
    "LANG",
    "LC_",
    "TYPER",
    "RICH",
    "JUPYTER",
    "GITHUB_ACTIONS",
    "DATABRICKS",
    "PYCHARM",
    "PYTHONIO",
)
"""An environment variable whose name holds one of these may change how help is drawn."""


def _terminal() -> list[object]:
    shape: list[object] = []
    for fd in (0, 1, 2):
        try:
            shape.append((os.isatty(fd), tuple(os.get_terminal_size(fd))))
        except OSError:
            shape.append((False, None))
    return shape


def _library(name: str) -> tuple[str, int, int] | None:
    spec = PathFinder.find_spec(name)
    if spec is None or spec.origin is None:
        return None
    stat = os.stat(spec.origin)
    return spec.origin, stat.st_mtime_ns, stat.st_size


def help_key() -> str:
    """The name of the kept root help for this terminal, environment and installation.

    >>> len(help_key())
    24
    """
    main = sys.modules.get("__main__")
    parts: list[object] = [
        sys.version,
        sys.platform,
        os.path.basename(sys.argv[0]),
        getattr(main, "__package__", None),
        getattr(sys.stdout, "encoding", None),
        _terminal(),
        sorted((k, v) for k, v in os.environ.items() if any(w in k for w in _ENV_WORDS)),
        [_library(name) for name in _LIBRARIES],
    ]
    digest = hashlib.sha256(repr(parts).encode("utf-8"))
    for name in _DEFINING:
        digest.update((_HERE / name).read_bytes())
    return digest.hexdigest()[:24]


class _Tee:
    """``sys.stdout`` as rich sees it (terminal, size, encoding), keeping what is written."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.written: list[str] = []

    def write(self, text: str) -> int:
        count = self.stream.write(text)  # first: click probes with bytes, which raise here
        self.written.append(text)
        return count

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _stand_in() -> None:
    """A command of the listing, never run: only its line of help is drawn."""


def draw() -> str | None:
    """Draw the root help with typer as ``marginlex --help`` does; the text written.

    None when typer did not end with exit code 0 (the text is then not worth keeping).
    """
    from marginlex.cli import build_app  # noqa: PLC0415 - imports typer
    from marginlex.cli.command_table import LISTING  # noqa: PLC0415

    app = build_app(())
    for name, line in LISTING.items():
        app.command(name, help=line)(_stand_in)
    tee, stdout = _Tee(sys.stdout), sys.stdout
    sys.stdout = tee  # a stream in all that rich asks of it
    try:
        app()
    except SystemExit as done:
        if done.code not in (0, None):
            raise
    finally:
        sys.stdout = stdout
    return "".join(tee.written)


def print_root_help() -> None:
    """Write the root help: the kept text when there is one for this key, else draw it."""
    from marginlex.dsl.cache import cache_dir  # noqa: PLC0415 - light: os and pathlib

    folder = cache_dir() if sys.platform != "win32" else None  # a console's mode is not keyed
    kept = None if folder is None else folder / f"help-{help_key()}.txt"
    if kept is not None and kept.is_file():
        with kept.open(encoding="utf-8", newline="") as stored:
            sys.stdout.write(stored.read())
        sys.stdout.flush()
        return
    text = draw()
    if kept is not None and text:
        part = kept.with_name(f"{kept.name}.{os.getpid()}")
        try:
            part.write_text(text, "utf-8", newline="")
            os.replace(part, kept)
        except OSError:
            part.unlink(missing_ok=True)
