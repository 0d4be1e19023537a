"""The margin sets a changed instrument re-decides under ``run --since``, worked out from the
book and a full evaluation (shared by the incremental tests)."""

from __future__ import annotations

import pandas as pd

from marginlex.engine.book.load import Book
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.graph.components import components_of


def reading(book: Book, ev: Evaluation, instrument: str) -> set[str]:
    """The sets of ``ev`` that read ``instrument``: holding it (or an instrument written on
    it) as a position or a lot's asset, or whose accounts' collateral component (accounts
    joined by pledged lots and relations between accounts) holds it anywhere (an account's
    equity counts a position wherever it is margined; a rule on a lot reads its pledging
    account's holdings)."""
    ins = book.instruments
    related = {instrument} | set(ins.loc[ins["underlying"] == instrument, "instrument_id"])
    held, lots, members = ev.frames["positions"], ev.frames["lots"], ev.frames["sets"]
    sets = set(held.loc[held["instrument_id"].isin(related), "margin_set_id"].astype("str"))
    sets |= set(lots.loc[lots["asset"] == instrument, "margin_set_id"].astype("str"))
    accounts = book.accounts["account_id"].astype("str")
    label = pd.Series(
        components_of(book.accounts, book.collateral, book.relations, by_owner=False),
        index=accounts.to_numpy(),
    )
    pos = book.positions
    holders = set(pos.loc[pos["instrument_id"].isin(related), "account_id"].astype("str"))
    holders |= set(book.collateral.loc[book.collateral["asset"] == instrument, "account_id"])
    reached = set(label.index[label.isin(label.reindex(list(holders)).dropna())])
    member_ids = members["account_id"].astype("str")
    sets |= set(members.loc[member_ids.isin(reached).to_numpy(), "margin_set_id"].astype("str"))
    return sets
