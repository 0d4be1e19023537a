"""Fixtures of the books area: a small hand-made book whose graph columns are worked out
by hand in tests/engine/test_graph.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from marginlex.engine.book.load import Book, load_book

GRAPH_BOOK = {
    "parties.csv": """party_id,name,kind,ecp,options_approval
OCC,OCC,clearing_agency,true,none
CME,CME,dco,true,none
BDF,Dual Registrant,bd_fcm,true,none
BD,Broker,broker_dealer,true,none
FCM,Futures Merchant,fcm,true,none
ANN,Ann,individual,false,uncovered
FUND,Fund LP,institution,true,uncovered
GUAR,Guarantor Inc,institution,true,none
""",
    "relations.csv": """src,dst,relation
BDF,OCC,member_of
BDF,CME,member_of
BD,OCC,member_of
FCM,CME,member_of
BD,FUND,affiliate_of
GUAR,ANN,guarantees
""",
    "accounts.csv": """account_id,owner_id,carrier_id,regime,kind,origin,agreements
A_SEC,ANN,BDF,SEC,margin,customer,cross_margin
A_FUT,ANN,BDF,CFTC,futures,customer,cross_margin;subordination
F_PM,FUND,BD,SEC,portfolio_margin,customer,portfolio_margin
F_FUT,FUND,FCM,CFTC,futures,customer,
H_BDF,BDF,BDF,CFTC,futures,house,
""",
    "instruments.csv": """\
instrument_id,product,underlying,multiplier,price,maturity,option_type,strike,implied_vol
STK,stock,,,10,,,,
OPT,equity_option,STK,100,0.5,2026-09-18,put,9,0.3
FUT,index_future,,50,100,2026-09-18,,,
SW,sbs,STK,,10,2027-06-30,,,
""",
    "positions.csv": """account_id,instrument_id,quantity
A_SEC,STK,100
A_SEC,OPT,-2
A_FUT,FUT,3
F_PM,SW,10
H_BDF,FUT,-1
""",
    "collateral.csv": """lot_id,account_id,asset,market_value,maturity,pledged_to
L1,A_SEC,USD,500,,
L2,A_SEC,UST_BILL,200,2026-12-31,A_FUT
L3,A_FUT,BTC,300,,H_BDF
L4,F_PM,USD,1000,,
L5,H_BDF,USD,50,,
""",
}


def write_text_book(folder: Path, files: dict[str, str]) -> Path:
    """Write CSV texts and a book.json into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"as_of": "2026-06-30", "currency": "USD", "name": "graph test book"}
    (folder / "book.json").write_text(json.dumps(meta))
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


@pytest.fixture(scope="module")
def graph_book(tmp_path_factory: pytest.TempPathFactory) -> Book:
    return load_book(write_text_book(tmp_path_factory.mktemp("graph"), GRAPH_BOOK))
