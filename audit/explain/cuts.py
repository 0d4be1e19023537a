"""Cuts of the explanation tree: to a depth or sections, and each citation stated once."""

from __future__ import annotations

import re
from dataclasses import replace

from marginlex.audit.explain.tree import Node

_RULE_TAG = re.compile(r"[\w.:-]+ \[[A-Z]\]")  # ``sec_portfolio_margin [V]``


def pruned(root: Node, depth: int | None = None, section: str | None = None) -> Node:
    """The tree cut to ``depth`` levels under the decision, and to the sections named.

    ``section`` keeps the decision's lines whose text starts with it (case-insensitive:
    ``requirement``, ``eligibility``, ``class group``...), with all lines under them.
    """

    def cut(node: Node, left: int | None) -> Node:
        if left == 0:
            return replace(node, children=[])
        below = None if left is None else left - 1
        return replace(node, children=[cut(child, below) for child in node.children])

    top = root.children
    if section is not None:
        top = [c for c in top if c.text.casefold().startswith(section.casefold())]
    return cut(replace(root, children=top), depth)


def cited_once(root: Node) -> Node:
    """The tree with each citation stated in full once, top-down; after that, the rule alone.

    A cite ``rule [tag]: citation`` met again is shortened to ``rule [tag]``, unless the
    tree cites that ``rule [tag]`` with another citation too (a requirement an extension
    added cites the house policy under the statement's rule: the short form would not say
    which); any other cite (``recorded run inputs``, a figure's several rules) is kept.
    """
    seen: set[str] = set()
    citations: dict[str, set[str]] = {}

    def gather(node: Node) -> None:
        rule, sep, _ = node.cite.partition(": ")
        if sep:
            citations.setdefault(rule, set()).add(node.cite)
        for child in node.children:
            gather(child)

    gather(root)

    def walk(node: Node) -> Node:
        cite = node.cite
        rule, sep, _ = cite.partition(": ")
        if sep and cite in seen and _RULE_TAG.fullmatch(rule) and len(citations[rule]) == 1:
            cite = rule
        seen.add(node.cite)
        return replace(node, cite=cite, children=[walk(child) for child in node.children])

    return walk(root)
