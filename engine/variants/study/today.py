"""Today's regimes side by side: the combined baseline ``SEC+CFTC`` of ``compare --today``.

A comment letter compares the proposal with what applies today: the SEC rulebook for the
securities accounts, the CFTC rulebook for the futures ones, each with the cross-margining it
allows and no more. **Definition**: each account takes its figures (requirement, value, call,
on the anchor allocation of :mod:`marginlex.engine.variants.compare`) from the rulebook of its
account's ``regime`` (SEC or CFTC), and only from it. An account that both rulebooks decide
counts once, under its own regime; a set of one rulebook that takes in positions of an account
of the other regime (the CFTC Treasury cross-margin set takes in the owner's cash Treasuries,
which the SEC rulebook then gives up) counts where its anchor account's regime puts it. The
totals are the sums over accounts, so they are never a double count. The eligibility path of
an account is read from its regime's decision alike.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from marginlex.engine.book.load import Book


def today_label(sec_id: str, cftc_id: str) -> str:
    """The baseline's name in tables and JSON.

    >>> today_label("sec", "cftc")
    'sec+cftc'
    """
    return f"{sec_id}+{cftc_id}"


def _regime(book: Book) -> pd.Series:
    return book.accounts.set_index("account_id")["regime"].astype("str")


def today_accounts(accounts: pd.DataFrame, book: Book, sec_id: str, cftc_id: str) -> pd.DataFrame:
    """Per account, the rows of ``accounts`` (a comparison's long frame) of its regime's
    rulebook, labelled :func:`today_label`, in book order."""
    regime = _regime(book)
    rulebook = np.where(regime.to_numpy(str) == "SEC", sec_id, cftc_id)
    wanted = pd.DataFrame({"account_id": regime.index.to_numpy(str), "rulebook_id": rulebook})
    rows = wanted.merge(accounts, on=["account_id", "rulebook_id"], how="left", validate="1:1")
    return rows.assign(rulebook_id=today_label(sec_id, cftc_id))[list(accounts.columns)]


def today_decisions(sec: pd.DataFrame, cftc: pd.DataFrame, book: Book) -> pd.DataFrame:
    """One row per account decided under its regime's rulebook: ``account_ids`` (the account
    alone) and ``eligible`` (its set's outcome there), as segments read them."""
    regime = _regime(book)
    parts = []
    for frame, name in ((sec, "SEC"), (cftc, "CFTC")):
        rows = frame[["account_ids", "eligible"]].assign(
            account_ids=frame["account_ids"].astype("str").str.split(";")
        )
        rows = rows.explode("account_ids")
        parts.append(rows[regime.reindex(rows["account_ids"]).to_numpy(str) == name])
    out: pd.DataFrame = pd.concat(parts, ignore_index=True)
    return out
