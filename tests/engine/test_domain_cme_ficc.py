"""CME-FICC customer cross-margining by DV01 (issue 14, section 3), figures by hand.

The shipped `cftc_cme_ficc_pairing`: in a cross-margin set holding both Treasury futures (CME)
and cash Treasuries (FICC), each side is scanned in class groups of its own, and futures are
paired against cash by DV01 within maturity buckets (short: tenor up to 3 years,
intermediate: up to 10, long: otherwise) at 80% on the diagonal and 50% between neighbouring
buckets, in the table's order. As of 2026-06-30; the demo's ZN_2609 (x1,000 at 110.50, scan
range 2%, DV01 70, deliverable UST_2035_08) and its 10-year note (x10 at 98.50, DV01 0.80).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _evaluate_books import ACCOUNTS_HEADER, decision, make_book, run
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.dsl.loader import load_rulebook, shipped_dir
from marginlex.engine.book.load import load_book, load_demo_book, write_book
from marginlex.engine.evaluate import evaluate
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.synth.generate import synth_book

XM = "X1,ECHO,BDF1,CFTC,cross_margin,customer,cross_margin\nS1,ECHO,BDF1,SEC,margin,customer,"
# A 2-year note (tenor 2.0: short bucket) and its future, and a 30-year bond (long bucket).
EXTRA = (
    "UST_2028_06,ust_note,,UST_2Y,,10,100.00,2028-06-30,,,,,0.19\n"
    "ZT_2609,ust_future,UST_2028_06,UST_2Y,,2000,104.00,2026-09-30,,,,0.005,38.0\n"
    "UST_2056_05,ust_bond,,UST_30Y,,10,90.00,2056-05-15,,,,,2.00"
)


def _run(tmp: Path, positions: str, rulebook: str = "cftc") -> Evaluation:
    book = make_book(tmp, XM, positions, "L1,X1,USD,1000000,,", EXTRA)
    return run(book, rulebook)


def _split(ev: Evaluation) -> pd.Series:
    frame = ev.frames["clearing_split"]
    assert len(frame) == 1
    return frame.iloc[0]


def test_the_demo_hedge_is_paired_by_dv01_at_80_percent() -> None:
    """Short 57 ZN (DV01 -3,990) against 5,000 notes taken in (+4,000), both in the
    intermediate bucket. CME scans the futures alone: 57 x 110,500 x 2% = 125,970; FICC the
    notes: 4,925,000 x 2% = 98,500. Paired 3,990: the futures match all their risk, credit
    80% x 125,970 = 100,776, left 25,194; the notes match 3,990 x 98,500 / 4,000 =
    98,253.75, credit 78,603, left 19,897. Maintenance 45,091; initial 110%: 49,600.10, of
    which 4,509.10 is the carrying firm's above the two clearing houses'."""
    ev = run(load_demo_book(), "cftc")
    d = decision(ev, "ms:A06_ECHO_XM")
    assert d["maintenance"] == pytest.approx(45_091.0)
    assert d["initial"] == pytest.approx(49_600.10)
    groups = ev.frames["class_groups"]
    mine = groups[groups["margin_set_id"].astype("str") == "ms:A06_ECHO_XM"]
    assert sorted(mine["class_group"].astype("str")) == ["UST_10Y@CME", "UST_10Y@FICC"]
    split = _split(ev)
    assert (split["first_house"], split["second_house"]) == ("CME", "FICC")
    assert split["first_dv01"] == pytest.approx(-3_990.0)
    assert split["second_dv01"] == pytest.approx(4_000.0)
    assert split["dv01_paired"] == pytest.approx(3_990.0)
    assert split["first_requirement"] == pytest.approx(25_194.0)
    assert split["second_requirement"] == pytest.approx(19_897.0)
    assert split["carrier_requirement"] == pytest.approx(4_509.10)
    offsets = ev.frames["offsets"]
    row = offsets[offsets["rule_id"].astype("str") == "cftc_cme_ficc_pairing"].iloc[0]
    assert str(row["product_group"]) == "CME intermediate with FICC intermediate"
    assert row["credit"] == pytest.approx(179_379.0)
    assert row["gains_at_worst"] == pytest.approx(224_223.75)  # the risk matched
    assert row["losses_at_worst"] == pytest.approx(224_470.0)  # the legs' risk


def test_rows_are_taken_in_priority_order(tmp_path: Path) -> None:
    """Long 10 ZT (short bucket, DV01 +380; 0.5% x 10 x 104 x 2,000 = 10,400) and short 1,000
    2-year notes (short bucket, -190; 2% x 1,000,000 = 20,000) and short 1,000 10-year
    notes (intermediate, -800; 2% x 985,000 = 19,700). `short with short 80%` comes first
    and takes 190 of ZT's 380; `short with intermediate 50%` then takes the other 190.
    ZT: 10,400 / 380 = 27.368... per DV01: credits 80% x 190 x 27.37 + 50% x 190 x 27.37 =
    4,160 + 2,600 = 6,760, left 3,640. 2-year notes: all 190 matched at 80%: 16,000 off,
    4,000 left. 10-year notes: 190 of 800 at 50%: 50% x 190 x 24.625 = 2,339.375, left
    17,360.625. Maintenance 25,000.625 (the cents are rounded in the decision)."""
    ev = _run(tmp_path, "X1,ZT_2609,10\nS1,UST_2028_06,-1000\nS1,UST_2035_08,-1000")
    d = decision(ev, "ms:X1")
    assert d["maintenance"] == pytest.approx(25_000.63, abs=0.006)
    offsets = ev.frames["offsets"]
    pairs = offsets[offsets["rule_id"].astype("str") == "cftc_cme_ficc_pairing"]
    by_row = dict(zip(pairs["product_group"].astype("str"), pairs["credit"], strict=True))
    assert by_row == pytest.approx(
        {
            "CME short with FICC short": 4_160.0 + 16_000.0,
            "CME short with FICC intermediate": 2_600.0 + 2_339.375,
        }
    )
    assert _split(ev)["dv01_paired"] == pytest.approx(380.0)


def test_a_later_pairing_row_counts_what_the_earlier_rows_left_of_a_shared_leg(
    tmp_path: Path,
) -> None:
    """The two bucket pairs of the book above, as explain shows them. ZT's leg (risk
    10,400, 27.368421 per DV01) is in both rows.

    Row 1, CME short with FICC short: legs' risk 10,400 + 20,000 = 30,400, credit 4,160 +
    16,000 = 20,160, leaving 10,240 (ZT 6,240, 2-year notes 4,000).
    Row 2, CME short with FICC intermediate: ZT has 10,400 - 4,160 = 6,240 left, the
    10-year notes their whole 19,700: legs' risk 25,940; credit 2,600 + 2,339.375 =
    4,939.38; leaving 25,940 - 4,939.375 = 21,000.625 = ZT 3,640 (the CME figure) + the
    10-year notes 17,360.625. It said "legs' risk 30,100.00" (ZT's 10,400 counted whole a
    second time) and "leaving 25,160.63", which no figure of the decision explains.
    Check: 10,240 - 6,240 + 21,000.625 = 25,000.625, the maintenance; CME 3,640, FICC
    4,000 + 17,360.625 = 21,360.625."""
    positions = "X1,ZT_2609,10\nS1,UST_2028_06,-1000\nS1,UST_2035_08,-1000"
    make_book(tmp_path, XM, positions, "L1,X1,USD,1000000,,", EXTRA)
    ev = run(load_book(tmp_path / "book"), "cftc")
    offsets = ev.frames["offsets"]
    pairs = offsets[offsets["rule_id"].astype("str") == "cftc_cme_ficc_pairing"]
    by_row = pairs.set_index(pairs["product_group"].astype("str"))
    second = by_row.loc["CME short with FICC intermediate"]
    assert second["class_group_requirements"] == pytest.approx(25_940.0)
    assert second["requirement"] == pytest.approx(21_000.625)
    first = by_row.loc["CME short with FICC short"]
    assert first["class_group_requirements"] == pytest.approx(30_400.0)
    assert first["requirement"] == pytest.approx(10_240.0)
    split = _split(ev)
    assert split["first_requirement"] + split["second_requirement"] == pytest.approx(
        first["requirement"] - 6_240.0 + second["requirement"]
    )
    result = CliRunner().invoke(
        app, ["explain", "cftc:ms:X1", "--rulebook", "cftc", "--book", str(tmp_path / "book")]
    )
    assert result.exit_code == 0, result.output
    text = result.output
    assert (
        "CME short with FICC short: 80% per leg of the matched risk 25,200.00, legs' risk "
        "30,400.00 (" in text
    )
    assert "credit 20,160.00, leaving 10,240.00 of the legs' risk" in text
    assert (
        "CME short with FICC intermediate: 50% per leg of the matched risk 9,878.75, legs' "
        "risk left after earlier pairings 25,940.00 (" in text
    )
    assert "credit 4,939.38, leaving 21,000.63 of the legs' risk" in text
    assert "30,100.00" not in text and "25,160.63" not in text


def test_a_long_bond_pairs_in_the_otherwise_bucket_only_with_its_neighbour(
    tmp_path: Path,
) -> None:
    """Short 10 ZT (short bucket) against 1,000 30-year bonds (long bucket): no row pairs
    short with long, so nothing is paired and each house charges its side alone: 10,400 +
    2% x 900,000 = 18,000: 28,400."""
    ev = _run(tmp_path, "X1,ZT_2609,-10\nS1,UST_2056_05,1000")
    assert decision(ev, "ms:X1")["maintenance"] == pytest.approx(28_400.0)
    assert _split(ev)["dv01_paired"] == pytest.approx(0.0)
    offsets = ev.frames["offsets"]
    assert not (offsets["rule_id"].astype("str") == "cftc_cme_ficc_pairing").any()


def test_without_dv01_nothing_is_paired_and_each_house_margins_its_side(tmp_path: Path) -> None:
    """The book's `dv01` is optional: a position without one is not paired. Short 57 ZN and
    5,000 notes with the DV01 column blank: 125,970 + 98,500 = 224,470."""
    make_book(tmp_path, XM, "X1,ZN_2609,-57\nS1,UST_2035_08,5000", "L1,X1,USD,1000000,,")
    folder = tmp_path / "book"
    inst = pd.read_csv(folder / "instruments.csv", dtype=str, keep_default_na=False)
    inst["dv01"] = ""
    inst.to_csv(folder / "instruments.csv", index=False)
    book = load_book(folder)
    ev = run(book, "cftc")
    assert decision(ev, "ms:X1")["maintenance"] == pytest.approx(224_470.0)


def test_a_set_with_one_side_keeps_its_class_groups(tmp_path: Path) -> None:
    """A futures-only cross-margin account is scanned as before: class group UST_10Y, no
    split, no pairing row."""
    ev = _run(tmp_path, "X1,ZN_2609,-57")
    groups = ev.frames["class_groups"]
    assert groups["class_group"].astype("str").tolist() == ["UST_10Y"]
    assert ev.frames["clearing_split"].empty
    assert decision(ev, "ms:X1")["maintenance"] == pytest.approx(125_970.0)


def test_point_by_point_credits_leave_the_paired_class_groups_to_the_pairing(
    tmp_path: Path,
) -> None:
    """With `credit between class groups` (point by point) instead of SPAN's per-leg
    credits, the paired class groups stand alone and take the pairing: the demo hedge is
    charged 45,091 either way."""
    text = (shipped_dir() / "cftc.mlx").read_text(encoding="utf-8")
    text = text.replace("rulebook cftc ", "rulebook cftc_probe ")
    assert "credit each leg between class groups" in text
    text = text.replace("credit each leg between class groups", "credit between class groups")
    path = tmp_path / "cftc_probe.mlx"
    path.write_text(text, encoding="utf-8")
    book = make_book(tmp_path, XM, "X1,ZN_2609,-57\nS1,UST_2035_08,5000", "L1,X1,USD,1000000,,")
    ev = evaluate(compile_plan(load_rulebook(path), book.as_of), book)
    assert decision(ev, "ms:X1")["maintenance"] == pytest.approx(45_091.0)
    assert _split(ev)["first_requirement"] == pytest.approx(25_194.0)


def test_a_hedgers_carrying_firm_share_is_its_maintenance_less_the_houses(
    tmp_path: Path,
) -> None:
    """A hedger: short 57 ZN against 5,000 notes taken in, as the demo's Echo,
    but a bona fide hedger, so no initial rule applies and its initial requirement is its
    maintenance, 45,091 (CME: hedge initial = maintenance). CME 25,194, FICC 19,897: the
    carrying firm's share is 45,091 - 25,194 - 19,897 = 0.00 (the split said initial NaN,
    carrier NaN, which explain printed as "carrying firm 0.00 = initial 0.00 - CME
    25,194.00 - FICC 19,897.00")."""
    book = make_book(
        tmp_path,
        "X1,ECHO,BDF1,CFTC,cross_margin,customer,cross_margin,true\n"
        "S1,ECHO,BDF1,SEC,margin,customer,,",
        "X1,ZN_2609,-57\nS1,UST_2035_08,5000",
        "L1,X1,USD,1000000,,",
        EXTRA,
        accounts_header=ACCOUNTS_HEADER.rstrip("\n") + ",hedger\n",
    )
    ev = run(book, "cftc")
    d = decision(ev, "ms:X1")
    assert d["maintenance"] == pytest.approx(45_091.0)
    assert pd.isna(d["initial"]) or d["initial"] == pytest.approx(45_091.0)
    split = _split(ev)
    assert split["first_requirement"] == pytest.approx(25_194.0)
    assert split["second_requirement"] == pytest.approx(19_897.0)
    assert split["initial"] == pytest.approx(45_091.0)
    assert split["carrier_requirement"] == pytest.approx(0.0)


