"""The stable anchor of a statement in a rendered rulebook, for links from anywhere.

A trace line, the console or another page links to a statement of a rendered rulebook as
``<page>#rule-<id>`` (``rulebooks/sec.md#rule-sec_treasuries`` on the docs site). The scheme
is fixed here and documented in ``docs/rendered-rulebooks.md``; it imports nothing heavy, so
that any surface can use it.
"""

from __future__ import annotations

import re

PREFIX = "rule-"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def statement_anchor(rule_id: str, version: int = 1) -> str:
    """The anchor (HTML ``id``) of a statement: ``rule-<id>``; dated versions after the first
    are ``rule-<id>-v2``, ``rule-<id>-v3`` in rulebook order.

    Rule ids are names of the language (letters, digits, ``_``), so the anchor is the id
    itself; any other character (never produced by the parser) becomes ``-``.

    >>> statement_anchor("sec_treasuries")
    'rule-sec_treasuries'
    >>> statement_anchor("cftc_span", version=2)
    'rule-cftc_span-v2'
    """
    base = PREFIX + _UNSAFE.sub("-", rule_id)
    return base if version == 1 else f"{base}-v{version}"
