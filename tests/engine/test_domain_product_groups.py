"""Class groups in a product group (SEC portfolio margin, `sec_product_group_credits`):
a class group's contract minimum is its own, never offset by another's loss; an option
whose class group is left blank goes where its underlying goes. Figures worked out by hand
in the docstrings (found by an independent hand computation, session 22)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _evaluate_books import bs, decision, make_book, run

from marginlex.engine.book.load import Book

CONVERSION = """
HCA,etf,,HCA,high_cap_broad,1,500.00,,,,,,
HCA_P500,index_option,HCA,HCA,high_cap_broad,100,20.00,2026-09-18,put,500,0.20,,
HCA_C500,index_option,HCA,HCA,high_cap_broad,100,20.00,2026-09-18,call,500,0.20,,
HCB,etf,,HCB,high_cap_broad,1,50.00,,,,,,
"""


def _conversion_book(tmp: Path, conversions: int) -> Book:
    """U1 (ALICE, uncovered, portfolio margin at BD1, 200,000 cash): ``conversions`` times
    (100 HCA, one long put and one short call at 500) and 1,000 HCB at 50."""
    n = conversions
    return make_book(
        tmp,
        "U1,ALICE,BD1,SEC,portfolio_margin,customer,portfolio_margin",
        f"U1,HCA,{100 * n}\nU1,HCA_P500,{n}\nU1,HCA_C500,{-n}\nU1,HCB,1000",
        "L1,U1,USD,200000,,",
        extra_instruments=CONVERSION,
    )


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
@pytest.mark.parametrize(("conversions", "requirement"), [(1, 4075.0), (100, 11500.0)])
def test_a_class_groups_minimum_is_not_offset_by_another_class_groups_loss(
    tmp_path: Path, rulebook: str, conversions: int, requirement: float
) -> None:
    """Class group HCA holds conversions: stock + long put - short call at one strike is
    worth K at every point (Black-Scholes at rate 0: C - P = S - K), so it neither gains nor
    loses; its minimum is 37.50 per short call and min(37.50, 2,000 market value) per long
    put: 75 a conversion. HCB (1,000 at 50) loses 8% x 50,000 = 4,000 at -8%. The product
    group (high_cap_broad, 90%) has no gain to offset that loss: 4,000 + 75 = 4,075 (was
    4,000: the minimum was compared with the group's netted loss, a credit of 75 with no
    gain); with 100 conversions 4,000 + 7,500 = 11,500 (was 7,500)."""
    ev = run(_conversion_book(tmp_path, conversions), rulebook)
    d = decision(ev, "ms:U1")
    assert d["method_rule_id"].endswith("portfolio_margin")
    assert d["maintenance"] == requirement
    offsets = ev.frames["offsets"]
    assert offsets["credit"].tolist() == [pytest.approx(0.0, abs=1e-6)]  # no gain, no credit
    assert offsets["gains_at_worst"].tolist() == [pytest.approx(0.0, abs=1e-6)]


def test_a_blank_class_group_of_an_option_is_its_underlyings_class_group(tmp_path: Path) -> None:
    """IWX (an ETF at 200, class group RUTX, broad) and a put on it whose class group is left
    blank: the put is in RUTX with its underlying (it was put in a class group "IWX" of its
    own, which no product-group credit reached). F1: long 500 IWX, long 5 puts at 190, short
    300 MDX (class group MIDX, broad, at 250). At +10% (the worst point): RUTX gains
    500 x 20 = 10,000 less the puts' loss 5 x 100 x (P(200) - P(220)); MIDX loses
    300 x 25 = 7,500; 75% of RUTX's gain offsets it: 7,500 - 75% x RUTX's gain."""
    book = make_book(
        tmp_path,
        "F1,ALICE,BD1,SEC,portfolio_margin,customer,portfolio_margin",
        "F1,IWX,500\nF1,IWX_P190,5\nF1,MDX,-300",
        "L1,F1,USD,200000,,",
        extra_instruments=(
            "IWX,etf,,RUTX,broad,1,200.00,,,,,,\n"
            "IWX_P190,index_option,IWX,,,100,4.00,2026-09-18,put,190,0.22,,\n"
            "MDX,etf,,MIDX,broad,1,250.00,,,,,,"
        ),
    )
    instruments = book.instruments.set_index("instrument_id")
    assert instruments.loc["IWX_P190", "class_group"] == "RUTX"
    t = 80 / 365  # 2026-06-30 to 2026-09-18
    put_loss = 5 * 100 * (bs(200.0, 190.0, t, 0.22, False) - bs(220.0, 190.0, t, 0.22, False))
    rutx_gain = 10_000 - put_loss
    expected = round(7_500 - 0.75 * rutx_gain, 2)
    assert expected == 1218.15
    for rulebook in ("sec", "harmonized"):
        assert decision(run(book, rulebook), "ms:F1")["maintenance"] == expected
