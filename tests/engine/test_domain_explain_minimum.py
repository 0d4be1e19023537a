"""Explain says when a long option's per-contract minimum was capped at its market value
(FINRA Rule 4210(g)(2)(F): $0.375 x multiplier a contract, not above market value for a
long option; docs/domain-decisions.md row 3 and row 39). As of 2026-06-30, XYZ at 100."""

from __future__ import annotations

from pathlib import Path

from _evaluate_books import make_book
from typer.testing import CliRunner

from marginlex.cli import app

XYZ_C150 = "XYZ_C150_2609,equity_option,XYZ,XYZ,,100,0.10,2026-09-18,call,150,0.30,,"
PM = "P1,ALICE,BD1,SEC,portfolio_margin,customer,portfolio_margin"


def _class_group_line(tmp_path: Path, positions: str) -> str:
    make_book(tmp_path, PM, positions, "L1,P1,USD,200000,,", XYZ_C150)
    result = CliRunner().invoke(
        app, ["explain", "ms:P1", "-r", "sec", "--book", str(tmp_path / "book")]
    )
    assert result.exit_code == 0, result.output
    return next(x for x in result.stdout.splitlines() if "Class group XYZ" in x)


def test_the_capped_minimum_is_said(tmp_path: Path) -> None:
    """Long 10 XYZ 150 calls at 0.10 (market value 10 x 100 x 0.10 = 100) and short 1 XYZ
    100 call (5.60). Minimum: the short 0.375 x 100 x 1 = 37.50, the long 0.375 x 100 x 10
    = 375.00 capped at its 100.00: 137.50. The line names the capped long and both figures."""
    line = _class_group_line(tmp_path, "P1,XYZ_C150_2609,10\nP1,XYZ_C100_2609,-1")
    assert (
        "minimum 137.50; the long XYZ_C150_2609's capped at its market value 100.00, not "
        "0.375 USD x 100 x 10 = 375.00)" in line
    )


def test_an_uncapped_minimum_says_nothing_more(tmp_path: Path) -> None:
    """Long 1 XYZ 100 call at 5.60: 0.375 x 100 = 37.50, below its 560.00: not capped."""
    line = _class_group_line(tmp_path, "P1,XYZ_C100_2609,1")
    assert "capped" not in line
    assert "minimum 37.50)" in line
