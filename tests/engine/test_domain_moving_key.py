"""An option is offset as the product it moves with: its credit key (``index_class`` for the
SEC's product groups, ``product`` for SPAN's inter-commodity spreads) is read, like its range
row, from its underlying. A blank optional cell on the option no longer puts its class group
in one product group for its range and in none for its offset. Figures by hand in the
docstrings (found by an independent hand computation, session 24)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _evaluate_books import bs, decision, make_book, run

PM = "portfolio_margin,customer,portfolio_margin"


def test_an_option_with_a_blank_index_class_is_offset_in_its_underlyings_product_group(
    tmp_path: Path,
) -> None:
    """HCS (an ETF at 600, high_cap_broad) and HCI (an ETF at 550, high_cap_broad); a put on
    HCS at 570 (vol 18%, 80 days) whose own index_class is blank (G4) or high_cap_broad
    (G5). Each account is short 10 puts and short 1,000 HCI. Both class groups are scanned
    at the high-cap range (+6%/-8%, read from HCS). At +6%, HCI loses 1,000 x 33 = 33,000
    and the puts gain 1,000 x (P(600) - P(636)); the 90% high-cap credit offsets 90% of that
    gain: 33,000 - 90% x gain = 27,704.50 for both (G4 was 54,012.39: no credit)."""
    book = make_book(
        tmp_path,
        f"G4,ALICE,BD1,SEC,{PM}\nG5,BOB,BD1,SEC,{PM}",
        "G4,HCS_P570,-10\nG4,HCI,-1000\nG5,HCS_P570H,-10\nG5,HCI,-1000",
        "L4,G4,USD,1000000,,\nL5,G5,USD,1000000,,",
        extra_instruments=(
            "HCS,etf,,,high_cap_broad,,600,,,,,,\n"
            "HCI,etf,,,high_cap_broad,,550,,,,,,\n"
            "HCS_P570,equity_option,HCS,,,100,8.19,2026-09-18,put,570,0.18,,\n"
            "HCS_P570H,equity_option,HCS,,high_cap_broad,100,8.19,2026-09-18,put,570,0.18,,"
        ),
    )
    t = 80 / 365
    gain = 1_000 * (bs(600.0, 570.0, t, 0.18, False) - bs(636.0, 570.0, t, 0.18, False))
    expected = round(33_000 - 0.9 * gain, 2)
    assert expected == 27_704.50
    for rulebook in ("sec", "harmonized"):
        ev = run(book, rulebook)
        assert decision(ev, "ms:G4")["maintenance"] == expected
        assert decision(ev, "ms:G5")["maintenance"] == expected
        offsets = ev.frames["offsets"]
        assert offsets["product_group"].astype("str").tolist() == ["high_cap_broad"] * 2


def test_a_class_group_of_options_on_a_future_takes_part_in_its_futures_spread(
    tmp_path: Path,
) -> None:
    """SPAN (cftc): O1 is short 4 puts on ES_2609 (an index option, whose own product has
    no inter-commodity row) and short 1 NQX (an index future, 20,000 x 20, range 7%:
    28,000); O2 holds the same and a long and a short ES_2609, which add no risk. The
    options' class group is an index_future leg like the future it moves with, so both sets
    take the same inter-commodity credit (O1 took none: the options' own product has no
    row, and only O2's two futures switched the credit on). By hand: the puts' scan risk
    68,435.66 (Black-Scholes, vol 20%, 80 days) and NQX's 28,000; each leg is credited
    50% of the 28,000 they match: 68,435.66 + 28,000 - 28,000 (O1 was 96,435.66)."""
    book = make_book(
        tmp_path,
        "O1,ALICE,FCM1,CFTC,futures,customer,\nO2,BOB,FCM1,CFTC,futures,customer,",
        "O1,ESP,-4\nO1,NQX,-1\nO2,ESP,-4\nO2,NQX,-1\nO2,ES_2609,1\nO2,ES_2609,-1",
        "L1,O1,USD,100000,,\nL2,O2,USD,100000,,",
        extra_instruments=(
            "NQX,index_future,,NDX,,20,20000,2026-09-18,,,,0.07,\n"
            "ESP,index_option,ES_2609,,,50,224.04,2026-09-18,put,6000,0.2,,"
        ),
    )
    ev = run(book, "cftc")
    o1, o2 = decision(ev, "ms:O1"), decision(ev, "ms:O2")
    assert o1["maintenance"] == o2["maintenance"] == 68_435.66  # 68,435.66 + 28,000 - 28,000
    offsets = ev.frames["offsets"].set_index("margin_set_id")
    assert offsets.loc["ms:O1", "credit"] == pytest.approx(offsets.loc["ms:O2", "credit"])
    assert offsets.loc["ms:O1", "credit"] > 0
