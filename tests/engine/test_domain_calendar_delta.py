"""Options in SPAN calendar spreads count by delta (issue 14, section 2), by hand.

CME's intra-commodity spread charge uses delta-weighted positions: ``calendar spreads by
delta`` counts an option as quantity x delta at its underlying future's expiry; without
the words every selected position counts its contracts (rulebooks recorded before them).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from _evaluate_books import make_book, norm_cdf

from marginlex.dsl.loader import load_rulebook, shipped_dir
from marginlex.engine.book.load import Book
from marginlex.engine.evaluate import evaluate
from marginlex.engine.plan.compile import compile_plan

# ESZ: the December future (Dec 18, 171 days from Jun 30: the far tier); ESZ_C6050: a call
# on it, strike 6,050, implied volatility 16%, both in class group SPX with the demo's
# September ES (80 days: up to 3 months).
EXTRA = (
    "ESZ,index_future,,SPX,high_cap_broad,50,6050.00,2026-12-18,,,,0.07,\n"
    "ESZ_C6050,index_option,ESZ,SPX,high_cap_broad,50,150.00,2026-12-18,call,6050,0.16,,"
)
CALENDAR = "    calendar spreads by delta\n"


def _maintenance(tmp: Path, book: Book, calendar: str) -> float:
    text = (shipped_dir() / "cftc.mlx").read_text(encoding="utf-8")
    assert CALENDAR in text
    text = text.replace(CALENDAR, calendar).replace("rulebook cftc ", "rulebook cftc_probe ")
    folder = tmp / ("by_delta" if "by delta" in calendar else "by_contracts")
    folder.mkdir()
    path = folder / "cftc_probe.mlx"
    path.write_text(text, encoding="utf-8")
    ev = evaluate(compile_plan(load_rulebook(path), book.as_of), book)
    return float(ev.decisions.loc[0, "maintenance"])


def test_a_short_call_on_the_december_future_spreads_by_its_delta(tmp_path: Path) -> None:
    """Long 1 ES (Sep, near tier), short 1 ESZ_C6050 (on the Dec future, far tier).
    Delta: d1 = (ln(6,050 / 6,050) + 0.16^2 / 2 x t) / (0.16 sqrt t), t = 171 / 365:
    d1 = 0.08 x sqrt(0.468493) = 0.054758, N(d1) = 0.521834; short: -0.521834.
    By delta: up to tier 1 min(1, 0) = 0; up to tier 2 min(1, 0.521834): 0.521834 spreads
    in the far tier, 0.521834 x 200 = 104.37. By contracts: 1 spread, 200. The scan is the
    same in both, so the maintenance differs by 200 - 104.37 = 95.63."""
    book = make_book(
        tmp_path,
        "C1,FOX,FCM1,CFTC,futures,customer,",
        "C1,ES_2609,1\nC1,ESZ_C6050,-1",
        "L1,C1,USD,1000000,,",
        extra_instruments=EXTRA,
    )
    t = 171 / 365
    delta = norm_cdf(0.5 * 0.16 * math.sqrt(t))
    assert delta == pytest.approx(0.521834, abs=1e-6)
    by_delta = _maintenance(tmp_path, book, CALENDAR)
    by_contracts = _maintenance(tmp_path, book, "    calendar spreads\n")
    assert by_contracts - by_delta == pytest.approx(200 - 200 * delta, abs=0.01)
    assert by_contracts - by_delta == pytest.approx(95.63, abs=0.01)
