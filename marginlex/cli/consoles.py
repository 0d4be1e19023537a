"""A rich console made on first use, so that a command that prints nothing through rich
(``explain`` writing plain text or JSON) does not import rich to start."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from rich.console import Console


class _LazyConsole:
    """Stands for ``Console(**options)``: made, with rich imported, when first used."""

    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console  # noqa: PLC0415 - the point of this module

            self._console = Console(**self._options)
        return getattr(self._console, name)


def lazy_console(**options: Any) -> Console:
    """A console like ``Console(**options)``, made when first used; its emoji codes off
    unless asked for (``:x:`` in an id or a rulebook's text is text, not ❌).

    >>> err = lazy_console(stderr=True)
    >>> import sys; "rich.console" in sys.modules or err.stderr
    True
    """
    return cast("Console", _LazyConsole({"emoji": False, **options}))
