"""Issue 14, section 5: "the more conservative of" the SEC and CFTC haircuts with an asset
only one regime accepts. Figures worked out by hand in the docstrings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _evaluate_books import decision, make_book, run

from marginlex.dsl.loader import load_rulebook
from marginlex.engine.evaluate import evaluate
from marginlex.engine.plan.compile import compile_plan

# A securities margin account of a broker-dealer customer, no positions: its value is its
# lots after haircut. 2028-06-30 is 2 years to the day (731 days, across 29 February 2028) from
# 2026-06-30: not under 2 years (15c3-1: under 3 years, 2%), up to 3 years (CME: 2%).
ACCOUNT = "M1,HOTEL,BD1,SEC,margin,customer,"
LOTS = (
    "L_CORP,M1,CORP_BOND,100000,,\n"
    "L_ETF,M1,ETF,100000,,\n"
    "L_STOCK,M1,STOCK,100000,,\n"
    "L_NOTE,M1,UST_NOTE,100000,2028-06-30,\n"
    "L_USD,M1,USD,100000,,"
)

UNGROUPED = """rulebook ungrouped "The harmonized rulebook with its pre-issue-14 haircut combinator"
  jurisdiction HARMONIZED
  version "test"
  effective from 2026-01-01
  cites "test"
  extends harmonized

override haircut harmonized_collateral for collateral
  where not collateral.digital_asset
  cites "the ungrouped form: a schedule that does not select a lot is left out"
  status illustrative
  more conservative of sec_treasuries, sec_other_assets, cftc_treasuries, cftc_other_assets
"""


def _run(book_dir: Path, rulebook: str | Path) -> tuple[float, pd.DataFrame]:
    """The set's value and its lots (by lot id) under a rulebook."""
    book = make_book(book_dir, ACCOUNT, "", LOTS)
    ev = evaluate(compile_plan(load_rulebook(rulebook), book.as_of), book)
    return float(decision(ev, "ms:M1")["value"]), ev.frames["lots"].set_index("lot_id")


def test_an_asset_one_regime_refuses_is_ineligible_under_harmonized(tmp_path: Path) -> None:
    """Harmonized: the larger haircut of the SEC and CFTC schedules, by regime.

    corporate bond: SEC refuses it (no SEC schedule selects it) -> 100%, value 0;
    ETF and stock: the CFTC refuses them -> 100%, value 0 each;
    2-year note: SEC 2% (under 3 years), CME 2% (up to 3 years) -> 98,000;
    cash: 0% both -> 100,000. Value 98,000 + 100,000 = 198,000.
    (Before, refusals were skipped: 80,000 + 85,000 + 85,000 + 198,000 = 448,000.)
    """
    value, lots = _run(tmp_path, "harmonized")
    assert value == 198000.0
    assert lots["haircut_rate"].to_dict() == pytest.approx(
        {"L_CORP": 1.0, "L_ETF": 1.0, "L_STOCK": 1.0, "L_NOTE": 0.02, "L_USD": 0.0}
    )
    sec, cftc = "{sec_treasuries, sec_other_assets}", "{cftc_treasuries, cftc_other_assets}"
    assert lots.loc["L_CORP", "reason"].startswith(f"refused under {sec}")
    assert lots.loc["L_ETF", "reason"].startswith(f"refused under {cftc}")
    # A refusal is the combining rule's decision: cited by it, not by the row of the regime
    # that accepted the lot (the corporate bond cited CME's verified advisory, the ETF the
    # SEC's 15c3-1 row); an accepted lot keeps its winning row's citation.
    combined = (
        "Joint request for comment 2026: the more conservative of the SEC and CFTC haircuts",
        "illustrative",
    )
    for lot in ("L_CORP", "L_ETF", "L_STOCK"):
        assert tuple(lots.loc[lot, ["citation", "evidence"]]) == combined
    assert lots.loc["L_NOTE", "citation"] == "SEC Rule 15c3-1(c)(2)(vi)(A)(1)"


def test_the_ungrouped_form_keeps_its_recorded_meaning(tmp_path: Path) -> None:
    """`more conservative of a, b, c, d` (no regime groups), as recorded rulebooks wrote it,
    leaves out a schedule that does not select the lot, so that a recorded run replays as
    it was made: corporate 20% (CFTC) -> 80,000; ETF and stock 15% (SEC) -> 85,000 each;
    note 98,000; cash 100,000. Value 448,000."""
    path = tmp_path / "ungrouped.mlx"
    path.write_text(UNGROUPED, encoding="utf-8")
    value, lots = _run(tmp_path / "book", path)
    assert value == 448000.0
    assert lots.loc["L_CORP", "haircut_rate"] == pytest.approx(0.20)
    assert lots.loc["L_ETF", "haircut_rate"] == pytest.approx(0.15)


def test_a_computed_half_cent_rounds_up_as_on_paper(tmp_path: Path) -> None:
    """10.10 of stock at 85% (SEC) is 8.585 on paper (8.584999999999999 in float64): 8.59;
    47.90 at 85% is 40.715: 40.72; short 1 share at 16.75, 30% is 5.025 (5.0249999999999995
    in float64): 5.03, under sec and harmonized (money rounds half up, book-format.md; 30%
    of 16.75 is above FINRA 4210(c)'s $5.00 a share). The harmonized rulebook refuses stock
    collateral (the CFTC does not accept it): its lots count 0 there."""
    book = make_book(
        tmp_path,
        "M1,HOTEL,BD1,SEC,margin,customer,\nM2,HOTEL,BD1,SEC,margin,customer,\n"
        "M3,HOTEL,BD1,SEC,margin,customer,",
        "M3,TEN,-1",
        "L1,M1,STOCK,10.10,,\nL2,M2,STOCK,47.90,,\nL3,M3,USD,100,,",
        extra_instruments="TEN,stock,,TEN,,1,16.75,,,,,,",
    )
    sec = run(book, "sec")
    assert decision(sec, "ms:M1")["value"] == 8.59
    assert decision(sec, "ms:M2")["value"] == 40.72
    assert decision(sec, "ms:M3")["maintenance"] == 5.03
    assert decision(run(book, "harmonized"), "ms:M3")["maintenance"] == 5.03
