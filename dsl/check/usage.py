"""Which parameters are used: named in a value or condition, or in a ``because`` text.

A parameter nothing uses is a figure that moves no decision: usually a typo in the name of
the statement meant to use it, or a leftover of an edit (MLX215).
"""

from __future__ import annotations

from collections.abc import Iterator

from marginlex.dsl.check.reasons import placeholders
from marginlex.dsl.diagnostics import Code, Diagnostic, settle, warning
from marginlex.dsl.model import rulebook as m


def _named(node: object) -> Iterator[str]:
    """Every parameter name a node refers to, walking the whole model (iteratively)."""
    todo: list[object] = [node]
    while todo:
        x = todo.pop()
        if isinstance(x, m.ParamRef):
            yield x.name
        elif isinstance(x, m.Requirement):
            yield from placeholders(x.reason)
            todo.extend(getattr(x, f) for f in type(x).model_fields)
        elif isinstance(x, m.Node):
            todo.extend(getattr(x, f) for f in type(x).model_fields)
        elif isinstance(x, tuple):
            todo.extend(x)


def used_parameters(statements: tuple[m.Statement, ...]) -> frozenset[str]:
    """The names of the parameters the statements use."""
    return frozenset(name for s in statements for name in _named(s))


def unused_parameter_diagnostics(
    own: tuple[m.Statement, ...], resolved: tuple[m.Statement, ...]
) -> list[Diagnostic]:
    """A warning for each parameter this file defines that no statement in force uses."""
    used = used_parameters(resolved)
    # an `extend` is applied to the statement it names; its own requirements count too
    used |= used_parameters(tuple(s for s in own if isinstance(s, m.Extension)))
    return [
        d
        for p in own
        for d in settle(
            Code.UNUSED_PARAMETER,
            _unused(p, used) if isinstance(p, m.Parameter) else None,
            p.accepts,
            p.span,
        )
    ]


def _unused(p: m.Parameter, used: frozenset[str]) -> Diagnostic | None:
    if p.id in used:
        return None
    return warning(
        Code.UNUSED_PARAMETER,
        f"parameter `{p.id}` is not used by any rule",
        p.span,
        f"use it in a rule or a `because` text ({{{p.id}}}), or remove it: it moves no decision",
    )
