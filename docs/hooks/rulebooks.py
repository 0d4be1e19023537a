"""mkdocs hook: the rendered rulebooks and the generated field table (issue 13).

Thin on purpose: the pages come from :mod:`marginlex.workbench.site`, the field table from
:mod:`marginlex.workbench.reference`.
"""

from __future__ import annotations

from typing import Any

from mkdocs.structure.files import File, Files

from marginlex.workbench.reference import fill_field_table
from marginlex.workbench.site import SitePage, rulebook_pages

_PAGES: list[SitePage] = []
OVERVIEW = "rendered-rulebooks.md"


def on_config(config: Any) -> Any:
    """Render the pages once per build and list them under "Rulebooks" in the navigation."""
    _PAGES[:] = rulebook_pages()
    section = [{"Rendered rulebooks": OVERVIEW}, *({p.title: p.path} for p in _PAGES)]
    nav = [item for item in config["nav"] if not (isinstance(item, dict) and "Rulebooks" in item)]
    config["nav"] = [*nav[:2], {"Rulebooks": section}, *nav[2:]]
    return config


def on_files(files: Files, config: Any) -> Files:
    """Add the generated pages to the site's files."""
    for page in _PAGES:
        files.append(File.generated(config, page.path, content=page.content))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Fill the generated field table of the language reference."""
    return fill_field_table(markdown)
