"""The numpy floor of ``bench/bench_run.py`` computes marginlex's SEC requirement.

The floor (``bench/sec_floor.py``) is hand-written numpy with no marginlex evaluation code;
the ratio bench_run reports means something only while both compute the same figures. Each
SEC margin set's maintenance requirement is compared to the cent, on synthetic books of three
seeds and two sizes whose optional cells are partly blank (index class, class group,
multiplier, maturity, pledged_to, scan range), so the floor cannot silently drift again when
the rulebook or the engine changes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import Book, load_book, write_book
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.phases.margin import method_of_sets, run_methods
from marginlex.engine.phases.offsets import run_offsets
from marginlex.engine.phases.sets import run_eligibility, run_margin_sets, run_scope
from marginlex.engine.phases.state import RunState
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.plan.context import build_contexts
from marginlex.engine.synth.generate import synth_book

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from sec_floor import floor_sec

BLANKABLE = {
    "instruments": ("index_class", "class_group", "multiplier", "maturity", "scan_range"),
    "collateral": ("pledged_to",),
}


def _book(accounts: int, seed: int, tmp_path: Path) -> Book:
    meta, frames = synth_book(accounts, seed)
    for table, columns in BLANKABLE.items():  # the floor must read blank cells as the engine
        for column in columns:
            assert frames[table][column].isna().any(), f"{table}.{column} has no blank cell"
    return load_book(write_book(meta, frames, tmp_path / "book", fmt="parquet"))


def _marginlex(book: Book) -> tuple[pd.Series, np.ndarray]:
    """SEC maintenance requirement per margin set, and which accounts are eligible."""
    graph = AccountGraph(book)
    state = RunState(
        compile_plan(load_rulebook("sec"), book.as_of),
        book,
        graph,
        build_contexts(book, book.as_of, graph),
    )
    run_scope(state)
    run_eligibility(state)
    run_margin_sets(state)
    total = run_offsets(state, run_methods(state, method_of_sets(state)))
    return pd.Series(total, index=state.set_ids), state.eligible[state.in_scope]


HAND_HEADERS = {
    "accounts.csv": "account_id,owner_id,carrier_id,regime,kind,origin,agreements\n",
    "instruments.csv": "instrument_id,product,underlying,class_group,index_class,"
    "multiplier,price,maturity,option_type,strike,implied_vol\nXYZ,stock,,XYZ,,1,100,,,,\n",
    "positions.csv": "account_id,instrument_id,quantity\n",
    "collateral.csv": "lot_id,account_id,asset,market_value,maturity,pledged_to\n",
}


def _xyz_book(tmp_path: Path, **rows: str) -> Book:
    """A hand book as of 2026-06-30: the broker-dealer BD, ANN (an individual approved for
    uncovered options) and XYZ at 100, with ``rows`` under each file's header (``accounts``,
    ``instruments``, ``positions``, ``collateral``; a ``collateral_header`` replaces that
    file's header)."""
    folder = tmp_path / "hand"
    folder.mkdir()
    headers = dict(HAND_HEADERS)
    if "collateral_header" in rows:
        headers["collateral.csv"] = rows.pop("collateral_header")
    (folder / "book.json").write_text('{"name": "hand", "as_of": "2026-06-30", "currency": "USD"}')
    (folder / "parties.csv").write_text(
        "party_id,name,kind,ecp,options_approval\n"
        "BD,BD,broker_dealer,true,none\nANN,Ann,individual,false,uncovered\n"
    )
    for name, header in headers.items():
        (folder / name).write_text(header + rows.get(name.removesuffix(".csv"), ""))
    return load_book(folder)


@pytest.mark.parametrize("accounts", [200, 1500])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_floor_sets_equal_marginlex_to_the_cent(accounts: int, seed: int, tmp_path: Path) -> None:
    book = _book(accounts, seed, tmp_path)
    ours, eligible = _marginlex(book)
    _, floor = floor_sec(book)
    assert eligible.any() and not eligible.all()  # both methods decide some sets
    assert sorted(floor.index) == sorted(ours.index)
    diff = (floor.reindex(ours.index) - ours).abs()
    worst = diff.idxmax()
    assert diff.max() < 0.005, f"{worst}: floor {floor[worst]:,.2f}, marginlex {ours[worst]:,.2f}"
    assert (ours > 0).sum() > len(ours) // 2  # requirements, not a book of zeros


