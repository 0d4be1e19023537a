"""The explain tree as the console shows it: each line's rule id, evidence and citation apart,
so that the rule links to its rulebook page and the evidence shows as a badge.

The tree itself is :func:`marginlex.audit.explain.tree.build_tree`'s; this only reads the
citation tag it writes (``rule_id [V]: citation``) back into its parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from marginlex.audit.explain.text import render_text
from marginlex.audit.explain.tree import Node, build_tree
from marginlex.audit.trace.model import DecisionTrace

_TAG = re.compile(r"^(?P<rule>[^\s\[\]:]+) \[(?P<evidence>[VSI])\]: (?P<citation>.*)$", re.DOTALL)
EVIDENCE = {"V": "verified", "S": "secondary", "I": "illustrative"}


@dataclass
class Line:
    """One line of the explanation with its citation in parts."""

    text: str
    css: str
    rule_id: str | None
    evidence: str | None
    citation: str
    children: list[Line] = field(default_factory=list)


def line_of(node: Node) -> Line:
    """A tree node with its citation tag split.

    >>> line_of(Node("Class group SPX", "pm_rule [V]: FINRA 4210(g)")).rule_id
    'pm_rule'
    >>> line_of(Node("Figures", "book format conventions")).citation
    'book format conventions'
    """
    tag = _TAG.match(node.cite)
    if tag is None:
        return Line(node.text, node.css, None, None, node.cite, [line_of(c) for c in node.children])
    return Line(
        node.text,
        node.css,
        tag["rule"],
        EVIDENCE[tag["evidence"]],
        tag["citation"],
        [line_of(c) for c in node.children],
    )


def explain_lines(trace: DecisionTrace) -> Line:
    """The whole explanation of a decision, as the console shows it."""
    return line_of(build_tree(trace))


def text_lines(trace: DecisionTrace) -> list[str]:
    """The explanation as plain lines (what two decisions are compared on)."""
    return render_text(trace).splitlines()


def first_parting(a: list[str], b: list[str]) -> int | None:
    """The index of the first line where two explanations differ, or None if none does.

    >>> first_parting(["x", "y"], ["x", "z"]), first_parting(["x"], ["x"])
    (1, None)
    """
    for index, (left, right) in enumerate(zip(a, b, strict=False)):
        if left != right:
            return index
    return None if len(a) == len(b) else min(len(a), len(b))


def flat_lines(trace: DecisionTrace) -> list[str]:
    """The explanation's lines below its heading, indented by depth, without citations, and
    without the rulebook line: what two rulebooks' decisions on one margin set compare."""
    root = build_tree(trace)
    out: list[str] = []

    def walk(node: Node, depth: int) -> None:
        out.append("  " * depth + node.text)
        for child in node.children:
            walk(child, depth + 1)

    for child in root.children[1:]:  # the first child names the rulebook: always different
        walk(child, 0)
    return out
