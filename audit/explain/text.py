"""Explain a decision as text: a tree read top-down, a citation on every line."""

from __future__ import annotations

import json

from rich.markup import escape
from rich.tree import Tree

from marginlex.audit.explain.tree import Node, build_tree
from marginlex.audit.trace.model import DecisionTrace


def render_text(trace: DecisionTrace) -> str:
    """The plain-text explanation (no colour, no wrapping), as written when not a TTY.

    Each line is ``text  ‹citation›`` under guides that show the tree.
    """
    lines: list[str] = []
    _plain(build_tree(trace), "", "", lines)
    return "\n".join(lines) + "\n"


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


def render_rich(trace: DecisionTrace) -> Tree:
    """The same explanation as a rich Tree, for a terminal."""
    root = build_tree(trace)
    tree = Tree(_label(root))
    _grow(tree, root)
    return tree


def _label(node: Node) -> str:
    style = _STYLE.get(node.css, "")
    text = f"[{style}]{escape(node.text)}[/]" if style else escape(node.text)
    return f"{text}  [dim]‹{escape(node.cite)}›[/]"


def _grow(tree: Tree, node: Node) -> None:
    for child in node.children:
        _grow(tree.add(_label(child)), child)


def render_json(trace: DecisionTrace) -> str:
    """The trace as indented JSON with sorted keys (the canonical content, pretty)."""
    return json.dumps(json.loads(trace.canonical()), indent=2, ensure_ascii=False) + "\n"
