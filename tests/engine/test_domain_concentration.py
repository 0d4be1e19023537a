"""Concentration add-ons of portfolio-margin sets (issue 14, section 6), figures by hand.

`concentration add R when class group exceeds S of equity`: a class group whose gross
market value is above S of the set's equity is charged R of that value on top of the
requirement after offsets. The shipped `sec_pm_concentration` (5% above 70%, single names)
with its share parameter set by each test; two stocks without an index class are scanned at
the SEC grid's 15%, as of 2026-06-30.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _evaluate_books import make_book

from marginlex.dsl.loader import load_rulebook, shipped_dir
from marginlex.engine.evaluate import evaluate
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.plan.compile import compile_plan

STOCKS = "KLM,stock,,KLM,,1,100.00,,,,,,\nQRS,stock,,QRS,,1,50.00,,,,,,"
PM_ACCOUNT = "P1,ALICE,BD1,SEC,portfolio_margin,customer,portfolio_margin"
SHIPPED_SHARE = "parameter pm_concentration_share = 70%"
STATEMENT = "  concentration add pm_concentration_rate when class group exceeds"


def _run(tmp: Path, positions: str, cash: int, share: str | None) -> Evaluation:
    book = make_book(tmp, PM_ACCOUNT, positions, f"L1,P1,USD,{cash},,", STOCKS)
    text = (shipped_dir() / "sec.mlx").read_text(encoding="utf-8")
    text = text.replace("rulebook sec ", "rulebook sec_probe ")
    assert SHIPPED_SHARE in text and STATEMENT in text
    if share is None:  # the statement made inert: it adds nothing
        text = text.replace(STATEMENT, "  concentration add 0% when class group exceeds")
    else:
        text = text.replace(SHIPPED_SHARE, f"parameter pm_concentration_share = {share}")
    path = tmp / "sec_probe.mlx"
    path.write_text(text, encoding="utf-8")
    return evaluate(compile_plan(load_rulebook(path), book.as_of), book)


LONG = "P1,KLM,2000\nP1,QRS,400"


def test_a_class_group_above_the_share_is_charged_the_rate_of_its_value(tmp_path: Path) -> None:
    """KLM 2,000 x 100 = 200,000, QRS 400 x 50 = 20,000; equity 100,000 + 220,000 =
    320,000. The grid: 15% x 200,000 + 15% x 20,000 = 33,000. KLM is above 50% of equity
    (160,000): 5% x 200,000 = 10,000 more; QRS is not. Maintenance 43,000."""
    ev = _run(tmp_path, LONG, 100_000, "50%")
    assert ev.decisions.loc[0, "method_rule_id"] == "sec_portfolio_margin"
    assert ev.decisions.loc[0, "equity"] == pytest.approx(320_000.0)
    assert ev.decisions.loc[0, "maintenance"] == pytest.approx(43_000.0)
    add_ons = ev.frames["add_ons"]
    assert add_ons["class_group"].astype("str").tolist() == ["KLM"]
    assert add_ons["class_group_value"].tolist() == pytest.approx([200_000.0])
    assert add_ons["add_on"].tolist() == pytest.approx([10_000.0])
    assert add_ons["rule_id"].astype("str").tolist() == ["sec_pm_concentration"]


def test_below_the_share_nothing_is_added(tmp_path: Path) -> None:
    """70% of 320,000 is 224,000: KLM's 200,000 is under it. Maintenance 33,000, as without
    the statement."""
    with_rule = _run(tmp_path / "a", LONG, 100_000, "70%")
    without = _run(tmp_path / "b", LONG, 100_000, None)
    assert with_rule.decisions.loc[0, "maintenance"] == pytest.approx(33_000.0)
    assert without.decisions.loc[0, "maintenance"] == pytest.approx(33_000.0)
    assert with_rule.frames["add_ons"].empty


def test_index_products_do_not_count(tmp_path: Path) -> None:
    """The shipped statement counts stocks and equity options only: 2,000 SPY (an ETF at
    600, 1,200,000) with 100,000 of cash is 92% of equity and charged nothing."""
    ev = _run(tmp_path, "P1,SPY,2000", 100_000, "50%")
    assert ev.frames["add_ons"].empty


def test_a_short_class_group_counts_its_absolute_value(tmp_path: Path) -> None:
    """Short 2,000 KLM (-200,000) and long 400 QRS, 400,000 of cash: equity 400,000 -
    200,000 + 20,000 = 220,000; KLM's gross 200,000 is above 50% (110,000): 5% x 200,000 =
    10,000 on top of 30,000 + 3,000. Maintenance 43,000."""
    ev = _run(tmp_path, "P1,KLM,-2000\nP1,QRS,400", 400_000, "50%")
    assert ev.decisions.loc[0, "equity"] == pytest.approx(220_000.0)
    assert ev.decisions.loc[0, "maintenance"] == pytest.approx(43_000.0)


ETF_PUT = "SPY_P570,equity_option,SPY,,high_cap_broad,100,8.19,2026-09-18,put,570,0.18,,"
KLM_CALL = "KLM_C100,equity_option,KLM,,,100,5.00,2026-09-18,call,100,0.30,,"


def _run_with(tmp: Path, positions: str, cash: int, extra: str, share: str) -> Evaluation:
    book = make_book(tmp, PM_ACCOUNT, positions, f"L1,P1,USD,{cash},,", f"{STOCKS}\n{extra}")
    text = (shipped_dir() / "sec.mlx").read_text(encoding="utf-8")
    text = text.replace("rulebook sec ", "rulebook sec_probe ")
    text = text.replace(SHIPPED_SHARE, f"parameter pm_concentration_share = {share}")
    path = tmp / "sec_probe.mlx"
    path.write_text(text, encoding="utf-8")
    return evaluate(compile_plan(load_rulebook(path), book.as_of), book)


def test_an_option_on_an_etf_is_not_a_single_name(tmp_path: Path) -> None:
    """Long 100 SPY 570 puts at 8.19 x 100 = 81,900 with 30,000 of cash: equity 111,900,
    the SPY class group 81,900 / 111,900 = 73.19% of it, above 70%. The put moves with SPY,
    an ETF: no add-on (the reviewer's PC_ETFOPT: 5% x 81,900 = 4,095 was charged), and the
    maintenance is the grid's alone."""
    ev = _run_with(tmp_path, "P1,SPY_P570,100", 30_000, ETF_PUT, "70%")
    assert ev.decisions.loc[0, "equity"] == pytest.approx(111_900.0)
    assert ev.frames["add_ons"].empty
    grid = ev.frames["class_groups"]["requirement"].sum()
    assert ev.decisions.loc[0, "maintenance"] == pytest.approx(grid)
    assert ev.decisions.loc[0, "maintenance"] == pytest.approx(58_838.88, abs=0.01)


def test_an_option_on_a_stock_counts_with_its_stock(tmp_path: Path) -> None:
    """Long 600 KLM 100 calls at 5.00 x 100 = 300,000 with 100,000 of cash: equity 400,000;
    the KLM class group is 300,000 / 400,000 = 75% of it, above 70%: 5% x 300,000 = 15,000."""
    ev = _run_with(tmp_path, "P1,KLM_C100,600", 100_000, KLM_CALL, "70%")
    assert ev.decisions.loc[0, "method_rule_id"] == "sec_portfolio_margin"
    add_ons = ev.frames["add_ons"]
    assert add_ons["class_group"].astype("str").tolist() == ["KLM"]
    assert add_ons["add_on"].tolist() == pytest.approx([15_000.0])
    assert add_ons["share"].tolist() == pytest.approx([0.75])


def test_the_share_column_is_the_measured_share(tmp_path: Path) -> None:
    """KLM 200,000 of equity 320,000 (the first test's book): the add_ons row's share is
    200,000 / 320,000 = 0.625, not the 50% threshold."""
    ev = _run(tmp_path, LONG, 100_000, "50%")
    assert ev.frames["add_ons"]["share"].tolist() == pytest.approx([0.625])
