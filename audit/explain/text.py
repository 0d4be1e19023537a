"""Explain a decision as text: a tree read top-down, a citation on every line."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from marginlex.audit.explain.cuts import cited_once, pruned
from marginlex.audit.explain.entry import LEDGER_CITE, entry_fields, entry_line
from marginlex.audit.explain.tree import Node, build_tree
from marginlex.audit.trace.model import DecisionTrace
from marginlex.printable import printable

if TYPE_CHECKING:
    from rich.tree import Tree

    from marginlex.audit.ledger.records import StoredDecision


def render_text(
    trace: DecisionTrace,
    entry: StoredDecision | None = None,
    *,
    depth: int | None = None,
    section: str | None = None,
) -> str:
    """The plain-text explanation (no colour, no wrapping), as written when not a TTY.

    Each line is ``text  ‹citation›`` under guides that show the tree; with ``entry``, a
    first line names the ledger entry (run, sequence, recorded time, entry hash). ``depth``
    and ``section`` cut the tree (see :func:`~marginlex.audit.explain.tree.pruned`).
    """
    lines = [] if entry is None else [f"{entry_line(entry)}  ‹{LEDGER_CITE}›"]
    _plain(cited_once(pruned(build_tree(trace), depth, section)), "", "", lines)
    return "\n".join(map(printable, lines)) + "\n"  # a book's text cannot drive the terminal


def _plain(node: Node, first: str, rest: str, lines: list[str]) -> None:
    lines.append(f"{first}{node.text}  ‹{node.cite}›")
    for index, child in enumerate(node.children):
        last = index == len(node.children) - 1
        _plain(
            child, rest + ("└── " if last else "├── "), rest + ("    " if last else "│   "), lines
        )


_STYLE = {
    "status-ok": "bold green",
    "status-call": "bold red",
    "status-breach": "bold red",
    "pass": "green",
    "fail": "red",
}


def render_rich(
    trace: DecisionTrace, *, depth: int | None = None, section: str | None = None
) -> Tree:
    """The same explanation as a rich Tree, for a terminal."""
    from rich.tree import Tree  # noqa: PLC0415 - rich only on a terminal

    root = cited_once(pruned(build_tree(trace), depth, section))
    tree = Tree(_label(root))
    _grow(tree, root)
    return tree


def _label(node: Node) -> str:
    from rich.markup import escape  # noqa: PLC0415

    style = _STYLE.get(node.css, "")
    shown = escape(printable(node.text))
    text = f"[{style}]{shown}[/]" if style else shown
    return f"{text}  [dim]‹{escape(printable(node.cite))}›[/]"


def _grow(tree: Tree, node: Node) -> None:
    for child in node.children:
        _grow(tree.add(_label(child)), child)


def render_json(trace: DecisionTrace, entry: StoredDecision | None = None) -> str:
    """The trace as indented JSON with sorted keys (the canonical content, pretty).

    With ``entry``, a ``ledger_entry`` key names where it is recorded (not part of the trace).
    """
    data = json.loads(trace.canonical())
    if entry is not None:
        data["ledger_entry"] = entry_fields(entry)
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
