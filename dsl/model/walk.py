"""Walk the model: every node below another, and the nodes written at a line and column.

Every node carries a :class:`~marginlex.dsl.model.expressions.Span`; these functions let a
surface (the language server) ask "what is under the cursor" of the one model instead of
reading the text again.
"""

from __future__ import annotations

from collections.abc import Iterator

from marginlex.dsl.model.expressions import Node, Span


def children(node: Node) -> Iterator[Node]:
    """The nodes directly below ``node``, in field order (tuples are flattened).

    >>> from marginlex.dsl.model.expressions import Not, BoolValue
    >>> [type(c).__name__ for c in children(Not(item=BoolValue(value=True)))]
    ['BoolValue']
    """
    for name in type(node).model_fields:
        value = getattr(node, name)
        items = value if isinstance(value, tuple) else (value,)
        yield from (item for item in items if isinstance(item, Node))


def walk(node: Node) -> Iterator[Node]:
    """``node`` and every node below it, depth first, in source order of the fields."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(children(current))))


def contains(span: Span, line: int, column: int) -> bool:
    """Whether the 1-based ``line``/``column`` falls in ``span`` (its end column included,
    so that a cursor just after a word still finds it).

    >>> contains(Span(line=2, column=3, end_line=2, end_column=8), 2, 8)
    True
    >>> contains(Span(line=2, column=3, end_line=2, end_column=8), 3, 1)
    False
    """
    if (line, column) < (span.line, span.column):
        return False
    return (line, column) <= (span.end_line, span.end_column)


def nodes_at(node: Node, line: int, column: int) -> list[Node]:
    """The nodes whose span holds the position, outermost first, innermost last.

    >>> from marginlex.dsl.parser import parse
    >>> book = parse('rulebook r "R"\\nparameter p = 5 USD cites "x"', "r.mlx")
    >>> [type(n).__name__ for n in nodes_at(book, 2, 15)]
    ['Rulebook', 'Parameter', 'Quantity']
    """
    found: list[Node] = []
    current: Node | None = node
    while current is not None:
        found.append(current)
        current = next(
            (c for c in children(current) if contains(c.span, line, column)),
            None,
        )
    return found
