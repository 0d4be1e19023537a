"""The folders of valid and invalid rulebooks: each invalid file states what it must give.

An invalid file starts with ``# expect: CODE LINE:COL`` and may add ``# message: TEXT``,
a text that must appear in the diagnostic's message or hint. Files in a sub-folder of
``invalid/`` are checked together with their siblings (rulebook ids that clash).
"""

import re
from pathlib import Path

import pytest

from marginlex.dsl import check_text
from marginlex.dsl.diagnostics import Code

DATA = Path(__file__).parents[1] / "data" / "dsl"
INVALID = sorted((DATA / "invalid").rglob("*.mlx"))
VALID = sorted((DATA / "valid").glob("*.mlx"))
EXPECT = re.compile(r"^# expect: (MLX\d{3}) (\d+):(\d+)$", re.MULTILINE)
MESSAGE = re.compile(r"^# message: (.+)$", re.MULTILINE)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_files_are_clean(path: Path) -> None:
    assert check_text(path.read_text(), str(path)) == []


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.relative_to(DATA / "invalid").as_posix())
def test_invalid_file_gives_its_stated_diagnostic(path: Path) -> None:
    text = path.read_text()
    stated = EXPECT.search(text)
    assert stated, f"{path.name} must start with '# expect: CODE LINE:COL'"
    code, line, column = stated.group(1), int(stated.group(2)), int(stated.group(3))
    found = check_text(text, str(path))
    at = [(d.code.value, d.span.line, d.span.column) for d in found]
    assert (code, line, column) in at, f"{path.name}: got {at}"
    # every diagnostic says how to fix it (a table's haircut of 150%, a missing clause, an
    # empty file and an unknown asset gave none)
    assert [d for d in found if not d.hint] == [], path.name
    wanted = MESSAGE.search(text)
    if wanted:
        match = next(d for d in found if d.code.value == code and d.span.line == line)
        assert wanted.group(1) in match.message + " " + (match.hint or "")


def test_every_code_but_file_errors_has_an_invalid_file() -> None:
    stated = {EXPECT.search(p.read_text()).group(1) for p in INVALID}  # type: ignore[union-attr]
    # MLX002's file is a name too long (a file over the size limit would be a megabyte:
    # tests/dsl/test_limits.py makes one).
    assert {c.value for c in Code} - stated == {Code.FILE_ERROR.value}


def test_every_diagnostic_the_language_makes_is_given_a_hint() -> None:
    """Read with ast: each ``error(...)``, ``warning(...)`` and ``Diagnostic(...)`` of the
    language's code passes a hint (a file that is not a file, a number that must be whole,
    a graph relation without parties gave none). A hint computed at run time (a close name)
    is held by the invalid files above."""
    import ast  # noqa: PLC0415

    root = Path(__file__).parents[2] / "dsl"
    bare = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            given = len(node.args) >= 4 or any(k.arg == "hint" for k in node.keywords)
            if name in ("error", "warning", "Diagnostic") and not given:
                bare.append(f"{path.relative_to(root.parent)}:{node.lineno}")
    assert bare == []
