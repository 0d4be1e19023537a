"""Re-pricing a book under shocks: figures worked out by hand on the demo book."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import Book, load_book, load_demo_book
from marginlex.engine.kernels.pricing import black_scholes, years_between
from marginlex.engine.stress.reprice import shock_book
from marginlex.engine.stress.shocks import ShockError, parse_shock, parse_vol
from marginlex.engine.variants.figures import decide

DEMO = Path(__file__).parents[2] / "engine" / "book" / "demo_book"


@pytest.fixture(scope="module")
def demo() -> Book:
    return load_demo_book()


def _price(book: Book, instrument: str) -> float:
    ins = book.instruments.set_index("instrument_id")
    return float(ins.loc[instrument, "price"])


def _decision(book: Book, rulebook: str, set_id: str) -> dict[str, object]:
    d = decide(load_rulebook(rulebook), book, book.as_of)
    row: dict[str, object] = d[d["margin_set_id"] == set_id].iloc[0].to_dict()
    return row


def test_rates_shock_by_dv01_and_duration(demo: Book) -> None:
    """+150bp on Treasuries, worked by hand.

    ZN_2609 (dv01 70 USD/bp per contract, multiplier 1,000): 110.50 - 70 × 150 / 1,000 =
    100.00. UST_2035_08 (dv01 0.80, multiplier 10): 98.50 - 0.80 × 150 / 10 = 86.50.
    Lot L07 (UST_BILL, 250,000 USD, matures 2026-09-15, as of 2026-06-30: 77 days, no
    dv01 for a lot, so zero-coupon duration 77/365): 250,000 × (1 - 77/365 × 0.015) =
    249,208.90. Stocks and cash do not move.
    """
    shocked = shock_book(demo, [parse_shock("product=ust_*:+150bp")])
    assert _price(shocked, "ZN_2609") == pytest.approx(100.0, abs=1e-9)
    assert _price(shocked, "UST_2035_08") == pytest.approx(86.5, abs=1e-9)
    lots = shocked.collateral.set_index("lot_id")["market_value"]
    assert lots["L07"] == pytest.approx(249_208.90, abs=0.005)
    assert lots["L01"] == 150_000.0
    assert _price(shocked, "XYZ") == 100.0
    assert shocked.sha256 != demo.sha256
    assert _price(demo, "ZN_2609") == 110.5  # the original book is untouched


def test_a_shocked_decision_by_hand(demo: Book) -> None:
    """S&P +20% on DELTA's short futures account under CFTC, worked by hand.

    A05_DELTA_FUT is short 20 ES_2609 (multiplier 50, price 6,000, scan range 7%) with
    500,000 USD. Shocked price 6,000 × 1.20 = 7,200. Variation settlement: -20 × 50 ×
    (7,200 - 6,000) = -1,200,000, so value = 500,000 - 1,200,000 = -700,000. Scanning
    risk at the full range up: 20 × 50 × 7,200 × 7% = 504,000 (the ±3× extreme move
    counts 33%: 20 × 50 × 7,200 × 21% × 33% = 498,960, less). Below maintenance, the call
    restores initial (110% of maintenance for a speculator: 554,400): 554,400 + 700,000 =
    1,254,400; unshocked, the call was 0 (value 500,000 ≥ 420,000).
    """
    shocked = shock_book(demo, [parse_shock("class_group=SPX:+20%")])
    before = _decision(demo, "cftc", "ms:A05_DELTA_FUT")
    after = _decision(shocked, "cftc", "ms:A05_DELTA_FUT")
    assert (before["maintenance"], before["call"]) == (420_000.0, 0.0)
    assert after["value"] == -700_000.0
    assert after["maintenance"] == 504_000.0
    assert after["call"] == 1_254_400.0
    settle = shocked.collateral.set_index("lot_id").loc["VM:A05_DELTA_FUT"]
    assert (str(settle["asset"]), float(settle["market_value"])) == ("USD", -1_200_000.0)


def test_options_revalued_from_the_shocked_underlying(demo: Book) -> None:
    """SPY_P570 follows SPY (class group SPY, its own: an ETF is not the S&P 500 index) down
    20% and its vol up 10 points: the new price is the mark plus the Black-Scholes change,
    computed here with the kernel."""
    shocked = shock_book(demo, [parse_shock("class_group=SPY:-20%"), parse_vol("+10pts")])
    t = float(years_between(demo.as_of, ["2026-09-18"])[0])
    change = black_scholes(480.0, 570.0, t, 0.28, False) - black_scholes(
        600.0, 570.0, t, 0.18, False
    )
    assert _price(shocked, "SPY") == 480.0
    assert _price(shocked, "SPY_P570_2609") == pytest.approx(8.19 + float(change), abs=1e-9)
    vols = shocked.instruments.set_index("instrument_id")["implied_vol"]
    assert vols["XYZ_P90_2609"] == pytest.approx(0.40)
    assert np.isnan(vols["XYZ"])


def test_a_shock_that_matches_nothing_names_the_values(demo: Book) -> None:
    with pytest.raises(ShockError) as caught:
        shock_book(demo, [parse_shock("class_group=SPZ:-20%")])
    assert caught.value.problem == "matches no row of book 'marginlex demo book'"
    assert caught.value.hint == (
        "did you mean SPY, SPX? class_group values in the book: ABC, BIP, SPX, SPY, UST_10Y, XYZ"
    )
    with pytest.raises(ShockError) as caught:  # difflib finds nothing close to "spx"
        shock_book(demo, [parse_shock("class_group=spx:-20%")])
    assert caught.value.hint.startswith("did you mean SPX? class_group values in the book")


def test_a_rates_shock_on_stocks_is_refused(demo: Book) -> None:
    # the stock rows exist: said so, not "did you mean stock?" of what was typed
    with pytest.raises(ShockError) as refused:
        shock_book(demo, [parse_shock("product=stock:+100bp")])
    assert (refused.value.problem, refused.value.hint) == (
        "the rows it selects are not Treasuries: a move in bp moves only Treasuries",
        "select Treasuries (e.g. product=ust_*), or move a price in percent",
    )


def test_a_vol_shock_without_options_is_refused(demo: Book) -> None:
    with pytest.raises(ShockError, match="the rows it selects are not options"):
        shock_book(demo, [parse_shock("product=stock:+10pts")])
    with pytest.raises(ShockError, match="matches no option row"):  # no such instrument
        shock_book(demo, [parse_shock("instrument=XYZQ:+10pts")])


def test_a_zero_shock_is_the_same_book(demo: Book) -> None:
    """Re-pricing touches nothing else: moves of zero give the same content hash (no
    settlement lot, no option revalued away from its mark, no vol floored)."""
    shocks = [
        parse_shock("class_group=*:+0%"),
        parse_shock("product=ust_*:+0bp"),
        parse_shock("product=*:+0pts"),
    ]
    assert shock_book(demo, shocks).sha256 == demo.sha256


def test_an_option_on_an_underlying_priced_zero_keeps_its_price(tmp_path: Path) -> None:
    """A price of 0 is valid (a worthless stock): a percent shock elsewhere divided 0 by 0 for
    the options on it, and the run stopped on a figure of NaN. A 0 stays 0 under any move, so
    the call on it (mark 0) keeps its mark; the shock on SPX still moves ES."""
    folder = tmp_path / "book"
    shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("__*"))
    with (folder / "instruments.csv").open("a") as f:
        f.write("ZSTK,stock,,,,1,0,,,,,,\nZC,equity_option,ZSTK,,,100,0,2026-12-18,call,10,0.3,,\n")
    with (folder / "positions.csv").open("a") as f:
        f.write("A01_ALICE_PM,ZC,-10\n")
    book = load_book(folder)
    for shocks in (["class_group=SPX:-10%"], ["instrument=ZSTK:-10%"]):
        shocked = shock_book(book, [parse_shock(s) for s in shocks])
        assert (_price(shocked, "ZSTK"), _price(shocked, "ZC")) == (0.0, 0.0)
    assert _price(shock_book(book, [parse_shock("class_group=SPX:-10%")]), "ES_2609") == 5400.0
