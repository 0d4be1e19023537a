"""Rulebooks rendered as documents: ``marginlex render`` and the pages of the docs site.

Takes a resolved rulebook (:mod:`marginlex.dsl`) and, optionally, the rulebook tests that ran
(:mod:`marginlex.engine.variants`), builds one typed document (:mod:`.document`) and lays it
out as HTML or Markdown with the Jinja2 templates in ``templates/``. Holds no parser and no
checker of its own. Must not be imported by ``dsl``, ``engine`` or ``audit``.
"""

from __future__ import annotations

from pathlib import Path

from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.workbench.render.anchors import statement_anchor
from marginlex.workbench.render.build import build_document
from marginlex.workbench.render.cases import CaseIndex
from marginlex.workbench.render.output import Format, render_document


def render_rulebook(
    rulebook: ResolvedRulebook,
    fmt: Format = Format.HTML,
    tests: CaseIndex | None = None,
    links: dict[str, str] | None = None,
) -> str:
    """One rulebook as a page: build its document, lay it out.

    >>> from marginlex.dsl import load_rulebook
    >>> page = render_rulebook(load_rulebook("sec"), Format.MD)
    >>> '<a id="rule-sec_treasuries"></a>' in page
    True
    """
    return render_document(build_document(rulebook, tests), fmt, links)


def collect_tests(
    paths: list[Path] | None = None, rulebook_ids: set[str] | None = None
) -> CaseIndex:
    """Run the rulebook tests under ``paths`` (default: the shipped ones) that name one of
    ``rulebook_ids`` and index the cases covering each statement
    (:func:`.covering.collect_tests`; the engine is imported only here)."""
    from marginlex.workbench.render import covering  # noqa: PLC0415

    return covering.collect_tests(paths, rulebook_ids)


def tests_near(path: Path | None) -> list[Path]:
    """Where ``render`` looks for rulebook tests: the shipped ones, and those beside a file."""
    from marginlex.dsl.loader import shipped_dir  # noqa: PLC0415 - one call, kept local

    folders = [shipped_dir()]
    if path is not None and path.is_file() and path.parent.resolve() != shipped_dir().resolve():
        folders.append(path.parent)
    return folders


__all__ = [
    "CaseIndex",
    "Format",
    "build_document",
    "collect_tests",
    "render_document",
    "render_rulebook",
    "statement_anchor",
    "tests_near",
]
