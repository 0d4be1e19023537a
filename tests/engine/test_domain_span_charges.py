"""SPAN calendar spread and delivery month charges (issue 14, section 2), by hand.

The evaluated cases are in ``rulebooks/tests/cftc.test.toml`` (C_PIA, C_QUIN); these test the
kernel's spread formation on its own.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _evaluate_books import decision, make_book, run

from marginlex.dsl.loader import load_rulebook, shipped_dir
from marginlex.engine.evaluate import evaluate
from marginlex.engine.kernels.span import SpanParams, span_scan
from marginlex.engine.kernels.span_charges import calendar_ladder, delivery_charges
from marginlex.engine.plan.compile import compile_plan

NEAR_FAR = np.array([0.25, np.inf])  # up to 3 months, otherwise


def test_a_long_and_a_short_in_two_months_of_one_tier_form_spreads_there() -> None:
    # long 5 Sep (0.22y), short 3 Aug (0.14y): 3 spreads, both legs in tier 1; 2 long left over
    got, _, _ = calendar_ladder(
        np.array([0, 0]),
        1,
        counted=np.array([True, True]),
        quantity=np.array([5.0, -3.0]),
        expiry=np.array([0.22, 0.14]),
        bounds=NEAR_FAR,
    )
    assert got.tolist() == [[3.0, 0.0]]


def test_a_spread_takes_the_tier_of_its_farther_leg() -> None:
    # long 3 Sep (tier 1), short 1 Aug (tier 1), short 2 Dec (tier 2): up to tier 1 min(3, 1)
    # = 1; up to tier 2 min(3, 3) = 3, so 2 spreads have their far leg in tier 2
    got, _, _ = calendar_ladder(
        np.array([0, 0, 0]),
        1,
        counted=np.ones(3, bool),
        quantity=np.array([3.0, -1.0, -2.0]),
        expiry=np.array([80 / 365, 52 / 365, 171 / 365]),
        bounds=NEAR_FAR,
    )
    assert got.tolist() == [[1.0, 2.0]]


def test_one_expiry_nets_before_spreads_and_class_groups_stay_apart() -> None:
    # group 0: +4 and -4 of the same expiry (two accounts of one set) net to 0: no spread;
    # group 1: +2 Sep, -2 Dec: 2 spreads in tier 2; an uncounted row (an option) is ignored
    got, _, _ = calendar_ladder(
        np.array([0, 0, 1, 1, 1]),
        2,
        counted=np.array([True, True, True, True, False]),
        quantity=np.array([4.0, -4.0, 2.0, -2.0, -9.0]),
        expiry=np.array([0.2, 0.2, 0.2, 0.47, 0.3]),
        bounds=NEAR_FAR,
    )
    assert got.tolist() == [[0.0, 0.0], [0.0, 2.0]]


def test_a_position_past_every_bound_is_not_counted() -> None:
    # tiers `up to 3 months` only: the Dec leg (0.47y) is past it, so no spread forms
    got, _, _ = calendar_ladder(
        np.array([0, 0]),
        1,
        counted=np.ones(2, bool),
        quantity=np.array([1.0, -1.0]),
        expiry=np.array([0.2, 0.47]),
        bounds=np.array([0.25]),
    )
    assert got.tolist() == [[0.0]]


def test_delivery_month_charge_is_per_gross_contract() -> None:
    # group 0: long 3 and short 2 in the delivery month: 5 x 500 = 2,500; group 1 none
    got = delivery_charges(
        np.array([0, 0, 1]), 2, np.array([True, True, False]), np.array([3.0, -2.0, 4.0]), 500.0
    )
    assert got.tolist() == [2500.0, 0.0]


def _scan_frame() -> pd.DataFrame:
    """Class group SPX: long 1 ES future (6,000 x 50, scan range 7%) and short 1 call struck
    at 100,000, worthless in every scenario (even 6,000 x (1 + 3 x 7%) = 7,260); class group
    SOLO: the same short call alone."""
    future = dict(
        product="index_future",
        quantity=1.0,
        is_option=False,
        is_call=False,
        strike=np.nan,
        implied_vol=np.nan,
        t=np.nan,
    )
    call = dict(
        product="index_option",
        quantity=-1.0,
        is_option=True,
        is_call=True,
        strike=100_000.0,
        implied_vol=0.2,
        t=0.1,
    )
    rows = [
        dict(future, class_group="SPX"),
        dict(call, class_group="SPX"),
        dict(call, class_group="SOLO"),
    ]
    frame = pd.DataFrame(rows).assign(
        margin_set=0, multiplier=50.0, price=6000.0, underlying_price=6000.0, scan_range=0.07
    )
    frame.loc[frame["is_option"], "price"] = 0.0
    return frame


def test_short_option_minimum_is_per_short_contract_and_compared_not_added() -> None:
    # CME SPAN (Client Systems Wiki, "SOM Tiers", read: a short option minimum rate per
    # combined commodity): the class group's requirement is max(scanning risk, short option
    # contracts x rate). SPX: risk 21,000 (1 x 6,000 x 50 x 7%) against a minimum of
    # 1 x 0.375 x 50 = 18.75: 21,000, not 21,018.75. SOLO: risk 0, the minimum 18.75 binds.
    params = SpanParams(
        scan_ranges={},
        vol_shift=0.25,
        vol_relative=True,
        vol_floor=0.01,
        extreme_fraction=0.33,
        short_option_minimum=0.375,
    )
    groups = span_scan(_scan_frame(), params).groups.set_index("class_group")
    assert groups.loc["SPX", "scanning_risk"] == pytest.approx(21_000.0)
    assert groups.loc["SPX", "short_option_minimum"] == pytest.approx(18.75)
    assert groups.loc["SPX", "requirement"] == pytest.approx(21_000.0)
    assert groups.loc["SOLO", "scanning_risk"] == pytest.approx(0.0, abs=1e-9)
    assert groups.loc["SOLO", "requirement"] == pytest.approx(18.75)
    assert bool(groups.loc["SOLO", "minimum_binds"])


# Nano BTC contracts of one class group BTC (0.01 x 100,000 = 1,000 a contract, range 30%):
# a perpetual without a maturity, a perpetual-style one with a five-year expiry (Coinbase's),
# and the August month (59 days from 2026-06-30: the near tier).
BTC = (
    "BIPB,crypto_perpetual,,BTC,,0.01,100000.00,,,,,,\n"
    "BIPC,crypto_perpetual,,BTC,,0.01,100000.00,,,,,,\n"
    "BIP30,crypto_perpetual,,BTC,,0.01,100000.00,2031-07-21,,,,,\n"
    "BITQ,crypto_future,,BTC,,0.01,100000.00,2026-08-28,,,,,"
)


@pytest.mark.parametrize("rulebook", ["cftc", "harmonized"])
@pytest.mark.parametrize(
    ("positions", "requirement"),
    [
        # nano contracts (0.01 BTC) take the nano crypto tiers (decision 50): 1.50 USD up
        # to 3 months, otherwise 3 USD per spread.
        # long 10 perpetuals, short 10 August: the scan nets to 0 at every point; netted
        # per expiry +10 (no expiry: the farthest, tier otherwise) and -10 (near): 10
        # spreads in the far tier x 3 = 30 (was 0: the clause left the perpetual out; then
        # 10 x 200 = 2,000 at the ES figure)
        ("C1,BIPB,10\nC1,BITQ,-10", 30.0),
        # the same with the five-year perpetual-style contract (1,847 days: otherwise)
        ("C1,BIP30,10\nC1,BITQ,-10", 30.0),
        # short 4 perpetuals against long 10 August: 4 spreads x 3 = 12, and the scan's
        # 6 net long contracts lose 6 x 1,000 x 30% = 1,800 at -1 range (the extreme
        # 3 x 1,800 x 33% = 1,782 is less): 1,812 (was 2,600)
        ("C1,BIPB,-4\nC1,BITQ,10", 1_812.0),
        # the two perpetuals against each other: 0 at every point; the one without a
        # maturity is farther than the five-year one: 10 spreads in the far tier, 30
        ("C1,BIPB,10\nC1,BIP30,-10", 30.0),
        # two perpetuals without a maturity are one expiry: they net, no spread
        ("C1,BIPB,10\nC1,BIPC,-10", 0.0),
    ],
)
def test_a_perpetual_spreads_against_the_dated_months_of_its_class_group(
    tmp_path: Path, rulebook: str, positions: str, requirement: float
) -> None:
    book = make_book(
        tmp_path,
        "C1,FOX,FCM1,CFTC,futures,customer,",
        positions,
        "L1,C1,USD,100000,,",
        BTC,
    )
    ev = run(book, rulebook)
    assert float(decision(ev, "ms:C1")["maintenance"]) == pytest.approx(requirement)


# Calendar tiers count contract months (decision 49). Futures of class group SPX at one
# price (6,000 x 50, range 7%), so the scan nets long against short at every point and the
# maintenance is the calendar charge alone (cftc: up to 3 months 100, otherwise 200 per
# spread). ES_2608 expires 2026-08-21; the demo's ES_2609 2026-09-18; SPX_2701 2027-01-15
# and SPX_2703 2027-03-01 are dated to sit on a tier's edge.
SPX_MONTHS = (
    "ES_2608,index_future,,SPX,high_cap_broad,50,6000.00,2026-08-21,,,,0.07,\n"
    "SPX_2701,index_future,,SPX,high_cap_broad,50,6000.00,2027-01-15,,,,0.07,\n"
    "SPX_2703,index_future,,SPX,high_cap_broad,50,6000.00,2027-03-01,,,,0.07,"
)


@pytest.mark.parametrize("rulebook", ["cftc", "harmonized"])
@pytest.mark.parametrize(
    ("as_of", "positions", "requirement"),
    [
        # as of 2026-06-15: September is the third contract month after June (up to 3
        # months), though 2026-09-18 is 15 + 31 + 31 + 18 = 95 days away (95 / 365 =
        # 0.2603 > 0.25): 1 spread (Aug against Sep) in the near tier, 100 (was 200)
        (dt.date(2026, 6, 15), "C1,ES_2609,1\nC1,ES_2608,-1", 100.0),
        # as of 2026-11-30: 2027-03-01 is 31 + 31 + 28 + 1 = 91 days away (91 / 365 =
        # 0.2493 <= 0.25), but March is the fourth contract month after November: the
        # spread against January (the second) falls in the far tier, 200 (was 100)
        (dt.date(2026, 11, 30), "C1,SPX_2703,1\nC1,SPX_2701,-1", 200.0),
        # as of 2026-06-30 (the book's date), September and December as before: Sep is
        # month 3 (near), 80 days either way: the Aug-Sep spread 100
        (dt.date(2026, 6, 30), "C1,ES_2609,1\nC1,ES_2608,-1", 100.0),
    ],
)
def test_calendar_tiers_count_contract_months_from_the_as_of_month(
    tmp_path: Path, rulebook: str, as_of: dt.date, positions: str, requirement: float
) -> None:
    book = make_book(
        tmp_path,
        "C1,FOX,FCM1,CFTC,futures,customer,",
        positions,
        "L1,C1,USD,100000,,",
        SPX_MONTHS,
    )
    ev = evaluate(compile_plan(load_rulebook(rulebook), as_of), book)
    assert float(decision(ev, "ms:C1")["maintenance"]) == pytest.approx(requirement)
    charges = ev.frames["span_charges"]
    assert charges["amount"].sum() == pytest.approx(requirement)


# Calendar spread rates per product (decision 50): a `when` case of the calendar clause
# gives its class groups tiers of their own; the rest keep the clause's. ES_2612: the
# December month of class group SPX at the demo September's price (one price: the scan nets).
ES_DEC = "ES_2612,index_future,,SPX,high_cap_broad,50,6000.00,2026-12-18,,,,0.07,"


@pytest.mark.parametrize("rulebook", ["cftc", "harmonized"])
def test_an_es_spread_keeps_the_clause_figure_beside_nano_crypto(
    tmp_path: Path, rulebook: str
) -> None:
    """One account: long 10 ES September, short 10 ES December (class group SPX: 10
    spreads, December in the far tier: 10 x 200 = 2,000, unchanged) and long 10 nano BTC
    perpetuals, short 10 nano August (class group BTC, nano: 10 x 3 = 30, was 2,000). Both
    scans net to 0: maintenance 2,030 (was 4,000). The charge rows name each rate."""
    book = make_book(
        tmp_path,
        "C1,FOX,FCM1,CFTC,futures,customer,",
        "C1,ES_2609,10\nC1,ES_2612,-10\nC1,BIPB,10\nC1,BITQ,-10",
        "L1,C1,USD,100000,,",
        f"{BTC}\n{ES_DEC}",
    )
    ev = run(book, rulebook)
    assert float(decision(ev, "ms:C1")["maintenance"]) == pytest.approx(2_030.0)
    charges = ev.frames["span_charges"]
    amounts = dict(zip(charges["rate_id"], charges["amount"], strict=True))
    assert amounts == pytest.approx(
        {"param.span_calendar_far": 2_000.0, "param.span_calendar_far_nano_crypto": 30.0}
    )


CASES = """      when instrument.class_group = "SPX"
        up to 1 month 7 USD per spread
        otherwise 11 USD per spread
      when instrument.product = index_future
        otherwise 13 USD per spread"""


def test_the_first_case_a_class_group_meets_gives_its_own_tiers(tmp_path: Path) -> None:
    """A probe of the cftc rulebook with two cases after the nano crypto one: SPX takes the
    first it meets (its own bounds: up to 1 month 7, otherwise 11), though it meets the
    second too. Long 10 ES September (80 days, month 3), short 10 ES August (month 2):
    both past 1 month, 10 spreads at 11 = 110 (at the clause's figures 10 x 100 = 1,000;
    at the second case's 130)."""
    book = make_book(
        tmp_path,
        "C1,FOX,FCM1,CFTC,futures,customer,",
        "C1,ES_2609,10\nC1,ES_2608,-10",
        "L1,C1,USD,100000,,",
        SPX_MONTHS,
    )
    text = (shipped_dir() / "cftc.mlx").read_text(encoding="utf-8")
    anchor = "        otherwise span_calendar_far_nano_crypto per spread\n"
    assert anchor in text
    text = text.replace(anchor, anchor + CASES + "\n").replace(
        "rulebook cftc ", "rulebook cftc_probe "
    )
    path = tmp_path / "cftc_probe.mlx"
    path.write_text(text, encoding="utf-8")
    ev = evaluate(compile_plan(load_rulebook(path), book.as_of), book)
    assert float(decision(ev, "ms:C1")["maintenance"]) == pytest.approx(110.0)
    (row,) = ev.frames["span_charges"].itertuples(index=False)
    assert (row.tier, row.rate_id) == (
        "otherwise",
        "cftc_span.calendar.when[2][otherwise]",
    )
