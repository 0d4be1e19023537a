"""The rulebook's limits, in one place: what a rulebook may not exceed, and why.

A rulebook past a limit is refused with a diagnostic at the place that crosses it, instead of
ending in a ``RecursionError``, a solver that does not return, or an evaluation that exhausts
memory (issue 15). The book's limits are the engine's counterpart,
:mod:`marginlex.engine.book.limits`. Each figure is far above what the shipped rulebooks use
(about 8 KB of text, 10 scenario points, tables of under 10 rows, expressions 6 deep).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lark import Token, Tree

from marginlex.dsl.diagnostics import Code, Diagnostic, error
from marginlex.dsl.model import bodies as b
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.expressions import Node

MAX_RULEBOOK_BYTES = 500_000
"""Text of one rulebook file, in UTF-8 bytes (the shipped ones are under 10 KB)."""

MAX_NUMBER = 1e15
"""The largest figure a rulebook may write (a thousand trillion: amounts in USD, counts,
rates): past it float64 loses cents, and ``9`` written 400 times is infinity."""

MAX_NESTING = 100
"""Depth of the syntax tree (statements, clauses, expressions): ``not not ... x`` or
``((( ... )))`` nested deeper would exhaust the stack of the builder and of every pass."""

MAX_SCENARIO_POINTS = 200
"""``points N`` of a scenario grid and ``steps N`` of a SPAN scan: each position is revalued
at every point, so the evaluation holds positions x points figures."""

MAX_NAME_LENGTH = 100
"""Characters of a name (a rulebook, rule, parameter or requirement id): the ledger keeps
rule ids, requirement names and rulebook ids in VARCHAR(200) columns, which PostgreSQL
enforces (a 263-character rule id checked clean, then a run was refused mid-way)."""

MAX_EXTENDS_DEPTH = 100
"""Rulebooks one ``extends`` chain may pass through (``a extends b``, ``b extends c``, ...;
the shipped ones are 1 deep): each base is resolved inside the one that extends it, so a
chain of 1,500 ended in a ``RecursionError`` after a minute."""

MAX_TABLE_ROWS = 500
"""Rows of one table or list (maturity buckets, asset rows, rate rows, range rows, credit
rows, requirements): the conflict checker compares rows pairwise with an SMT solver."""


def size_diagnostic(text: str, path: str) -> Diagnostic | None:
    """MLX002 when the text is longer than :data:`MAX_RULEBOOK_BYTES` (:func:`too_large` says
    it of a file far past the limit before it is read).

    >>> size_diagnostic("x" * (MAX_RULEBOOK_BYTES + 1), "big.mlx").message
    'the rulebook is 500,001 bytes, over the limit of 500,000 bytes'
    >>> size_diagnostic("rulebook r", "small.mlx") is None
    True
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    return None if size <= MAX_RULEBOOK_BYTES else too_large(size, path)


def too_large(size: int, path: str) -> Diagnostic:
    """MLX002 for a rulebook of ``size`` bytes."""
    return error(
        Code.TOO_LARGE,
        f"the rulebook is {size:,} bytes, over the limit of {MAX_RULEBOOK_BYTES:,} bytes",
        m.Span(file=path),
        "split it into rulebooks that `extends` one another, or move data out of the text",
    )


def _too_deep(path: str, line: int, column: int) -> Diagnostic:
    span = m.Span(file=path, line=line, column=column, end_line=line, end_column=column + 1)
    return error(
        Code.TOO_DEEP,
        f"this is nested more than {MAX_NESTING} levels deep",
        span,
        "write the condition flat: `not not x` is `x`, and `and`/`or` take many terms",
    )


class NestingError(Exception):
    """Raised by :func:`guard_nesting` at the token that nests too deep."""

    def __init__(self, line: int, column: int) -> None:
        self.line, self.column = line, column
        super().__init__(f"nested too deep at {line}:{column}")

    def diagnostic(self, path: str) -> Diagnostic:
        """MLX107 at the token."""
        return _too_deep(path, self.line, self.column)


