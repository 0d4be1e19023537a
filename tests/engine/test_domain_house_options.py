"""A broker-dealer's own (house) short equity option is charged SEC Rule 15c3-1's
strategy-based deduction, not its premium (docs/domain-decisions.md, row 40): 15% of the
underlying's value less the out-of-the-money amount, at least 7.5% of it and $2.50 a share
delivered. The demo book as of 2026-06-30: XYZ at 100, options x 100; BD1 a broker-dealer.
Figures worked out by hand in the docstrings, before the engine was run."""

from __future__ import annotations

from pathlib import Path

import pytest
from _evaluate_books import decision, make_book, run

HOUSE = "H1,BD1,BD1,SEC,margin,house,"
XYZ_C150 = "XYZ_C150_2609,equity_option,XYZ,XYZ,,100,0.50,2026-09-18,call,150,0.30,,"
ABC_C55 = "ABC_C55_2609"  # the demo's call on ABC (50.00) struck at 55, at 0.72


def _house(tmp_path: Path, positions: str, rulebook: str) -> tuple[float, dict]:
    book = make_book(tmp_path, HOUSE, positions, "L1,H1,USD,10000,,", XYZ_C150)
    ev = run(book, rulebook)
    rows = ev.frames["positions"].set_index("instrument_id")["requirement"].to_dict()
    d = decision(ev, "ms:H1")
    assert d["method_rule_id"] == "sec_house_capital"
    return float(d["maintenance"]), rows


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
@pytest.mark.parametrize(
    ("position", "requirement"),
    [
        # at the money: 15% x 10,000 - 0 = 1,500 (floors 750 and 250); was its premium 560
        ("XYZ_C100_2609,-1", 1_500.0),
        # a put at the money, 2 contracts: 15% x 20,000 - 0 = 3,000; was 1,120
        ("XYZ_P100_2609,-2", 3_000.0),
        # far out of the money: 1,500 - 5,000 < 0, so the floor max(7.5% x 10,000, 2.50 x
        # 100) = 750; was 50
        ("XYZ_C150_2609,-1", 750.0),
        # ABC at 50, a 55 call: 15% x 5,000 - 500 = 250, floor max(375, 250) = 375; was 72
        (f"{ABC_C55},-1", 375.0),
        # a long option keeps `otherwise 100%`: its market value, 560
        ("XYZ_C100_2609,1", 560.0),
    ],
)
def test_a_house_short_equity_option_is_charged_the_strategy_based_deduction(
    tmp_path: Path, rulebook: str, position: str, requirement: float
) -> None:
    total, _ = _house(tmp_path, f"H1,{position}", rulebook)
    assert total == pytest.approx(requirement)


def test_stock_beside_the_short_call_keeps_its_own_15_percent(tmp_path: Path) -> None:
    """1,000 XYZ (15% x 100,000 = 15,000) and a short XYZ 100 call (1,500, not netted
    against the stock: conservative): 16,500."""
    total, rows = _house(tmp_path, "H1,XYZ,1000\nH1,XYZ_C100_2609,-1", "sec")
    assert total == pytest.approx(16_500.0)
    assert rows["XYZ_C100_2609"] == pytest.approx(1_500.0)
