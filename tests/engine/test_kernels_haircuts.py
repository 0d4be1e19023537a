"""Collateral haircuts: SEC and CME schedules, boundaries, exclusions, caps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marginlex.engine.kernels.haircuts import (
    AssetBuckets,
    AssetRate,
    BucketSchedule,
    ConcentrationCap,
    Exclusion,
    HaircutSchedule,
    apply_concentration_cap,
    apply_haircuts,
    more_conservative,
)
from marginlex.engine.kernels.pricing import years_between

TREASURIES = ("UST_BILL", "UST_NOTE", "UST_BOND")
SEC = HaircutSchedule(
    name="sec",
    flat=(
        AssetRate(assets=("USD",), rate=0.0),
        AssetRate(assets=("STOCK", "ETF"), rate=0.15),
        AssetRate(assets=("MMF",), rate=0.02),
    ),
    buckets=(
        AssetBuckets(
            assets=TREASURIES,
            schedule=BucketSchedule(
                boundaries=(0.25, 0.5, 0.75, 1, 2, 3, 5, 10, 15, 20, 25),
                rates=(0, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.045, 0.05, 0.055, 0.06),
            ),
        ),
    ),
    excluded=(
        Exclusion(
            assets=("BTC", "ETH", "USDC"),
            reason="digital assets are not eligible in a securities account",
        ),
    ),
)
CME = HaircutSchedule(
    name="cftc",
    flat=(
        AssetRate(assets=("USD",), rate=0.0),
        AssetRate(assets=("UST_BILL",), rate=0.005),
        AssetRate(assets=("UST_STRIP",), rate=0.11),
        AssetRate(assets=("MMF",), rate=0.03),
        AssetRate(assets=("CORP_BOND",), rate=0.20),
        AssetRate(assets=("BTC", "ETH"), rate=0.20),
        AssetRate(assets=("USDC",), rate=0.02),
    ),
    buckets=(
        AssetBuckets(
            assets=("UST_NOTE", "UST_BOND"),
            schedule=BucketSchedule(
                boundaries=(1, 3, 5, 10), rates=(0.01, 0.02, 0.03, 0.045, 0.06)
            ),
        ),
    ),
    unlisted_reason="digital asset outside the CFTC pilot (Staff Letter 25-40)",
)
DIGITAL = ConcentrationCap(name="digital assets", assets=("BTC", "ETH", "USDC"), fraction=0.40)


def lots(assets: list[str], values: list[float], years: list[float] | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "asset": pd.Series(assets, dtype="str"),
            "market_value": values,
            "maturity_years": years if years is not None else [np.nan] * len(assets),
        }
    )


def test_sec_treasury_haircut_in_every_bucket() -> None:
    # One $1,000,000 note in the middle of each SEC bucket: value = 1,000,000 x (1 - rate).
    years = [0.1, 0.3, 0.6, 0.9, 1.5, 2.5, 4, 7, 12, 17, 22, 27]
    rates = [0, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.045, 0.05, 0.055, 0.06]
    out = apply_haircuts(lots(["UST_NOTE"] * 12, [1e6] * 12, years), SEC)
    assert out["haircut_rate"].tolist() == rates
    assert out["value"].tolist() == pytest.approx([1e6 * (1 - r) for r in rates])
    assert (
        out["haircut_row"].astype("str").tolist()[4] == "UST_BILL/UST_NOTE/UST_BOND 1y to under 2y"
    )
    assert out["haircut_row"].astype("str").tolist()[0] == "UST_BILL/UST_NOTE/UST_BOND under 0.25y"
    assert (
        out["haircut_row"].astype("str").tolist()[-1] == "UST_BILL/UST_NOTE/UST_BOND 25y and over"
    )
    assert set(out["status"].astype("str")) == {"eligible"}


def test_lot_exactly_on_a_boundary_takes_the_longer_bucket() -> None:
    # As of 2026-01-01: 2027-01-01 is 365 days = exactly 1.0 year -> the 1-2y bucket, 1.5%;
    # 2028-01-01 is 730 days = 2.0 -> 2-3y, 2%; a lot a day short of 1 year stays at 1%.
    years = years_between(
        "2026-01-01", np.array(["2027-01-01", "2028-01-01", "2026-12-31"], dtype="datetime64[D]")
    )
    assert years.tolist()[:2] == [1.0, 2.0]
    out = apply_haircuts(lots(["UST_BOND"] * 3, [1e6] * 3, list(years)), SEC)
    assert out["haircut_rate"].tolist() == [0.015, 0.02, 0.01]
    assert out["value"].tolist() == [985_000.0, 980_000.0, 990_000.0]
    # 0.25 and 25 years exactly: 0.5% and 6%.
    edge = apply_haircuts(lots(["UST_BILL", "UST_BOND"], [1e6, 1e6], [0.25, 25.0]), SEC)
    assert edge["haircut_rate"].tolist() == [0.005, 0.06]


def test_cme_schedule() -> None:
    # CME Clearing acceptable collateral: cash 0; bills 0.5%; notes/bonds <1y 1%, 1-3y 2%,
    # 3-5y 3%, 5-10y 4.5%, >10y 6%; STRIPS 11%; MMF 3%; corporates 20%; BTC/ETH 20%; USDC 2%.
    assets = [
        "USD",
        "UST_BILL",
        "UST_NOTE",
        "UST_NOTE",
        "UST_NOTE",
        "UST_NOTE",
        "UST_BOND",
        "UST_NOTE",
        "UST_STRIP",
        "MMF",
        "CORP_BOND",
        "BTC",
        "ETH",
        "USDC",
    ]
    years = [
        np.nan,
        0.2,
        0.5,
        2.0,
        4.0,
        7.0,
        20.0,
        3.0,
        15.0,
        np.nan,
        np.nan,
        np.nan,
        np.nan,
        np.nan,
    ]
    out = apply_haircuts(lots(assets, [100.0] * 14, years), CME)
    assert out["haircut_rate"].tolist() == [
        0,
        0.005,
        0.01,
        0.02,
        0.03,
        0.045,
        0.06,
        0.03,
        0.11,
        0.03,
        0.2,
        0.2,
        0.2,
        0.02,
    ]
    # 3.0 years exactly is on the 3y boundary: the longer bucket, 3-5y at 3%.
    assert out["haircut_row"].astype("str")[7] == "UST_NOTE/UST_BOND 3y to under 5y"
    assert out["value"].tolist() == pytest.approx(
        [100, 99.5, 99, 98, 97, 95.5, 94, 97, 89, 97, 80, 80, 80, 98]
    )


def test_digital_asset_outside_the_pilot_is_zero_with_a_reason() -> None:
    out = apply_haircuts(lots(["SOL", "BTC"], [50_000.0, 50_000.0]), CME)
    assert out["value"].tolist() == [0.0, 40_000.0]
    assert out["status"].astype("str").tolist() == ["not_in_schedule", "eligible"]
    assert out["reason"].astype("str").tolist() == [
        "digital asset outside the CFTC pilot (Staff Letter 25-40)",
        "",
    ]
    assert out["haircut_row"].isna().tolist() == [True, False]


def test_digital_assets_excluded_from_a_securities_account() -> None:
    out = apply_haircuts(lots(["BTC", "USD", "UST_NOTE"], [10_000.0, -2_000.0, 1_000.0]), SEC)
    assert out["status"].astype("str").tolist() == ["excluded", "eligible", "no_maturity"]
    assert (
        out["reason"].astype("str")[0] == "digital assets are not eligible in a securities account"
    )
    # A debit balance (negative USD) still counts in full; a note without maturity counts 0.
    assert out["value"].tolist() == [0.0, -2_000.0, 0.0]


def test_more_conservative_of_two_schedules() -> None:
    # 0.6y note: SEC 0.75% vs CME 1% -> CME; 2.5y note: 2% both -> tie, first (SEC) wins;
    # stock: SEC 15% vs not in the CME schedule (100%) -> CME, value 0;
    # BTC: excluded by SEC (100%) vs 20% -> SEC, value 0.
    book = lots(
        ["UST_NOTE", "UST_NOTE", "STOCK", "BTC"], [1e6, 1e6, 1e5, 1e5], [0.6, 2.5, np.nan, np.nan]
    )
    out = more_conservative(apply_haircuts(book, SEC), apply_haircuts(book, CME), ("sec", "cftc"))
    assert out["schedule"].astype("str").tolist() == ["cftc", "sec", "cftc", "sec"]
    assert out["haircut_rate"].tolist() == [0.01, 0.02, 1.0, 1.0]
    assert out["value"].tolist() == [990_000.0, 980_000.0, 0.0, 0.0]
    assert out["status"].astype("str").tolist() == [
        "eligible",
        "eligible",
        "not_in_schedule",
        "excluded",
    ]
    assert out["haircut_rate_first"].tolist() == [0.0075, 0.02, 0.15, 1.0]


def test_digital_assets_over_their_cap() -> None:
    # Margin set 0: requirement 10,000; BTC 10,000 -> 8,000 after 20%; USDC 2,000 -> 1,960
    # after 2%; digital total 9,960 > cap 40% x 10,000 = 4,000 -> scale 4,000 / 9,960 = 0.4016064.
    # BTC 8,000 x 0.4016064 = 3,212.85; USDC 1,960 x 0.4016064 = 787.15; USD untouched.
    # Margin set 1: requirement 10,000, BTC 4,000 -> 3,200 <= 4,000: no cap.
    book = lots(["BTC", "USDC", "USD", "BTC"], [10_000.0, 2_000.0, 5_000.0, 4_000.0])
    cut = apply_haircuts(book, CME)
    cut_lots = pd.DataFrame(
        {"margin_set": [0, 0, 0, 1], "asset": book["asset"], "value": cut["value"]}
    )
    per_lot, per_set = apply_concentration_cap(cut_lots, np.array([10_000.0, 10_000.0]), DIGITAL)
    assert per_lot["value"].tolist() == pytest.approx(
        [3_212.85, 787.15, 5_000.0, 3_200.0], abs=0.005
    )
    assert per_lot["cap_scale"].tolist() == pytest.approx([4000 / 9960, 4000 / 9960, 1.0, 1.0])
    assert per_lot["value_removed"].sum() == pytest.approx(9_960.0 - 4_000.0)
    assert per_set["cap_applied"].tolist() == [True, False]
    assert per_set["capped_value"].tolist() == pytest.approx([9_960.0, 3_200.0])
    assert per_set["cap_amount"].tolist() == [4_000.0, 4_000.0]
    assert per_lot.loc[[0, 1], "value"].sum() == pytest.approx(4_000.0)


def test_bucket_schedule_validation() -> None:
    with pytest.raises(ValueError, match="one more rate than boundaries"):
        BucketSchedule(boundaries=(1.0,), rates=(0.01,))
    with pytest.raises(ValueError, match="strictly increasing"):
        BucketSchedule(boundaries=(2.0, 1.0), rates=(0.0, 0.01, 0.02))
