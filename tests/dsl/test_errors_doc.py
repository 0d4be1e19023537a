"""Every diagnostic code is documented, with an example, in docs/errors.md."""

import re
from pathlib import Path

from marginlex.dsl import check_text
from marginlex.dsl.diagnostics import Code

ERRORS = Path(__file__).parents[2] / "docs" / "errors.md"


def test_every_code_is_documented_with_an_example() -> None:
    text = ERRORS.read_text()
    for code in Code:
        assert f"## {code.value}" in text, f"{code.value} is missing from docs/errors.md"
        section = text.split(f"## {code.value}", 1)[1].split("\n## ", 1)[0]
        assert "```" in section, f"{code.value} has no example"


def test_examples_show_what_check_prints() -> None:
    invalid = Path(__file__).parents[1] / "data" / "dsl" / "invalid"
    checked = 0
    for section in ERRORS.read_text().split("\n## ")[1:]:
        code = section.split("\n", 1)[0]
        named = re.search(r"`([\w/]+\.mlx)`:", section)
        if named is None:
            continue
        blocks = re.findall(r"```(?:text|mlx)\n(.*?)\n```", section, re.DOTALL)
        path = invalid / named.group(1)
        found = [d for d in check_text(path.read_text(), str(path)) if d.code.value == code]
        assert found, f"{path.name} no longer gives {code}"
        shown = found[0].render(path.read_text()).replace(f"{invalid}/", "")
        assert shown == blocks[1]
        checked += 1
    assert checked == len(Code) - 2  # MLX001 and MLX002 have no file to show
