"""CME-FICC pairing of a class group whose futures sit in two maturity buckets, by hand.

A class group hedges the other clearing house with its net DV01 only: DV01 netted inside it
(a calendar spread across buckets) hedges nothing of the notes', and its credit is at most
the rate times its SPAN scanning risk (its calendar-spread charge is never credited). Before
this was held, the pairing matched a bucket's gross DV01 at the class group's scanning risk
per net DV01, and credited many times the class group's risk (docs/domain-decisions.md).

As of 2026-06-30, the demo's instruments: ZN_2609 (x1,000 at 110.50, range 2%, DV01 70,
deliverable UST_2035_08: 9.1 years, the intermediate bucket) and its note (x10 at 98.50,
DV01 0.80, intermediate), plus ZN_2703 (x1,000 at 110.00, range 2%, DV01 68, deliverable
UST_2036_12: 10.5 years, the long bucket) and a 2-year future ZT_2609X in the same class
group UST_10Y (x2,000 at 104.00, range 1%, DV01 38, deliverable 2.0 years: short).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _evaluate_books import decision, make_book, run

from marginlex.audit.explain.amounts import offset_text
from marginlex.audit.ledger.record import rulebook_ref
from marginlex.audit.ledger.recorded_inputs import rulebook_bundle
from marginlex.audit.trace.from_evaluation import decision_traces, trace_bytes, trace_columns
from marginlex.audit.trace.model import as_recorded
from marginlex.audit.trace.steps import OffsetsOutput
from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import load_book, write_book
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.synth.generate import synth_book

XM = "X1,ECHO,BDF1,CFTC,cross_margin,customer,cross_margin\nS1,ECHO,BDF1,SEC,margin,customer,"
EXTRA = (
    "UST_2036_12,ust_note,,UST_10Y,,10,98.00,2036-12-15,,,,,0.82\n"
    "ZN_2703,ust_future,UST_2036_12,UST_10Y,,1000,110.00,2027-03-22,,,,0.02,68.0\n"
    "UST_2028_06,ust_note,,UST_2Y,,10,100.00,2028-06-30,,,,,0.19\n"
    "ZT_2609X,ust_future,UST_2028_06,UST_10Y,,2000,104.00,2026-09-30,,,,0.01,38.0"
)
PAIRING = "cftc_cme_ficc_pairing"


def _run(tmp: Path, positions: str) -> Evaluation:
    return run(make_book(tmp, XM, positions, "L1,X1,USD,100000,,", EXTRA), "cftc")


def _pairs(ev: Evaluation) -> pd.DataFrame:
    offsets = ev.frames["offsets"]
    return offsets[offsets["rule_id"].astype("str") == PAIRING]


def _split(ev: Evaluation) -> pd.Series:
    (row,) = ev.frames["clearing_split"].itertuples(index=False)
    return pd.Series(row._asdict())


def test_a_calendar_spread_siding_with_the_notes_pairs_nothing(tmp_path: Path) -> None:
    """Short 10 ZN Sep (intermediate, DV01 -700, 22,100) and long 11 ZN Mar27 (long, +748,
    24,200) in UST_10Y@CME: at -2% they lose 24,200 - 22,100 = 2,100, plus 10 calendar
    spreads at 200 = 2,000: 4,100. Net DV01 +48, long as the 500 notes' +400 (2% of 492,500 =
    9,850): both lose on a fall, nothing is hedged. 4,100 + 9,850 = 13,950; initial 110%
    15,345. (The old pairing matched the intermediate bucket's gross -700 against the notes'
    400 at 2,100 / 48 = 43.75 per DV01: 14,000 off CME, its calendar charge too, and 7,880
    off FICC: 1,970.)"""
    ev = _run(tmp_path, "X1,ZN_2609,-10\nX1,ZN_2703,11\nS1,UST_2035_08,500")
    d = decision(ev, "ms:X1")
    assert d["maintenance"] == pytest.approx(13_950.0)
    assert d["initial"] == pytest.approx(15_345.0)
    assert _pairs(ev).empty
    split = _split(ev)
    assert split["first_dv01"] == pytest.approx(48.0)
    assert split["dv01_paired"] == pytest.approx(0.0)
    assert split["first_requirement"] == pytest.approx(4_100.0)
    assert split["second_requirement"] == pytest.approx(9_850.0)


def test_a_calendar_spread_pairs_its_net_dv01_at_its_own_risk_per_dv01(tmp_path: Path) -> None:
    """Short 10 ZN Sep (-700), long 10 ZN Mar27 (+680, 22,000): at +2% they lose 22,100 -
    22,000 = 100, plus 2,000 of calendar: 2,100. Net DV01 -20 hedges 20 of the notes' +400,
    in the intermediate bucket at 80%. CME: 100 / 20 = 5 per DV01, credit 80% x 20 x 5 = 80
    (80% of its scanning risk, not of its charge): 2,020. FICC: 9,850 / 400 = 24.625 per
    DV01, credit 80% x 20 x 24.625 = 394: 9,456. 11,476; initial 12,623.60. (Before: 2,470.)
    """
    ev = _run(tmp_path, "X1,ZN_2609,-10\nX1,ZN_2703,10\nS1,UST_2035_08,500")
    assert decision(ev, "ms:X1")["maintenance"] == pytest.approx(11_476.0)
    (row,) = _pairs(ev).itertuples(index=False)
    assert str(row.product_group) == "CME intermediate with FICC intermediate"
    assert row.dv01_matched == pytest.approx(20.0)
    assert (row.first_risk_per_dv01, row.second_risk_per_dv01) == pytest.approx((5.0, 24.625))
    assert (row.first_credit, row.second_credit) == pytest.approx((80.0, 394.0))
    assert row.credit == pytest.approx(474.0)
    split = _split(ev)
    assert split["first_requirement"] == pytest.approx(2_020.0)
    assert split["second_requirement"] == pytest.approx(9_456.0)
    assert split["dv01_paired"] == pytest.approx(20.0)


def test_two_futures_in_one_class_group_credit_at_most_the_rate_of_its_risk(
    tmp_path: Path,
) -> None:
    """Short 10 ZN (intermediate, -700, 22,100 at 2%) and long 10 ZT in the same class group
    (short bucket, +380, 1% of 2,080,000 = 20,800): at +1 range they lose 22,100 - 20,800 =
    1,300, plus 10 calendar spreads (the farther month September, 92 days out, the third
    contract month after June: near tier, decision 49) 10 x 100 = 1,000: 2,300.
    Net DV01 -320, carried by the intermediate bucket, against 600 notes (+480, 2% of 591,000
    = 11,820). `short with short` finds no CME DV01 in the short bucket (its +380 is hedged
    inside the class group); `intermediate with intermediate` pairs 320 at 80%. CME: 1,300 /
    320 per DV01, credit 80% x 1,300 = 1,040: 1,260. FICC: 11,820 / 480 = 24.625, credit 80%
    x 320 x 24.625 = 6,304: 5,516. 6,776. (Before: 4,104, CME credited 1,560 of 1,300; with
    the calendar tier counted in days, 92 > 91.25, the far tier: 7,776.)"""
    ev = _run(tmp_path, "X1,ZN_2609,-10\nX1,ZT_2609X,10\nS1,UST_2035_08,600")
    assert decision(ev, "ms:X1")["maintenance"] == pytest.approx(6_776.0)
    (row,) = _pairs(ev).itertuples(index=False)
    assert str(row.product_group) == "CME intermediate with FICC intermediate"
    assert row.dv01_matched == pytest.approx(320.0)
    assert (row.first_credit, row.second_credit) == pytest.approx((1_040.0, 6_304.0))
    assert _split(ev)["first_requirement"] == pytest.approx(1_260.0)


def test_the_trace_row_recomputes_the_credit(tmp_path: Path) -> None:
    """The pairing's trace row carries the DV01 matched and each leg's risk per DV01 and
    credit (the column-wise bytes are pydantic's), and explain shows them."""
    book = make_book(
        tmp_path, XM, "X1,ZN_2609,-10\nX1,ZN_2703,10\nS1,UST_2035_08,500", "L1,X1,USD,1,,", EXTRA
    )
    rulebook = load_rulebook("cftc")
    ev = run(book, "cftc")
    cols = trace_columns(ev, book, rulebook_ref(rulebook, ev, rulebook_bundle(rulebook)), "t")
    (trace,) = decision_traces(cols)
    assert trace.canonical() == b"".join(body for _, body in trace_bytes(cols))
    step = next(s for s in trace.steps if s.rule_id == PAIRING)
    assert isinstance(step.output, OffsetsOutput)
    (offset,) = step.output.offsets
    assert offset.dv01_matched == 20.0
    assert (offset.first_risk_per_dv01, offset.second_risk_per_dv01) == (5.0, 24.625)
    assert (str(offset.first_credit), str(offset.second_credit)) == ("80.00", "394.00")
    assert "DV01 matched 20: CME leg 80% x 20 x risk per DV01 5 = 80.00" in offset_text(offset)
    other = next(s for s in trace.steps if s.rule_id == "cftc_spread_credits")
    assert b"dv01_matched" not in other.model_dump_json().encode()  # absent, not null
    # a 1.4 recording holds none of them (they came with schema 1.5): replay compares
    # the re-made trace without them
    body = trace.canonical()
    old = as_recorded(body, '{"schema_version":"1.4"}')
    assert b"dv01_matched" not in old and b'"schema_version":"1.4"' in old
    assert as_recorded(body, body) == body


@pytest.mark.parametrize(("accounts", "seed"), [(1500, 3), (4000, 11)])
def test_on_synthetic_books_no_leg_is_credited_past_the_rate_of_its_risk(
    accounts: int, seed: int, tmp_path: Path
) -> None:
    """On generated books: each pairing row's legs' credits are its rate times the DV01 it
    matched times each leg's risk per DV01, and add up to the row's credit; per set and
    house, the pairing's credits are at most 80% (the highest rate) of the house's SPAN
    scanning risk (loss less charges)."""
    meta, frames = synth_book(accounts, seed)
    ev = run(load_book(write_book(meta, frames, tmp_path / "book")), "cftc")
    pairs = _pairs(ev)
    assert len(pairs)
    rate, dv01 = pairs["offset_rate"], pairs["dv01_matched"]
    for side in ("first", "second"):
        expected = rate * dv01 * pairs[f"{side}_risk_per_dv01"]
        assert pairs[f"{side}_credit"].to_numpy() == pytest.approx(expected.to_numpy())
    both = pairs["first_credit"] + pairs["second_credit"]
    assert pairs["credit"].to_numpy() == pytest.approx(both.to_numpy())
    groups = ev.frames["class_groups"]
    name = groups["class_group"].astype("str")
    per_set = pairs.assign(set=pairs["margin_set_id"].astype("str")).groupby("set")
    for side, house in (("first", "CME"), ("second", "FICC")):
        mine = groups[name.str.endswith(f"@{house}")]
        risk = (mine["loss"] - mine["charges"]).groupby(mine["margin_set_id"].astype("str"))
        credit = per_set[f"{side}_credit"].sum()
        assert (credit <= 0.8 * risk.sum().reindex(credit.index) + 0.005).all()
