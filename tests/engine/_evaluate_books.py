"""Small hand-made books for the evaluator tests: the demo book's parties, relations and
instruments, with accounts, positions and collateral written inline by each test."""

from __future__ import annotations

import datetime as dt
import math
import re
import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pandas as pd

from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import DEMO_PACKAGE, Book, load_book
from marginlex.engine.evaluate import evaluate
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.plan.compile import compile_plan

AS_OF = dt.date(2026, 6, 30)
ACCOUNTS_HEADER = "account_id,owner_id,carrier_id,regime,kind,origin,agreements\n"
POSITIONS_HEADER = "account_id,instrument_id,quantity\n"
COLLATERAL_HEADER = "lot_id,account_id,asset,market_value,maturity,pledged_to\n"
INSTRUMENTS_HEADER = (
    "instrument_id,product,underlying,class_group,index_class,multiplier,price,maturity,"
    "option_type,strike,implied_vol,scan_range,dv01\n"
)


def demo_folder() -> Path:
    """The shipped demo book folder."""
    return Path(str(resources.files(DEMO_PACKAGE)))


def make_book(
    tmp: Path,
    accounts: str,
    positions: str,
    collateral: str,
    extra_instruments: str = "",
    repledges: str = "",
    accounts_header: str = ACCOUNTS_HEADER,
) -> Book:
    """A book: demo parties, relations between parties and instruments (plus
    ``extra_instruments`` rows), and the given accounts, positions, collateral and
    account-to-account ``rehypothecated_to`` rows (``src,dst`` lines; CSV without header);
    ``accounts_header`` names the accounts columns (e.g. with the optional ``hedger``)."""
    folder = tmp / "book"
    shutil.copytree(demo_folder(), folder, dirs_exist_ok=True)
    relations = (folder / "relations.csv").read_text().splitlines()
    kept = [r for r in relations if not r.endswith(",rehypothecated_to")]
    kept += [f"{r.strip()},rehypothecated_to" for r in repledges.strip().splitlines()]
    (folder / "relations.csv").write_text("\n".join(kept) + "\n")
    (folder / "accounts.csv").write_text(accounts_header + accounts.strip() + "\n")
    body = positions.strip() + "\n" if positions.strip() else ""
    (folder / "positions.csv").write_text(POSITIONS_HEADER + body)
    (folder / "collateral.csv").write_text(COLLATERAL_HEADER + collateral.strip() + "\n")
    if extra_instruments.strip():
        inst = (folder / "instruments.csv").read_text().rstrip("\n") + "\n"
        (folder / "instruments.csv").write_text(inst + extra_instruments.strip() + "\n")
    return load_book(folder)


def run(book: Book, rulebook: str) -> Evaluation:
    """Evaluate a shipped rulebook on a book as of its date."""
    return evaluate(compile_plan(load_rulebook(rulebook), book.as_of), book)


def decision(ev: Evaluation, margin_set_id: str) -> pd.Series:
    """The decision row of one margin set."""
    d = ev.decisions.set_index("margin_set_id")
    return d.loc[margin_set_id]


def strategy_rows(ev: Evaluation, margin_set_id: str = "ms:M1") -> tuple[float, dict]:
    """A set's maintenance and, per instrument, its position's strategy row and requirement."""
    rows = ev.frames["positions"].set_index("instrument_id")
    return float(decision(ev, margin_set_id)["maintenance"]), rows[
        ["strategy_row", "requirement"]
    ].to_dict("index")


def norm_cdf(x: float) -> float:
    """Standard normal CDF (math.erf: independent of the engine's scipy)."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def bs(spot: float, strike: float, t: float, vol: float, call: bool) -> float:
    """Black-Scholes at rate 0, scalar."""
    d1 = (math.log(spot / strike) + 0.5 * vol * vol * t) / (vol * math.sqrt(t))
    d2 = d1 - vol * math.sqrt(t)
    if call:
        return spot * norm_cdf(d1) - strike * norm_cdf(d2)
    return strike * norm_cdf(-d2) - spot * norm_cdf(-d1)


IdNames = Callable[[list[str], str], dict[str, str]]
"""New ids for a book's ids of one kind: given the old ones (sorted) and their kind
(``account``, ``party``, ``instrument`` or ``lot``), each one's new id."""


def rulebook_words() -> set[str]:
    """Every word the shipped rulebooks write: a party, instrument or class group a rule names
    (``carrier member_of "FICC"``, ``SPX expiring within 3 months``) keeps its id."""
    folder = Path(__file__).parents[2] / "rulebooks"
    return {w for f in folder.glob("*.mlx") for w in re.findall(r"[A-Za-z0-9_.]+", f.read_text())}


def rename_ids(folder: Path, names: IdNames) -> dict[str, str]:
    """Give the book's (CSV files, in ``folder``) accounts, parties, instruments and lots the
    new ids ``names`` makes (:data:`IdNames`; the rulebooks' own words are kept), everywhere
    the book refers to them; the new account ids, mapped to the old."""
    read = {f.stem: pd.read_csv(f, dtype=str, keep_default_na=False) for f in folder.glob("*.csv")}
    keep = rulebook_words()

    def renamed(values: pd.Series, kind: str) -> dict[str, str]:
        return names(sorted({v for v in values if v and v not in keep}), kind)

    accounts = renamed(read["accounts"]["account_id"], "account")
    parties = renamed(read["parties"]["party_id"], "party")
    instruments = renamed(read["instruments"]["instrument_id"], "instrument")
    lots = renamed(read["collateral"]["lot_id"], "lot")
    either = {**accounts, **parties}
    columns = {
        "accounts": {"account_id": accounts, "owner_id": parties, "carrier_id": parties},
        "parties": {"party_id": parties},
        "instruments": {
            "instrument_id": instruments,
            "underlying": instruments,
            "class_group": instruments,  # a class group defaults to the underlying's id
        },
        "positions": {"account_id": accounts, "instrument_id": instruments},
        "collateral": {
            "lot_id": lots,
            "account_id": accounts,
            "pledged_to": accounts,
            "instrument_id": instruments,
        },
        "relations": {"src": either, "dst": either},
    }
    for name, frame in read.items():
        for column, new in columns.get(name, {}).items():
            if column in frame:
                frame[column] = frame[column].map(lambda v, new=new: new.get(v, v))
        frame.to_csv(folder / f"{name}.csv", index=False)
    return {new: old for old, new in accounts.items()}
