"""SPAN inter-commodity spreads with leg ratios and tiers of months (issue 14, section 2).

CME's SPAN describes each leg of an inter-commodity spread by its combined commodity, its
"Tier/Period" ("one or more contracts that may be grouped for spreading purposes") and its
"Ratio" ("the number of contracts for each side required to form the spread"; CME Client
Systems Wiki, "Inter Spreads"). Figures by hand; every future here is scanned at the cftc
rulebook's 7% index_future range, as of 2026-06-30.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from _evaluate_books import make_book

from marginlex.dsl.loader import load_rulebook, shipped_dir
from marginlex.engine.book.load import Book
from marginlex.engine.evaluate import evaluate, evaluate_run
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.phases.reuse import phases_to_recompute, reuse_from
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.plan.steps import Phase

# ES (demo): 50 x 6,000 x 7% = 21,000 a contract; NQ: 20 x 20,000 x 7% = 28,000;
# RTY: 50 x 2,000 x 7% = 7,000. September (80 days) is within 3 months, December (171 days)
# after them.
EXTRA = (
    "ES_2612,index_future,,SPX,high_cap_broad,50,6000.00,2026-12-18,,,,,\n"
    "NQ_2609,index_future,,NDX,high_cap_broad,20,20000.00,2026-09-18,,,,,\n"
    "NQ_2612,index_future,,NDX,high_cap_broad,20,20000.00,2026-12-18,,,,,\n"
    "RTY_2609,index_future,,RUT,high_cap_broad,50,2000.00,2026-09-18,,,,,"
)
ACCOUNTS = "C1,FOX,FCM1,CFTC,futures,customer,"
SHIPPED = """  credit each leg between class groups by instrument.product
    index_future 50%
    ust_future 30%"""


def _run(tmp: Path, positions: str, table: str, as_of: dt.date | None = None) -> Evaluation:
    book: Book = make_book(tmp, ACCOUNTS, positions, "L1,C1,USD,1000000,,", extra_instruments=EXTRA)
    text = (shipped_dir() / "cftc.mlx").read_text(encoding="utf-8")
    assert SHIPPED in text
    text = text.replace(SHIPPED, table).replace("rulebook cftc ", "rulebook cftc_probe ")
    path = tmp / "cftc_probe.mlx"
    path.write_text(text, encoding="utf-8")
    return evaluate(compile_plan(load_rulebook(path), as_of or book.as_of), book)


def _by_class_group(ev: Evaluation) -> dict[str, float]:
    offsets = ev.frames["offsets"]
    return dict(zip(offsets["product_group"].astype("str"), offsets["requirement"], strict=True))


RATIO_BOOK = "C1,RTY_2609,2\nC1,NQ_2609,-1"


def test_a_leg_ratio_takes_two_contracts_of_one_leg_per_spread(tmp_path: Path) -> None:
    """Long 2 RTY (risk 14,000, delta +2, w 7,000), short 1 NQ (28,000, -1). `2 RUT with 1
    NDX 50%`: n = min(2 / 2, 1 / 1) = 1 spread, RTY gives 2 contracts: credited 50% x 2 x
    7,000 = 7,000 -> 7,000; NQ gives 1: 50% x 28,000 = 14,000 -> 14,000. Maintenance 21,000."""
    table = """  credit each leg between class groups by instrument.class_group
    2 RUT with 1 NDX 50%"""
    ev = _run(tmp_path, RATIO_BOOK, table)
    assert _by_class_group(ev) == pytest.approx({"RUT": 7_000.0, "NDX": 14_000.0})
    assert ev.decisions.loc[0, "maintenance"] == pytest.approx(21_000.0)


def test_one_for_one_the_same_book_matches_one_contract_of_each(tmp_path: Path) -> None:
    """`RUT with NDX 50%`: n = min(2, 1) = 1, RTY gives 1 contract: 14,000 - 50% x 7,000 =
    10,500; NQ 14,000. Maintenance 24,500: the ratio credited 3,500 more."""
    table = """  credit each leg between class groups by instrument.class_group
    RUT with NDX 50%"""
    ev = _run(tmp_path, RATIO_BOOK, table)
    assert _by_class_group(ev) == pytest.approx({"RUT": 10_500.0, "NDX": 14_000.0})
    assert ev.decisions.loc[0, "maintenance"] == pytest.approx(24_500.0)


TIER_BOOK = "C1,ES_2609,2\nC1,ES_2612,1\nC1,NQ_2609,-2\nC1,NQ_2612,-1"


def test_tiered_legs_pair_only_the_months_they_name(tmp_path: Path) -> None:
    """SPX: long 2 September, 1 December: risk 63,000, net delta +3, w 21,000. NDX: short 2
    September, 1 December: 84,000, -3, w 28,000 (all long or all short: no calendar spread).
    Row 1, SPX within 3 months (+2) with NDX after 3 months (-1) at 50%: 1 spread, SPX
    credited 50% x 21,000 = 10,500, NDX 50% x 28,000 = 14,000. Row 2, SPX after 3 months
    (+1) with NDX within 3 months (-2) at 40%: 1 spread, SPX 8,400, NDX 11,200. The near
    months left (+1, -1) have no row. SPX 63,000 - 18,900 = 44,100; NDX 84,000 - 25,200 =
    58,800; maintenance 102,900."""
    table = """  credit each leg between class groups by instrument.class_group
    SPX expiring within 3 months with NDX expiring after 3 months 50%
    SPX expiring after 3 months with NDX expiring within 3 months 40%"""
    ev = _run(tmp_path, TIER_BOOK, table)
    assert _by_class_group(ev) == pytest.approx({"SPX": 44_100.0, "NDX": 58_800.0})
    assert ev.decisions.loc[0, "maintenance"] == pytest.approx(102_900.0)


def test_without_tiers_every_month_spreads(tmp_path: Path) -> None:
    """`SPX with NDX 50%`: 3 spreads, SPX 63,000 - 31,500 = 31,500, NDX 84,000 - 42,000 =
    42,000; maintenance 73,500."""
    table = """  credit each leg between class groups by instrument.class_group
    SPX with NDX 50%"""
    ev = _run(tmp_path, TIER_BOOK, table)
    assert _by_class_group(ev) == pytest.approx({"SPX": 31_500.0, "NDX": 42_000.0})
    assert ev.decisions.loc[0, "maintenance"] == pytest.approx(73_500.0)


def test_a_tier_bound_is_inclusive_at_its_end(tmp_path: Path) -> None:
    """`within 80 days` holds September (80 days to expiry, as of 2026-06-30): the first row
    pairs it as `within 3 months` did; `after 80 days` holds December only."""
    table = """  credit each leg between class groups by instrument.class_group
    SPX expiring within 80 days with NDX expiring after 80 days 50%
    SPX expiring after 80 days with NDX expiring within 80 days 40%"""
    ev = _run(tmp_path, TIER_BOOK, table)
    assert _by_class_group(ev) == pytest.approx({"SPX": 44_100.0, "NDX": 58_800.0})


def test_a_leg_tier_counts_contract_months_from_the_as_of_month(tmp_path: Path) -> None:
    """As of 2026-06-15, long 1 ES September (2026-09-18: 15 + 31 + 31 + 18 = 95 days,
    95 / 365 = 0.2603 > 0.25, but the third contract month after June), short 1 NQ
    December (the sixth). `SPX expiring within 3 months with NDX expiring after 3 months
    50%`: September is within 3 months (decision 49), 1 spread: SPX 21,000 - 10,500 =
    10,500, NDX 28,000 - 14,000 = 14,000; maintenance 24,500 (counted in days, 95 days was
    past 3 months: no spread, 21,000 + 28,000 = 49,000)."""
    table = """  credit each leg between class groups by instrument.class_group
    SPX expiring within 3 months with NDX expiring after 3 months 50%"""
    ev = _run(tmp_path, "C1,ES_2609,1\nC1,NQ_2612,-1", table, dt.date(2026, 6, 15))
    assert _by_class_group(ev) == pytest.approx({"SPX": 10_500.0, "NDX": 14_000.0})
    assert ev.decisions.loc[0, "maintenance"] == pytest.approx(24_500.0)


def test_a_variant_adding_tiers_recomputes_the_scan_it_reads(tmp_path: Path) -> None:
    """The attribution walk reuses phases whose inputs did not change: the SPAN scan counts
    each tier's delta, so a variant that only adds tiers to the offset table runs it again
    and gets the tiered figures (102,900), not the untiered run's (73,500). Both tables
    have two rows led by SPX: only the legs' tiers differ."""
    untiered = """  credit each leg between class groups by instrument.class_group
    SPX with NDX 50%
    SPX with RUT 40%"""  # no RUT in the book: the second row forms nothing
    tiered = """  credit each leg between class groups by instrument.class_group
    SPX expiring within 3 months with NDX expiring after 3 months 50%
    SPX expiring after 3 months with NDX expiring within 3 months 40%"""
    book = make_book(tmp_path, ACCOUNTS, TIER_BOOK, "L1,C1,USD,1000000,,", extra_instruments=EXTRA)
    plans = []
    for table in (untiered, tiered):  # one file, the same lines: only the legs differ
        text = (shipped_dir() / "cftc.mlx").read_text(encoding="utf-8")
        text = text.replace(SHIPPED, table).replace("rulebook cftc ", "rulebook cftc_probe ")
        path = tmp_path / "cftc_probe.mlx"
        path.write_text(text, encoding="utf-8")
        plans.append(compile_plan(load_rulebook(path), book.as_of))
    assert Phase.MARGIN in phases_to_recompute(*plans)
    first, reuse = evaluate_run(plans[0], book)
    second, _ = evaluate_run(plans[1], book, reuse=reuse_from(reuse, plans[1]))
    assert first.decisions.loc[0, "maintenance"] == pytest.approx(73_500.0)
    assert second.decisions.loc[0, "maintenance"] == pytest.approx(102_900.0)