@pytest.mark.parametrize(("accounts", "seed"), [(1500, 3), (4000, 11)])
def test_on_synthetic_books_the_pairing_adds_up(accounts: int, seed: int, tmp_path: Path) -> None:
    """On generated books: every paired set's credits (the pairing's rows and the SPAN
    spread credits) add up to its class groups' stand-alone requirements less its
    maintenance, each house's figure is at most its class groups' stand-alone one, the
    pairing gives some credit, and the carrier's share is the initial requirement less both
    houses'."""
    meta, frames = synth_book(accounts, seed)
    book = load_book(write_book(meta, frames, tmp_path / "book"))
    ev = run(book, "cftc")
    split = ev.frames["clearing_split"]
    assert len(split), "the generator makes DV01-hedged cross-margin customers"
    groups = ev.frames["class_groups"]
    cg = groups.assign(
        set=groups["margin_set_id"].astype("str"), name=groups["class_group"].astype("str")
    )
    total = cg.groupby("set")["requirement"].sum()
    standalone = {
        house: cg[cg["name"].str.endswith(f"@{house}")].groupby("set")["requirement"].sum()
        for house in ("CME", "FICC")
    }
    offsets = ev.frames["offsets"].assign(set=lambda f: f["margin_set_id"].astype("str"))
    credit = offsets.groupby("set")["credit"].sum()
    pairs = offsets[offsets["rule_id"].astype("str") == "cftc_cme_ficc_pairing"]
    assert pairs["credit"].sum() > 0
    decided = ev.decisions.set_index("margin_set_id")
    for _, row in split.iterrows():
        s = str(row["margin_set_id"])
        # the frame's money is to the cent: half a cent of rounding
        assert row["first_requirement"] <= standalone["CME"].get(s, 0.0) + 0.005
        assert row["second_requirement"] <= standalone["FICC"].get(s, 0.0) + 0.005
        maintenance = decided.loc[s, "maintenance"]
        assert credit.get(s, 0.0) == pytest.approx(total[s] - maintenance, abs=0.006)
        houses = row["first_requirement"] + row["second_requirement"]
        assert houses <= maintenance + 0.006
        initial = decided.loc[s, "initial"]
        assert row["carrier_requirement"] == pytest.approx(initial - houses, abs=1e-6)
        amounts = [row[c] for c in ("first_requirement", "second_requirement", "initial")]
        assert [round(a, 2) for a in amounts] == amounts  # to the cent
        assert row["dv01_paired"] >= 0.0
