"""Deterministic synthetic books at scale (``marginlex synth``).

Same ``(n_accounts, seed)`` → the same frames → the same bytes on disk. Everything is
drawn from one :class:`numpy.random.Generator` in a fixed order, with whole-array draws
(no loop per account). The book holds:

- clearing organisations (OCC and FICC clearing agencies, CME and ICE DCOs) and carrying
  firms (``broker_dealer``, ``fcm``, ``bd_fcm``) with ``member_of`` and ``affiliate_of``;
- customers (individuals, institutions, some ECPs, every options approval level), one to
  three accounts each, at one carrier, with owner profiles: securities only, futures only,
  an index hedge across regimes (SPY against ES) or a Treasury cross-margin pair (ZN
  futures against 10-year notes at a ``bd_fcm`` member of a clearing agency and a DCO);
- house accounts of every carrier; a few ``guarantees``, and a few institutions
  ``affiliate_of`` the firm that carries them;
- about 10 positions and 2 collateral lots per account (cash, Treasuries, equities, money
  funds, corporate bonds, BTC/ETH/USDC and digital assets outside the pilot, SOL, DOGE);
- planted segregation breaches: a few customer lots pledged to a house account, a few
  securities accounts at an FCM; ineligible owners arise naturally (no uncovered-options
  approval, equity under $100,000).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from marginlex.engine.book.memory import book_memory_limit
from marginlex.engine.book.validate import BookMeta
from marginlex.engine.synth.instruments import Universe, build_universe
from marginlex.engine.synth.parties import Firms, draw_customers, make_firms
from marginlex.engine.synth.positions import LegBuilder, draw_positions

DEFAULT_AS_OF = date(2026, 6, 30)
MIN_ACCOUNTS = 20
MEMORY_PER_ACCOUNT = 4_000
"""Bytes a synthetic book takes while it is made, per account of one partition (measured:
100k accounts peak at 420 MB, 20k at 234 MB: 2.3 KB an account past a fixed 190 MB)."""


def check_synth_memory(accounts: int, partitions: int = 0) -> None:
    """Refuse a book whose partitions (each made whole in memory) need more than a book may
    take now (:func:`~marginlex.engine.book.memory.book_memory_limit`): asked for a trillion
    accounts, ``synth`` grew past 16 GB before anything refused it.

    Raises:
        MemoryError: the largest partition would not fit.
    """
    per_partition = -(-accounts // max(partitions, 1))
    if per_partition * MEMORY_PER_ACCOUNT > book_memory_limit():
        raise MemoryError(f"{per_partition:,} accounts in one partition")


SEC_ASSETS = {
    "USD": 0.45,
    "UST_BILL": 0.10,
    "UST_NOTE": 0.10,
    "UST_BOND": 0.03,
    "STOCK": 0.12,
    "ETF": 0.08,
    "MMF": 0.10,
    "CORP_BOND": 0.02,
}
CFTC_ASSETS = {
    "USD": 0.40,
    "UST_BILL": 0.15,
    "UST_NOTE": 0.10,
    "MMF": 0.08,
    "CORP_BOND": 0.02,
    "BTC": 0.10,
    "ETH": 0.07,
    "USDC": 0.05,
    "SOL": 0.02,
    "DOGE": 0.01,
}
UST_DAYS = {"UST_BILL": (20, 365), "UST_NOTE": (366, 3650), "UST_BOND": (3651, 10950)}


def synth_book(
    n_accounts: int, seed: int, as_of: date = DEFAULT_AS_OF
) -> tuple[BookMeta, dict[str, pd.DataFrame]]:
    """Generate a synthetic book.

    Args:
        n_accounts: number of accounts (house accounts included), at least 20.
        seed: seed of the numpy Generator; the same seed gives the same book.
        as_of: the book's date.

    Returns:
        The book.json fields and a frame per file stem (contract columns, loaded dtypes),
        ready for :func:`marginlex.engine.book.load.write_book`.
    """
    if n_accounts < MIN_ACCOUNTS:
        raise ValueError(
            f"a synthetic book needs at least {MIN_ACCOUNTS} accounts, got {n_accounts}"
        )
    rng = np.random.default_rng(seed)
    firms = make_firms(n_accounts, rng)
    people = draw_customers(n_accounts - len(firms.house), firms, rng)
    accounts = pd.concat([people.accounts, firms.house], ignore_index=True)
    uni = build_universe(n_accounts, as_of, rng)
    wealth = _wealth(accounts, rng)
    positions = _positions(accounts, people.hedges, uni, wealth, rng)
    collateral = _collateral(accounts, wealth, firms, rng, as_of)
    meta = BookMeta(
        as_of=as_of, currency="USD", name=f"synthetic book ({n_accounts} accounts, seed {seed})"
    )
    frames = {
        "parties": pd.concat([firms.parties, people.parties], ignore_index=True),
        "accounts": accounts.drop(columns=["profile"]),
        "relations": pd.concat([firms.relations, people.relations], ignore_index=True),
        "instruments": uni.frame,
        "positions": positions,
        "collateral": collateral,
    }
    return meta, frames


def _wealth(accounts: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    base = np.exp(rng.normal(np.log(200_000.0), 1.0, len(accounts)))
    scale = np.where(accounts["origin"].to_numpy() == "house", 20.0, 1.0)
    return np.clip(np.round(base * scale, 2), 5_000.0, 50_000_000.0)


def _positions(
    accounts: pd.DataFrame,
    hedges: pd.DataFrame,
    uni: Universe,
    wealth: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    builder = LegBuilder(uni, wealth, rng)
    rows = np.arange(len(accounts))
    is_sec = accounts["regime"].to_numpy() == "SEC"
    a, i, q = draw_positions(builder, rows, is_sec, rng)
    parts = [(a, i, q)]
    for treasury in (False, True):
        h = hedges[hedges["treasury"] == treasury]
        parts.append(builder.hedges(h["sec_row"].to_numpy(), h["cftc_row"].to_numpy(), treasury))
    acct = np.concatenate([p[0] for p in parts])
    inst = np.concatenate([p[1] for p in parts])
    qty = np.concatenate([p[2] for p in parts])
    # The same instrument twice in one account is one position: add the quantities.
    key = acct.astype(np.int64) * (len(uni.frame) + 1) + inst
    uniq, inverse = np.unique(key, return_inverse=True)
    total = np.bincount(inverse, weights=qty)
    keep = total != 0
    first_acct = uniq[keep] // (len(uni.frame) + 1)
    first_inst = uniq[keep] % (len(uni.frame) + 1)
    ids = uni.frame["instrument_id"].to_numpy()
    return pd.DataFrame(
        {
            "account_id": accounts["account_id"].to_numpy()[first_acct],
            "instrument_id": ids[first_inst],
            "quantity": total[keep],
        }
    )


def _collateral(
    accounts: pd.DataFrame,
    wealth: np.ndarray,
    firms: Firms,
    rng: np.random.Generator,
    as_of: date,
    *,
    tag: str = "",
    breaches: bool = True,
) -> pd.DataFrame:
    n_lots = 1 + rng.poisson(1.0, len(accounts))
    acct = np.repeat(np.arange(len(accounts)), n_lots)
    is_sec = accounts["regime"].to_numpy()[acct] == "SEC"
    asset = np.empty(acct.size, dtype=object)
    for table, mask in ((SEC_ASSETS, is_sec), (CFTC_ASSETS, ~is_sec)):
        names = np.array(list(table), dtype=object)
        asset[mask] = names[rng.choice(names.size, int(mask.sum()), p=list(table.values()))]
    value = np.round(wealth[acct] * rng.uniform(0.1, 0.6, acct.size), 2)
    debit = (asset == "USD") & (rng.random(acct.size) < 0.03)
    value = np.where(debit, -np.round(value * 0.1, 2), value)
    maturity = np.full(acct.size, np.datetime64("NaT"), dtype="datetime64[s]")
    for name, (lo, hi) in UST_DAYS.items():
        m = asset == name
        days = rng.integers(lo, hi, int(m.sum()))
        maturity[m] = np.datetime64(as_of, "s") + days.astype("timedelta64[D]")
    width = len(str(acct.size))
    lots = pd.DataFrame(
        {
            "lot_id": [f"L{tag}{i:0{width}d}" for i in range(1, acct.size + 1)],
            "account_id": accounts["account_id"].to_numpy()[acct],
            "asset": asset.astype(str),
            "market_value": value,
            "maturity": maturity,
            "pledged_to": pd.Series([None] * acct.size, dtype="str"),
        }
    )
    return _pledges(lots, accounts, acct, firms, rng, breaches=breaches)


def _pledges(
    lots: pd.DataFrame,
    accounts: pd.DataFrame,
    acct: np.ndarray,
    firms: Firms,
    rng: np.random.Generator,
    *,
    breaches: bool = True,
) -> pd.DataFrame:
    """Legitimate pledges within one owner, and (with ``breaches``) a few customer lots
    pledged to the house."""
    owner = accounts["owner_id"].to_numpy()[acct]
    first_of_owner = accounts.groupby("owner_id", sort=False)["account_id"].first()
    target = pd.Series(owner).map(first_of_owner).to_numpy()
    customer = accounts["origin"].to_numpy()[acct] == "customer"
    legit = customer & (target != lots["account_id"].to_numpy()) & (rng.random(acct.size) < 0.1)
    pledged = np.full(acct.size, None, dtype=object)
    pledged[legit] = target[legit]
    n_breach = max(1, int(customer.sum()) // 2000) if breaches else 0
    breach = rng.choice(np.flatnonzero(customer & ~legit), n_breach, replace=False)
    house_of = firms.house.groupby("carrier_id")["account_id"].first()
    carrier = accounts["carrier_id"].to_numpy()[acct[breach]]
    pledged[breach] = pd.Series(carrier).map(house_of).to_numpy()
    return lots.assign(pledged_to=pd.Series(pledged, dtype="str"))
