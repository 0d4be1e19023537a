"""SEC house (proprietary) accounts: a future is charged its clearing organization's margin
(17 CFR 240.15c3-1b(a)(3)(xiv), Appendix B, read), not 100% of a market value of 0. The
`sec_house_capital` rates are of the notional; as of 2026-06-30, ES_2609 is 50 x 6,000 =
300,000 of contract value, BTC_PERP 1 x 100,000. BD1 is a member of OCC only (no DCO); BDF1
is a member of CME (a DCO). Figures by hand in the docstrings."""

from __future__ import annotations

from pathlib import Path

import pytest
from _evaluate_books import decision, make_book, run

PERP = "BTC_PERP,crypto_perpetual,,,,1,100000,,,,,,"


def _requirement(tmp: Path, owner: str, positions: str, rulebook: str = "sec") -> float:
    account = f"H1,{owner},{owner},SEC,margin,house,"
    book = make_book(tmp, account, positions, "L1,H1,USD,400000,,", PERP)
    return float(decision(run(book, rulebook), "ms:H1")["maintenance"])


@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
def test_a_house_future_of_a_non_clearing_broker_dealer_is_150_percent_of_maintenance(
    tmp_path: Path, rulebook: str
) -> None:
    """Short 1 ES at BD1 (not a DCO member): (xiv)(B), 150% x 7% x 300,000 = 31,500 (the
    reviewer's H_SEC_FUT was charged 0)."""
    assert _requirement(tmp_path, "BD1", "H1,ES_2609,-1", rulebook) == pytest.approx(31_500.0)


def test_a_clearing_members_house_future_is_its_clearing_margin(tmp_path: Path) -> None:
    """Long 2 ES at BDF1 (a CME member): (xiv)(A), 7% x 600,000 = 42,000."""
    assert _requirement(tmp_path, "BDF1", "H1,ES_2609,2") == pytest.approx(42_000.0)


def test_a_house_perpetual_is_charged_like_a_crypto_future(tmp_path: Path) -> None:
    """Short 5 BTC perpetuals at BD1: 150% x 30% x 500,000 = 225,000."""
    assert _requirement(tmp_path, "BD1", "H1,BTC_PERP,-5") == pytest.approx(225_000.0)


def test_securities_keep_their_market_value_rates(tmp_path: Path) -> None:
    """1,000 XYZ at 100 at BD1: 15% x 100,000 = 15,000 (notional = market value)."""
    assert _requirement(tmp_path, "BD1", "H1,XYZ,1000") == pytest.approx(15_000.0)
