"""``check_resolution(..., solver=False)``: every pass but the SMT conflict pass, the first
answer of the language server while a text is typed; with the solver, what ``check`` says."""

from __future__ import annotations

from pathlib import Path

import pytest

from marginlex.dsl import Library, check_text, parse
from marginlex.dsl.check.runner import check_resolution

INVALID = Path(__file__).parents[1] / "data" / "dsl" / "invalid"
SOLVER_CODES = {f"MLX6{n:02d}" for n in range(11)}


@pytest.mark.parametrize(
    "name", ["scope_overlap.mlx", "row_gap.mlx", "unused_accept.mlx", "misspelt_field.mlx"]
)
def test_without_the_solver_only_its_findings_are_missing(name: str) -> None:
    path = INVALID / name
    text = path.read_text("utf-8")
    book = parse(text, str(path))
    _, quick = check_resolution(book, Library(path.parent), solver=False)
    _, full = check_resolution(book, Library(path.parent))
    assert full == check_text(text, str(path))
    assert quick == [d for d in full if d.code.value not in SOLVER_CODES]
    if name != "misspelt_field.mlx":
        assert {d.code.value for d in full} & SOLVER_CODES  # the file has a finding to lose
