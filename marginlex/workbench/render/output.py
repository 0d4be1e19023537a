"""The document laid out as HTML or Markdown, with Jinja2 templates beside this module.

Every text of the rulebook is escaped: HTML by Jinja2's autoescape; Markdown by
:func:`~marginlex.workbench.markdown_text.md_text` (HTML special characters as entities,
Markdown punctuation with a backslash), :func:`md_code` (a code span the text cannot close)
and :func:`md_fence` (a code fence longer than any run of backticks in the block). The
Markdown page is what the docs site shows; raw HTML in it is only the page's own (anchors,
badges, ``<details>``).
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cache
from pathlib import Path

import jinja2

from marginlex.printable import visible
from marginlex.workbench.markdown_text import md_text
from marginlex.workbench.render.anchors import statement_anchor
from marginlex.workbench.render.document import RulebookDocument

_TEMPLATES = Path(__file__).parent / "templates"


class Format(StrEnum):
    """The output formats of ``marginlex render``."""

    HTML = "html"
    MD = "md"


def md_code(text: str) -> str:
    """An inline code span holding ``text`` exactly (code spans show HTML as text).

    >>> md_code("a `b` c")
    '`` a `b` c ``'
    """
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if longest or text.startswith(" ") or text.endswith(" ") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def md_fence(text: str) -> str:
    """The backtick fence a code block of ``text`` needs (at least three)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        finalize=visible,  # a test file's names may hold control or bidirectional characters
    )
    env.filters.update(md=md_text, code=md_code, fence=md_fence, anchor=statement_anchor)
    return env


def render_document(
    document: RulebookDocument, fmt: Format = Format.HTML, links: dict[str, str] | None = None
) -> str:
    """The document as a standalone HTML page or a Markdown page.

    Args:
        document: the document (:func:`~.build.build_document`).
        fmt: HTML or Markdown.
        links: by rulebook id, where that rulebook's page is (the docs site passes the
            pages it generates, so that ``extends`` and a diff link to the base's page).
    """
    template = _environment().get_template(f"rulebook.{fmt.value}.j2")
    return template.render(doc=document, links=links or {})
