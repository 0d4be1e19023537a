"""SPAN inter-commodity spreads by priority (issue 14, section 2), figures by hand.

CME's SPAN forms its inter-commodity spreads in priority order, each consuming the remaining
delta of its legs; each leg is credited the rate times the risk of the contracts matched
(its scanning risk per contract of net delta). Two spreads compete for one ES contract:
the row written first takes it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _evaluate_books import make_book

from marginlex.dsl.loader import load_rulebook, shipped_dir
from marginlex.engine.book.load import Book
from marginlex.engine.evaluate import evaluate
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.plan.compile import CompileError, compile_plan

# NQ: 20 x 20,000, scan 7% (the rulebook's index_future row): 28,000 a contract.
# RTY: 50 x 2,000, scan 7%: 7,000 a contract. ES (demo): 50 x 6,000 x 7% = 21,000.
EXTRA = (
    "NQ_2609,index_future,,NDX,high_cap_broad,20,20000.00,2026-09-18,,,,,\n"
    "RTY_2609,index_future,,RUT,high_cap_broad,50,2000.00,2026-09-18,,,,,"
)
ACCOUNTS = "C1,FOX,FCM1,CFTC,futures,customer,"
POSITIONS = "C1,ES_2609,1\nC1,NQ_2609,-1\nC1,RTY_2609,-1"
SHIPPED = """  credit each leg between class groups by instrument.product
    index_future 50%
    ust_future 30%"""


def _book(tmp: Path) -> Book:
    return make_book(tmp, ACCOUNTS, POSITIONS, "L1,C1,USD,1000000,,", extra_instruments=EXTRA)


def _run(tmp: Path, book: Book, table: str) -> Evaluation:
    text = (shipped_dir() / "cftc.mlx").read_text(encoding="utf-8")
    assert SHIPPED in text
    text = text.replace(SHIPPED, table).replace("rulebook cftc ", "rulebook cftc_probe ")
    path = tmp / "cftc_probe.mlx"
    path.write_text(text, encoding="utf-8")
    return evaluate(compile_plan(load_rulebook(path), book.as_of), book)


def _by_class_group(ev: Evaluation) -> dict[str, float]:
    offsets = ev.frames["offsets"]
    return dict(zip(offsets["product_group"].astype("str"), offsets["requirement"], strict=True))


def test_the_spread_of_first_priority_takes_the_leg_both_want(tmp_path: Path) -> None:
    """Long 1 ES (risk 21,000, delta +1), short 1 NQ (28,000, -1), short 1 RTY (7,000, -1).
    Priority 1, SPX with RUT 40%: one spread, ES credited 40% x 21,000 = 8,400 -> 12,600,
    RTY 40% x 7,000 = 2,800 -> 4,200. Priority 2, SPX with NDX 50%: ES has no delta left,
    NQ keeps 28,000. Maintenance 12,600 + 4,200 + 28,000 = 44,800."""
    book = _book(tmp_path)
    table = """  credit each leg between class groups by instrument.class_group
    SPX with RUT 40%
    SPX with NDX 50%"""
    ev = _run(tmp_path, book, table)
    assert _by_class_group(ev) == pytest.approx({"SPX": 12_600.0, "RUT": 4_200.0, "NDX": 28_000.0})
    assert ev.decisions.loc[0, "maintenance"] == pytest.approx(44_800.0)


def test_the_other_priority_pairs_es_with_nq_instead(tmp_path: Path) -> None:
    """The same book, the rows swapped: SPX with NDX 50% first takes ES's contract: ES
    credited 50% x 21,000 = 10,500 -> 10,500, NQ 50% x 28,000 = 14,000 -> 14,000; RTY
    unmatched, 7,000. Maintenance 10,500 + 14,000 + 7,000 = 31,500 (not 44,800)."""
    book = _book(tmp_path)
    table = """  credit each leg between class groups by instrument.class_group
    SPX with NDX 50%
    SPX with RUT 40%"""
    ev = _run(tmp_path, book, table)
    assert _by_class_group(ev) == pytest.approx({"SPX": 10_500.0, "RUT": 7_000.0, "NDX": 14_000.0})
    assert ev.decisions.loc[0, "maintenance"] == pytest.approx(31_500.0)


def test_a_table_mixing_spreads_and_single_keys_is_refused(tmp_path: Path) -> None:
    book = _book(tmp_path)
    table = """  credit each leg between class groups by instrument.class_group
    SPX with NDX 50%
    RUT 40%"""
    with pytest.raises(CompileError, match="mixing spreads"):
        _run(tmp_path, book, table)
