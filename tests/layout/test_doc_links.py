"""Every ``docs/PAGE.md`` that the code names (in a hint, an error or a docstring) exists:
a hint once sent users to ``docs/stress.md``, a page that never was."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
SOURCES = ("marginlex", "engine", "audit", "dsl", "rulebooks")
NAMED = re.compile(r"docs/([A-Za-z0-9_-]+\.md)")


def test_every_docs_page_the_code_names_exists() -> None:
    named: dict[str, set[str]] = {}
    for top in SOURCES:
        for path in (ROOT / top).rglob("*"):
            if path.suffix in {".py", ".mlx", ".j2", ".toml"} and path.is_file():
                for page in NAMED.findall(path.read_text(encoding="utf-8", errors="replace")):
                    named.setdefault(page, set()).add(str(path.relative_to(ROOT)))
    assert "book-format.md" in named  # the scan finds what it looks for
    missing = {
        page: sorted(where) for page, where in named.items() if not (ROOT / "docs" / page).is_file()
    }
    assert missing == {}