def test_floor_leaves_given_up_treasuries_out(tmp_path: Path) -> None:
    """Hand case: one SEC margin account holding a cash note (strategy-based, 1% under a
    year) whose owner@carrier has a CFTC cross-margin account at a bd_fcm member of FICC and
    CME: the note goes to the cross-margin set, the SEC account is charged 25% of its stock."""
    book = _hand_book(tmp_path, cross_margin=True)
    _, floor = floor_sec(book)
    ours, _ = _marginlex(book)
    assert floor["ms:A1"] == pytest.approx(0.25 * 100 * 50.0)  # 1,250: the stock alone
    assert ours["ms:A1"] == pytest.approx(floor["ms:A1"])
    _, without = floor_sec(_hand_book(tmp_path / "plain", cross_margin=False))
    assert without["ms:A1"] == pytest.approx(1_250.0 + 0.01 * 1_000_000 * 0.99)  # + 9,900


def _hand_book(folder: Path, *, cross_margin: bool) -> Book:
    files = {
        "book.json": '{"name": "hand", "as_of": "2026-03-02", "currency": "USD"}',
        "parties.csv": "party_id,name,kind,ecp,options_approval\n"
        "FICC,FICC,clearing_agency,true,none\nCME,CME,dco,true,none\n"
        "BDF,Dual,bd_fcm,true,none\nANN,Ann,individual,false,covered\n",
        "relations.csv": "src,dst,relation\nBDF,FICC,member_of\nBDF,CME,member_of\n",
        "accounts.csv": "account_id,owner_id,carrier_id,regime,kind,origin,agreements\n"
        "A1,ANN,BDF,SEC,margin,customer,\n"
        f"F1,ANN,BDF,CFTC,futures,customer,{'cross_margin' if cross_margin else ''}\n",
        "instruments.csv": "instrument_id,product,underlying,class_group,index_class,"
        "multiplier,price,maturity,option_type,strike,implied_vol\n"
        "XYZ,stock,,XYZ,,1,50,,,,\nUST1,ust_note,,UST,,1,0.99,2026-09-30,,,\n",
        "positions.csv": "account_id,instrument_id,quantity\nA1,XYZ,100\nA1,UST1,1000000\n",
        "collateral.csv": "lot_id,account_id,asset,market_value,maturity,pledged_to\n"
        "L1,A1,USD,10000,,\n",
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return load_book(folder)


def test_floor_covers_puts_by_short_stock_and_credits_a_cash_accounts_covered_call(
    tmp_path: Path,
) -> None:
    """Hand case (synthetic books hold no short stock): M1, a margin account, short 150 XYZ
    at 100 and 2 puts struck at 100 (5.60): one covered, the other 560 + 2,000 = 2,560, the
    stock 30% x 15,000 = 4,500: 7,060 (decision 36). C1, a cash account, long 100 XYZ and
    short 1 call struck at 50 (50.00): 10,000 less the covered call's 5,000 premium = 5,000
    (decision 35)."""
    folder = tmp_path / "hand"
    folder.mkdir()
    files = {
        "book.json": '{"name": "hand", "as_of": "2026-06-30", "currency": "USD"}',
        "parties.csv": "party_id,name,kind,ecp,options_approval\n"
        "BD,BD,broker_dealer,true,none\nANN,Ann,individual,false,uncovered\n",
        "accounts.csv": "account_id,owner_id,carrier_id,regime,kind,origin,agreements\n"
        "M1,ANN,BD,SEC,margin,customer,\nC1,ANN,BD,SEC,cash,customer,\n",
        "instruments.csv": "instrument_id,product,underlying,class_group,index_class,"
        "multiplier,price,maturity,option_type,strike,implied_vol\n"
        "XYZ,stock,,XYZ,,1,100,,,,\n"
        "P100,equity_option,XYZ,XYZ,,100,5.60,2026-09-18,put,100,0.3\n"
        "C50,equity_option,XYZ,XYZ,,100,50.00,2026-09-18,call,50,0.3\n",
        "positions.csv": "account_id,instrument_id,quantity\n"
        "M1,XYZ,-150\nM1,P100,-2\nC1,XYZ,100\nC1,C50,-1\n",
        "collateral.csv": "lot_id,account_id,asset,market_value,maturity,pledged_to\n"
        "L1,M1,USD,30000,,\n",
    }
    for name, text in files.items():
        (folder / name).write_text(text)
    book = load_book(folder)
    _, floor = floor_sec(book)
    ours, _ = _marginlex(book)
    assert floor["ms:M1"] == pytest.approx(7_060.0)
    assert floor["ms:C1"] == pytest.approx(5_000.0)
    assert ours.to_dict() == pytest.approx(floor.to_dict())


def test_floor_charges_no_expired_option_and_a_house_short_option_its_deduction(
    tmp_path: Path,
) -> None:
    """Hand case (synthetic books hold no expired option; docs/domain-decisions.md row 38):
    as of 2026-06-30, C105 expired 2026-06-19 (marked 0.05), C95 expires on the as-of date
    (5.00). M1, a margin account, short 1 C105 and short 1 C95: the expired call 0 (live, it
    was 5 + 2,000 - 500 = 1,505), the C95 call 500 + 2,000 = 2,500. P1, portfolio margin
    with 200,000: short 10 C105, no P&L and no minimum: 0 (priced at intrinsic value it lost
    10 x 100 x (115 - 105) = 10,000 at +15%)."""
    folder = tmp_path / "hand"
    folder.mkdir()
    files = {
        "book.json": '{"name": "hand", "as_of": "2026-06-30", "currency": "USD"}',
        "parties.csv": "party_id,name,kind,ecp,options_approval\n"
        "BD,BD,broker_dealer,true,none\nANN,Ann,individual,false,uncovered\n",
        "accounts.csv": "account_id,owner_id,carrier_id,regime,kind,origin,agreements\n"
        "M1,ANN,BD,SEC,margin,customer,\n"
        "P1,ANN,BD,SEC,portfolio_margin,customer,portfolio_margin\n"
        "H1,BD,BD,SEC,margin,house,\n",
        "instruments.csv": "instrument_id,product,underlying,class_group,index_class,"
        "multiplier,price,maturity,option_type,strike,implied_vol\n"
        "XYZ,stock,,XYZ,,1,100,,,,\n"
        "C105,equity_option,XYZ,XYZ,,100,0.05,2026-06-19,call,105,0.3\n"
        "C95,equity_option,XYZ,XYZ,,100,5.00,2026-06-30,call,95,0.3\n"
        "C150,equity_option,XYZ,XYZ,,100,0.50,2026-09-18,call,150,0.3\n",
        "positions.csv": "account_id,instrument_id,quantity\nM1,C105,-1\nM1,C95,-1\n"
        "P1,C105,-10\nH1,C95,-1\nH1,C150,-1\n",
        "collateral.csv": "lot_id,account_id,asset,market_value,maturity,pledged_to\n"
        "L1,M1,USD,30000,,\nL2,P1,USD,200000,,\n",
    }
    for name, text in files.items():
        (folder / name).write_text(text)
    book = load_book(folder)
    _, floor = floor_sec(book)
    ours, _ = _marginlex(book)
    assert floor["ms:M1"] == pytest.approx(2_500.0)
    assert floor["ms:P1"] == pytest.approx(0.0)
    # H1, BD's own account (decision 40): C95 15% x 10,000 - 0 = 1,500; C150 max(1,500 -
    # 5,000, 7.5% x 10,000, 2.50 x 100) = 750
    assert floor["ms:H1"] == pytest.approx(2_250.0)
    assert ours.to_dict() == pytest.approx(floor.to_dict())


def test_floor_covers_a_short_call_by_a_stock_lot(tmp_path: Path) -> None:
    """Hand case (decision 41): M1, a margin account, short 2 XYZ 100 calls (5.60) beside a
    lot of 150 XYZ shares (15,000) that names its stock: one call covered, the other 560 +
    20% x 10,000 = 2,560. C1, a cash account, the same: the lot covers nothing there, each
    call 10,000 - 560 = 9,440 held in cash: 18,880."""
    book = _xyz_book(
        tmp_path,
        accounts="M1,ANN,BD,SEC,margin,customer,\nC1,ANN,BD,SEC,cash,customer,\n",
        instruments="C100,equity_option,XYZ,XYZ,,100,5.60,2026-09-18,call,100,0.3\n",
        positions="M1,C100,-2\nC1,C100,-2\n",
        collateral_header="lot_id,account_id,asset,market_value,maturity,pledged_to,instrument_id\n",
        collateral="L1,M1,STOCK,15000,,,XYZ\nL2,C1,STOCK,15000,,,XYZ\n",
    )
    _, floor = floor_sec(book)
    ours, _ = _marginlex(book)
    assert floor["ms:M1"] == pytest.approx(2_560.0)
    assert floor["ms:C1"] == pytest.approx(18_880.0)
    assert ours.to_dict() == pytest.approx(floor.to_dict())


def test_floor_charges_an_iron_condor_and_a_short_box_one_side(tmp_path: Path) -> None:
    """Hand case (synthetic books hold no iron condor): M1 short 2 XYZ 100 puts (5.60), long
    2 XYZ 80 puts (0.40), short 2 XYZ 110 calls (1.80), long 2 XYZ 120 calls (0.50): per pair
    the wider side 100 x 20 = 2,000 less both credits (520 + 130): 1,350, x 2 = 2,700 (the
    spreads apart 2 x (1,480 + 870) = 4,700). M2 a short box: short 1 XYZ 100 call (5.60),
    long 1 XYZ 110 call (1.80), short 1 XYZ 110 put (11.50), long 1 XYZ 100 put (5.60): the
    width 1,000 less both credits (380 + 590) = 30 (apart 620 + 410 = 1,030)."""
    book = _xyz_book(
        tmp_path,
        accounts="M1,ANN,BD,SEC,margin,customer,\nM2,ANN,BD,SEC,margin,customer,\n",
        instruments="P80,equity_option,XYZ,XYZ,,100,0.40,2026-09-18,put,80,0.3\n"
        "P100,equity_option,XYZ,XYZ,,100,5.60,2026-09-18,put,100,0.3\n"
        "P110,equity_option,XYZ,XYZ,,100,11.50,2026-09-18,put,110,0.3\n"
        "C100,equity_option,XYZ,XYZ,,100,5.60,2026-09-18,call,100,0.3\n"
        "C110,equity_option,XYZ,XYZ,,100,1.80,2026-09-18,call,110,0.3\n"
        "C120,equity_option,XYZ,XYZ,,100,0.50,2026-09-18,call,120,0.3\n",
        positions="M1,P100,-2\nM1,P80,2\nM1,C110,-2\nM1,C120,2\n"
        "M2,C100,-1\nM2,C110,1\nM2,P110,-1\nM2,P100,1\n",
        collateral="L1,M1,USD,30000,,\nL2,M2,USD,30000,,\n",
    )
    _, floor = floor_sec(book)
    ours, _ = _marginlex(book)
    assert floor["ms:M1"] == pytest.approx(2_700.0)
    assert floor["ms:M2"] == pytest.approx(30.0)
    assert ours.to_dict() == pytest.approx(floor.to_dict())


def test_floor_pairs_a_long_the_first_pass_found_too_early(tmp_path: Path) -> None:
    """Hand case (decision 51): M1 short 1 XYZ 100 call of December (8.00), short 1 XYZ 105
    call of September (5.00), long 1 XYZ 100 call of September (5.60). The September pair is
    a debit spread, (5.60 - 5.00) x 100 = 60; the December call alone 800 + 20% x 10,000 =
    2,800: 2,860 (the first pass alone, the long matched to the December short and dropped:
    560 + 2,800 + 2,000 = 5,360)."""
    book = _xyz_book(
        tmp_path,
        accounts="M1,ANN,BD,SEC,margin,customer,\n",
        instruments="C100,equity_option,XYZ,XYZ,,100,5.60,2026-09-18,call,100,0.3\n"
        "C105,equity_option,XYZ,XYZ,,100,5.00,2026-09-18,call,105,0.3\n"
        "C100D,equity_option,XYZ,XYZ,,100,8.00,2026-12-18,call,100,0.3\n",
        positions="M1,C100D,-1\nM1,C105,-1\nM1,C100,1\n",
        collateral="L1,M1,USD,30000,,\n",
    )
    _, floor = floor_sec(book)
    ours, _ = _marginlex(book)
    assert floor["ms:M1"] == pytest.approx(2_860.0)
    assert ours.to_dict() == pytest.approx(floor.to_dict())
