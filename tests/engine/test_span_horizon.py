"""A SPAN scan's ``coverage C over L`` scales every price scan range by
sqrt(L / 1 day) x z(C) / z(99%) (issue 14, section 2); 99% over 1 day leaves figures as they are.

Hand-computed on the CFTC rulebook tests' book (rulebooks/tests/cftc.test.toml), as of
2026-06-30: C_ANN holds one ES long, 6,000 x 50 = 300,000 with its own scan range 7%, so at
99% over 1 day its scanning risk is 7% x 300,000 = 21,000 (the full down move; the extreme
move counts 33% x 3 x 21,000 = 20,790, less).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest

from marginlex.dsl.loader import load_rulebook, shipped_dir
from marginlex.engine.evaluate import evaluate_run
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.variants.rulebook_tests import SUFFIX, build_book, read_test_file

AS_OF = dt.date(2026, 6, 30)
CLAUSE = "coverage span_coverage over span_liquidation"


def _maintenance(tmp_path: Path, clause: str, account: str = "C_ANN") -> float:
    text = (shipped_dir() / "cftc.mlx").read_text(encoding="utf-8")
    text = text.replace(CLAUSE, clause, 1).replace('rulebook cftc "', 'rulebook horizon "', 1)
    path = tmp_path / "horizon.mlx"
    path.write_text(text, encoding="utf-8")
    plan = compile_plan(load_rulebook(path), AS_OF)  # type: ignore[arg-type]
    tests = shipped_dir() / "tests" / f"cftc{SUFFIX}"
    book = build_book(read_test_file(tests), tests)
    decisions = evaluate_run(plan, book, AS_OF)[0].decisions
    return float(decisions.loc[decisions["account_ids"] == account, "maintenance"].iloc[0])


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        # 99% over 1 day: the scan range as stated, 7% x 300,000.
        ("coverage 99% over 1 day", 21_000.0),
        # 2 days at 99%: 7% x sqrt(2) = 9.899495% of 300,000 = 29,698.48.
        ("coverage 99% over 2 days", 21_000.0 * math.sqrt(2)),
        # 99.5% over 1 day: z(99.5%) / z(99%) = 2.5758293 / 2.3263479 = 1.1072417,
        # 7% x 1.1072417 x 300,000 = 23,252.08.
        ("coverage 99.5% over 1 day", 23_252.075),
        # 5 days at 99.5%: 21,000 x sqrt(5) x 1.1072417 = 21,000 x 2.4758676 = 51,993.22.
        ("coverage 99.5% over 5 days", 21_000.0 * math.sqrt(5) * 1.10724167),
    ],
)
def test_the_horizon_scales_the_scan_range(tmp_path: Path, clause: str, expected: float) -> None:
    assert _maintenance(tmp_path, clause) == pytest.approx(expected, rel=1e-6)


def test_the_shipped_horizon_leaves_the_figures_as_they_are(tmp_path: Path) -> None:
    assert _maintenance(tmp_path, CLAUSE) == 21_000.0
