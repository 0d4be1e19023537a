"""Output lines and row packing shared by the formatter modules."""

from __future__ import annotations

from dataclasses import dataclass

from marginlex.dsl.format.expressions import split, string
from marginlex.dsl.model import rulebook as m

WIDTH = 96
IND = "  "


@dataclass(frozen=True)
class Line:
    """One output line: indentation depth, text, the source line it stands for (and, for
    the first line of a packed clause, the source line where that clause ended)."""

    depth: int
    text: str
    anchor: int | None = None
    statement: bool = False
    last: int | None = None


def pack(depth: int, parts: list[str], anchor: m.Node | None) -> list[Line]:
    """Greedily pack ``parts`` into lines of at most WIDTH, continuations indented."""
    lines: list[Line] = []
    current = parts[0]
    for part in parts[1:]:
        indent = len(IND) * (depth + (1 if lines else 0))
        if indent + len(current) + 1 + len(part) <= WIDTH:
            current = f"{current} {part}"
        else:
            lines.append(Line(depth + (1 if lines else 0), current))
            current = part
    lines.append(Line(depth + (1 if lines else 0), current))
    first = lines[0]
    span = anchor.span if anchor else None
    lines[0] = Line(
        first.depth, first.text, span.line if span else None, last=span.end_line if span else None
    )
    return lines


def lead(prefix: str, e: m.Node) -> list[str]:
    """``prefix`` joined to the first part of a split expression, then the other parts."""
    first, *rest = split(e)
    return [f"{prefix}{first}", *rest]


def note(n: m.Note | None) -> list[str]:
    """``[secondary, cites "..."]`` as a trailing part, or nothing."""
    if n is None:
        return []
    items = ([n.status.value] if n.status else []) + (
        [f"cites {string(n.citation.text)}"] if n.citation else []
    )
    return ["[" + ", ".join(items) + "]"]


def same(a: m.Quantity | m.ParamRef, b: m.Quantity | m.ParamRef) -> bool:
    return a.model_dump(exclude={"span"}) == b.model_dump(exclude={"span"})
