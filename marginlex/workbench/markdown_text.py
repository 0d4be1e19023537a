"""Text of a rulebook shown inside Markdown as written, never as markup: one escaping for
the rendered rulebook (:mod:`.render`) and the language server's hover (:mod:`.lsp`).
Imports nothing but the standard library (the language server starts without Jinja2)."""

from __future__ import annotations

import html
import re

_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}|#+!])")


def md_text(text: str) -> str:
    """Plain text that Markdown shows as written, never as markup or HTML.

    >>> md_text('<script>alert("x")</script> *a*')
    '&lt;script&gt;alert("x")&lt;/script&gt; \\\\*a\\\\*'
    """
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))
