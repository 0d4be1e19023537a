"""Tables on stdout that never cut money or ids, whatever the terminal's width.

Off a terminal (a pipe, a CI log) a table is as wide as ``$COLUMNS`` says, else wide enough
for every column; on a terminal, as wide as the terminal. Id and money columns never wrap
(a folded ``1,234,567.89`` reads as two numbers); the others wrap between words; below
:data:`NARROW` columns a command drops its least needed columns instead of squeezing them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from rich.console import Console, ConsoleDimensions
from rich.segment import Segment
from rich.table import Table

from marginlex.printable import printable

NARROW = 100
"""Below this many columns, tables show fewer columns."""


class StdoutConsole(Console):
    """stdout: the terminal's width; off a terminal, ``$COLUMNS`` or ``off_terminal``."""

    def __init__(self, off_terminal: int) -> None:
        # markup off: a table's cells are a book's ids and names, and "[/]" in one raised a
        # MarkupError, "[link=...]A01[/link]" showed as a link reading A01; a line meant to
        # be styled says so (print(..., markup=True), its data escaped) or is a Text.
        # Emoji codes off: an account "A:x:5" showed as "A❌5", its set "ms:A:x:5" as
        # "ms🅰x:5" (rich's ":x:" and ":A:"), ids no ledger holds.
        super().__init__(highlight=False, markup=False, emoji=False)
        self._off_terminal = off_terminal

    @property
    def size(self) -> ConsoleDimensions:
        """The terminal's size, ``$COLUMNS`` when set, else ``off_terminal`` columns."""
        size = super().size
        if self.is_terminal or os.environ.get("COLUMNS", "").isdigit():
            return size
        return ConsoleDimensions(self._off_terminal, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        # A book's ids and names may hold control characters (ESC [2J clears the screen):
        # written out, so that a table's text cannot drive the terminal. Rich's own control
        # segments (cursor moves, styles) pass.
        shown = (s if s.control else Segment(printable(s.text), s.style) for s in buffer)
        return super()._render_buffer(shown)

    @property
    def narrow(self) -> bool:
        """Fewer than :data:`NARROW` columns: tables drop their optional columns."""
        return self.size.width < NARROW


def fit(
    table: Table, console: StdoutConsole, *, whole: frozenset[str], optional: tuple[str, ...] = ()
) -> Table:
    """``table`` fitted to ``console``: the columns named in ``whole`` (ids, money) never
    wrap, the others wrap between words (an id list between its ids) and fold a word longer
    than the column (a long rule id goes on over the next line, never cut to "…"); on a
    narrow console the ``optional`` columns are dropped. Returns the table."""
    if console.narrow and optional:
        table.columns[:] = [c for c in table.columns if str(c.header) not in optional]
    for column in table.columns:
        column.no_wrap = str(column.header) in whole
        if not column.no_wrap:
            column.overflow = "fold"
    return table
