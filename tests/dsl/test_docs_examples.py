"""The examples in the language reference and the tutorial parse."""

import re
from pathlib import Path

import pytest

from marginlex.dsl import check_text, parse

DOCS = Path(__file__).parents[2] / "docs"
STARTS = (
    "rulebook",
    "parameter",
    "scope",
    "eligibility",
    "segregation",
    "haircut",
    "concentration",
    "margin",
    "offset",
    "override",
    "remove",
    "extend",
)
BLOCK = re.compile(r"```mlx\n(.*?)```", re.DOTALL)


def examples() -> list[tuple[str, str]]:
    found = []
    for page in ("language.md", "tutorial.md"):
        for i, block in enumerate(BLOCK.findall((DOCS / page).read_text())):
            if block.split(" ", 1)[0] in STARTS:
                found.append((f"{page}#{i}", block))
    return found


@pytest.mark.parametrize(("where", "block"), examples(), ids=lambda x: x if "#" in x else "")
def test_example_parses(where: str, block: str) -> None:
    text = block if block.startswith("rulebook") else 'rulebook example "Example"\n' + block
    parse(text, where)


@pytest.mark.parametrize(
    ("where", "block"),
    [(w, b) for w, b in examples() if b.startswith("rulebook")],
    ids=lambda x: x if "#" in x else "",
)
def test_complete_rulebook_examples_check_clean(where: str, block: str) -> None:
    # A whole rulebook in the docs is something a reader copies and checks: it must be
    # clean, not merely parse (the variant example once removed a rule its base had
    # already removed, MLX212).
    assert [d.headline() for d in check_text(block, where)] == []


def test_there_are_examples_for_every_statement_kind() -> None:
    text = "\n".join(block for _, block in examples())
    for kind in STARTS:
        assert re.search(rf"(^|\n){kind} ", text), kind
