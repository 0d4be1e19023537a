"""The pages the docs site generates at build time: every shipped rulebook and variant.

``docs/hooks/rulebooks.py`` (a mkdocs hook) asks :func:`rulebook_pages` for the pages and
adds them, under "Rulebooks" in the site's navigation; the pages are the Markdown of
``marginlex render`` with links between a variant and its bases. The rulebook tests shipped
beside them run once for all pages (set ``MARGINLEX_DOCS_TESTS=0`` to build without them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from marginlex.dsl.loader import load_rulebook, shipped_dir
from marginlex.workbench.render import Format, collect_tests, render_rulebook

FOLDER = "rulebooks"
"""The site folder of the generated pages: ``rulebooks/<id>.md``."""


@dataclass(frozen=True)
class SitePage:
    """One generated page: where it goes in the site, its title in the navigation, its text."""

    path: str
    title: str
    content: str


def shipped_rulebook_files() -> list[Path]:
    """Every shipped ``.mlx`` file: the rulebooks first, then the variants."""
    root = shipped_dir()
    return sorted(root.glob("*.mlx")) + sorted(p for p in root.rglob("*.mlx") if p.parent != root)


def rulebook_pages(run_tests: bool | None = None) -> list[SitePage]:
    """The page of every shipped rulebook and variant, in :func:`shipped_rulebook_files` order.

    Args:
        run_tests: run the shipped rulebook tests to show which cover each statement
            (default: unless ``MARGINLEX_DOCS_TESTS=0``).
    """
    if run_tests is None:
        run_tests = os.environ.get("MARGINLEX_DOCS_TESTS", "1") != "0"
    rulebooks = [load_rulebook(path) for path in shipped_rulebook_files()]
    ids = {rb.id for rb in rulebooks}
    tests = collect_tests(None, ids) if run_tests else None
    links = {rb.id: f"{rb.id}.md" for rb in rulebooks}
    return [
        SitePage(
            path=f"{FOLDER}/{rb.id}.md",
            title=rb.id,
            content=render_rulebook(rb, Format.MD, tests, links),
        )
        for rb in rulebooks
    ]
