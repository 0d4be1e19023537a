"""The docs site's generated pages: one per shipped rulebook and variant, in the navigation."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from marginlex.workbench.site import SitePage, rulebook_pages, shipped_rulebook_files

ROOT = Path(__file__).parents[2]


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "rulebooks_hook", ROOT / "docs/hooks/rulebooks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pages() -> list[SitePage]:
    return rulebook_pages(run_tests=False)  # the tests' coverage is tested in test_render


def test_a_page_per_shipped_rulebook_and_variant(pages: list[SitePage]) -> None:
    assert [p.path for p in pages] == [
        "rulebooks/cftc.md",
        "rulebooks/harmonized.md",
        "rulebooks/sec.md",
        "rulebooks/harmonized_85pct_offsets.md",
        "rulebooks/harmonized_no_digital_collateral.md",
    ]
    assert len(shipped_rulebook_files()) == len(pages)
    variant = next(p for p in pages if p.title == "harmonized_85pct_offsets")
    assert "**Extends:** [`harmonized`](harmonized.md)" in variant.content
    assert '<a id="changes"></a>' in variant.content


def test_hook_lists_the_pages_under_rulebooks(pages: list[SitePage]) -> None:
    hook = _hook()
    hook.rulebook_pages = lambda: pages
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert "docs/hooks/rulebooks.py" in config["hooks"]
    nav = hook.on_config(config)["nav"]
    section = next(
        item["Rulebooks"] for item in nav if isinstance(item, dict) and "Rulebooks" in item
    )
    assert section[0] == {"Rendered rulebooks": "rendered-rulebooks.md"}
    assert {"sec": "rulebooks/sec.md"} in section and len(section) == 6
    assert hook.on_config(config)["nav"].count({"Rulebooks": section}) == 1
