"""Where a node of the rulebook model came from, in a module of its own: a diagnostic names
its place without building the whole expression model (``check``'s kept answers need no more)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Span(BaseModel):
    """Where a node came from: file, 1-based line and column of its first and last character."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str = "<string>"
    line: int = 1
    column: int = 1
    end_line: int = 1
    end_column: int = 1


NO_SPAN = Span()

SPAN_FIELDS = frozenset({"span", "reason_span", "status_span"})
"""The model fields that say where a node was written, not what it says (comparisons of
meaning leave them out)."""