def guard_nesting(stream: Iterator[Token]) -> Iterator[Token]:
    """Pass the lexer's tokens on; stop at the one where open brackets plus a run of ``not``
    pass :data:`MAX_NESTING`, before the parser has built 50,000 levels of anything."""
    depth = nots = 0
    for token in stream:
        word = str(token)
        if word in ("(", "{"):
            depth += 1
        elif word in (")", "}"):
            depth = max(depth - 1, 0)
        nots = nots + 1 if word == "not" else 0
        if depth + nots > MAX_NESTING:
            raise NestingError(token.line or 1, token.column or 1)
        yield token


def name_diagnostics(tree: Tree[Token], path: str) -> list[Diagnostic]:
    """MLX002 at each name longer than :data:`MAX_NAME_LENGTH` characters.

    >>> from lark import Tree, Token
    >>> long = Token("NAME", "r" * 101, line=1, column=10, end_line=1, end_column=111)
    >>> [d.message for d in name_diagnostics(Tree("x", [long]), "r.mlx")]
    ['the name `rrrrrrrrrrrrrrrrrrrrrrrr…` is 101 characters, over the limit of 100']
    """
    found = []
    names = tree.scan_values(lambda v: isinstance(v, Token) and v.type == "NAME")
    for token in names:
        if len(token) <= MAX_NAME_LENGTH:
            continue
        line, column = token.line or 1, token.column or 1
        span = m.Span(
            file=path, line=line, column=column, end_line=line, end_column=column + len(token)
        )
        found.append(
            error(
                Code.TOO_LARGE,
                f"the name `{token[:24]}…` is {len(token):,} characters, over the limit of "
                f"{MAX_NAME_LENGTH}",
                span,
                "shorten it: the ledger keeps rule ids and requirement names in 200-character "
                "columns",
            )
        )
    return found


def nesting_diagnostic(tree: Tree[Token], path: str) -> Diagnostic | None:
    """MLX107 at the first node nested deeper than :data:`MAX_NESTING` (walked without
    recursion, so that any depth is measured safely): the backstop behind
    :func:`guard_nesting`, for nestings that mix brackets, ``not``, ``and`` and ``or``."""
    stack: list[tuple[Tree[Token], int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            meta = node.meta
            return _too_deep(path, getattr(meta, "line", 1), getattr(meta, "column", 1))
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    return None


def _nodes(node: Node) -> Iterator[Node]:
    """Every model node under ``node``, itself first (an explicit stack, no recursion)."""
    stack: list[Any] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Node):
            yield item
            stack.extend(getattr(item, name) for name in type(item).model_fields)
        elif isinstance(item, tuple):
            stack.extend(item)


def _long_table(node: Node) -> Diagnostic | None:
    for name in type(node).model_fields:
        rows = getattr(node, name)
        if isinstance(rows, tuple) and len(rows) > MAX_TABLE_ROWS:
            first_over = rows[MAX_TABLE_ROWS]
            span = first_over.span if isinstance(first_over, Node) else node.span
            return error(
                Code.TOO_MANY_ROWS,
                f"this table has {len(rows):,} rows, over the limit of {MAX_TABLE_ROWS:,}: "
                "the first row past it is here",
                span,
                "merge rows that give the same outcome, or split the statement",
            )
    return None


def _many_points(node: Node) -> Diagnostic | None:
    if isinstance(node, b.ScenarioGrid):
        word, count = "points", node.points
    elif isinstance(node, b.SpanScan):
        word, count = "steps", node.steps
    else:
        return None
    if count <= MAX_SCENARIO_POINTS:
        return None
    return error(
        Code.TOO_MANY_POINTS,
        f"`{word} {count:,}` is over the limit of {MAX_SCENARIO_POINTS:,} scenario points",
        node.span,
        f"each position is revalued at every point; {word} of 10 to 100 are usual",
    )


def limit_diagnostics(statements: tuple[m.Statement, ...]) -> list[Diagnostic]:
    """MLX404 for a table longer than :data:`MAX_TABLE_ROWS`, MLX405 for a grid of more than
    :data:`MAX_SCENARIO_POINTS` points, in the given statements."""
    found: list[Diagnostic] = []
    for statement in statements:
        for node in _nodes(statement):
            found += [d for d in (_long_table(node), _many_points(node)) if d is not None]
    return found
