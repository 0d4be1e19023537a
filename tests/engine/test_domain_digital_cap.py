"""Issue 14's decision: the digital-asset cap is measured against the initial margin
requirement (`at most 40% of initial requirement`); `of requirement`, as rulebooks recorded
before it say, keeps measuring against maintenance. Figures worked out by hand below."""

from __future__ import annotations

from pathlib import Path

import pytest
from _evaluate_books import ACCOUNTS_HEADER, decision, make_book, run

WITH_HEDGER = ACCOUNTS_HEADER.rstrip("\n") + ",hedger\n"
LOTS = "L1,F1,USD,10000,,\nL2,F1,BTC,50000,,"


@pytest.mark.parametrize(
    ("hedger", "initial", "value", "call"),
    [("false", 46200.0, 28480.0, 17720.0), ("true", 42000.0, 26800.0, 15200.0)],
)
def test_the_digital_cap_is_a_share_of_the_initial_requirement(
    tmp_path: Path, hedger: str, initial: float, value: float, call: float
) -> None:
    """Long 2 ES at 6,000 x 50 (scan range 7%): maintenance 600,000 x 7% = 42,000.
    BTC 50,000 less the pilot's 20% = 40,000, capped at 40% of the initial requirement:
      speculator: initial 110% x 42,000 = 46,200, cap 18,480 (40% of maintenance: 16,800);
        value 10,000 USD + 18,480 = 28,480 < 42,000: the call restores initial,
        46,200 - 28,480 = 17,720.
      hedger: initial = maintenance = 42,000, cap 16,800; value 26,800; no initial multiple,
        so the call is 42,000 - 26,800 = 15,200.
    """
    book = make_book(
        tmp_path,
        f"F1,FOX,FCM1,CFTC,futures,customer,,{hedger}",
        "F1,ES_2609,2",
        LOTS,
        accounts_header=WITH_HEDGER,
    )
    ev = run(book, "cftc")
    d = decision(ev, "ms:F1")
    assert d["maintenance"] == 42000.0
    assert (d["value"], d["call"]) == (value, call)
    btc = ev.frames["lots"].set_index("lot_id").loc["L2"]
    assert btc["value"] == pytest.approx(0.4 * initial)
    assert btc["cap_rule_id"] == "cftc_digital_cap"
