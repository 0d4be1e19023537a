"""SPAN tiers of months are tiers of contract months (CME's SPAN file gives each tier a
starting and an ending contract month, CCYYMM: the Client Systems Wiki's "Type 3 -
Expanded" record), not a count of days.

`up to 3 months` (a calendar spread tier) and `expiring within 3 months` (an inter-commodity
leg) hold every contract expiring in the third calendar month after the as-of date's or
before it; they were compared with time to expiry in days / 365 (91.25 days). Figures by
hand; every future is scanned at the cftc rulebook's 7% index_future range.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _evaluate_books import decision, make_book

from marginlex.dsl.loader import load_rulebook, shipped_dir
from marginlex.engine.book.load import Book, load_book
from marginlex.engine.evaluate import evaluate
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.plan.compile import compile_plan

# ES_2609 (demo): 50 x 6,000 x 7% = 21,000 a contract; ES_2608: 50 x 5,990 x 7% = 20,965;
# ES_2610 as ES_2609, expiring 1 October; NQ_2612: 20 x 20,000 x 7% = 28,000.
EXTRA = (
    "ES_2608,index_future,,SPX,high_cap_broad,50,5990.00,2026-08-21,,,,0.07,\n"
    "ES_2610,index_future,,SPX,high_cap_broad,50,6000.00,2026-10-01,,,,0.07,\n"
    "NQ_2612,index_future,,NDX,high_cap_broad,20,20000.00,2026-12-18,,,,,"
)
ACCOUNTS = "C1,FOX,FCM1,CFTC,futures,customer,"
MID_JUNE = "2026-06-15"


def _book(tmp: Path, positions: str, as_of: str) -> Book:
    make_book(tmp, ACCOUNTS, positions, "L1,C1,USD,1000000,,", extra_instruments=EXTRA)
    folder = tmp / "book"
    meta = json.loads((folder / "book.json").read_text(encoding="utf-8"))
    (folder / "book.json").write_text(json.dumps({**meta, "as_of": as_of}), encoding="utf-8")
    return load_book(folder)


def _run(book: Book, rulebook: str = "cftc") -> Evaluation:
    return evaluate(compile_plan(load_rulebook(rulebook), book.as_of), book)


@pytest.mark.parametrize(
    ("positions", "as_of", "maintenance"),
    [
        # as of 15 June, long 1 Sep 18 (95 days, over 91.25) against short 1 Aug 21: the scan
        # nets 21,000 - 20,965 = 35 at -1 range; September is the third contract month after
        # June, so the spread is in the near tier: 35 + 100 = 135 (was 35 + 200 = 235)
        ("C1,ES_2609,1\nC1,ES_2608,-1", MID_JUNE, 135.0),
        # an October expiry is the fourth month: the far tier, 35 + 200 = 235 (1 October is
        # 108 days out, the tier's end the last day of September, 107)
        ("C1,ES_2610,1\nC1,ES_2608,-1", MID_JUNE, 235.0),
        # as of 30 June the third month ends on 30 September: Sep 18 near, as before, 135
        ("C1,ES_2609,1\nC1,ES_2608,-1", "2026-06-30", 135.0),
    ],
)
def test_a_calendar_tier_counts_contract_months(
    tmp_path: Path, positions: str, as_of: str, maintenance: float
) -> None:
    ev = _run(_book(tmp_path, positions, as_of))
    assert float(decision(ev, "ms:C1")["maintenance"]) == pytest.approx(maintenance)


SHIPPED = """  credit each leg between class groups by instrument.product
    index_future 50%
    ust_future 30%"""


def test_an_inter_commodity_leg_tier_counts_contract_months(tmp_path: Path) -> None:
    """As of 15 June, long 1 ES Sep 18 (SPX, 21,000) and short 1 NQ Dec 18 (NDX, 28,000),
    `SPX expiring within 3 months with NDX expiring after 3 months 50%`: September is in
    the first leg's tier, so 1 spread, each leg credited 50% of the contract it gives at its
    own weighted price risk: ES 21,000 - 10,500 = 10,500, NQ 28,000 - 14,000 = 14,000;
    24,500 (compared in days, 95 > 91.25: no spread, 21,000 + 28,000 = 49,000)."""
    text = (shipped_dir() / "cftc.mlx").read_text(encoding="utf-8")
    assert SHIPPED in text
    table = """  credit each leg between class groups by instrument.class_group
    SPX expiring within 3 months with NDX expiring after 3 months 50%"""
    text = text.replace(SHIPPED, table).replace("rulebook cftc ", "rulebook cftc_probe ")
    path = tmp_path / "cftc_probe.mlx"
    path.write_text(text, encoding="utf-8")
    book = _book(tmp_path, "C1,ES_2609,1\nC1,NQ_2612,-1", MID_JUNE)
    ev = evaluate(compile_plan(load_rulebook(path), book.as_of), book)
    assert float(decision(ev, "ms:C1")["maintenance"]) == pytest.approx(24_500.0)
