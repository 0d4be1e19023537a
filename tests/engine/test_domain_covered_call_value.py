"""12 CFR 220.4(b)(4)(ii): "When a security held in the account serves in lieu of the
required margin for a short call, the security shall be valued at no greater than the
exercise price of the short call". Decided (docs/domain-decisions.md, decision 45): not
applied on top of the account's value, which already deducts the call at its market value,
never less than its in-the-money amount, so the stock and the call count together at no more
than the strike. A margin account of a broker-dealer customer, as of 2026-06-30; XYZ at 100,
options x 100. Figures worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from _evaluate_books import decision, make_book, run

C50 = "XYZ_C50_2609,equity_option,XYZ,XYZ,,100,50.00,2026-09-18,call,50,0.30,,"
C50_TIME = "XYZ_C50T_2609,equity_option,XYZ,XYZ,,100,50.40,2026-09-18,call,50,0.30,,"


@pytest.mark.parametrize(
    ("call", "value"),
    [
        # stock 10,000 less the call at its intrinsic value 5,000: the strike's 5,000
        ("XYZ_C50_2609", 5_000.0),
        # a call with time value (50.40): 10,000 - 5,040 = 4,960, under the strike's 5,000
        ("XYZ_C50T_2609", 4_960.0),
    ],
)
def test_a_covered_calls_stock_counts_at_no_more_than_the_strike(
    tmp_path: Path, call: str, value: float
) -> None:
    """Long 100 XYZ at 100, short 1 XYZ call struck at 50, no cash. The value deducts the
    call at market, so the pair counts at most 50 x 100 = 5,000, the cap; capping the stock
    at 5,000 as well would deduct the in-the-money 5,000 twice (value 0 or -40). The stock
    keeps its 25% x 10,000 = 2,500 (market value, as FINRA's maintenance text was not read
    to cap it), the covered call 0: no call."""
    book = make_book(
        tmp_path,
        "M1,HOTEL,BD1,SEC,margin,customer,",
        f"M1,XYZ,100\nM1,{call},-1",
        "L1,M1,USD,0,,",
        C50 + "\n" + C50_TIME,
    )
    d = decision(run(book, "sec"), "ms:M1")
    assert float(d["value"]) == pytest.approx(value)
    assert float(d["maintenance"]) == pytest.approx(2_500.0)
