"""Calls created or removed under each stress scenario, per rulebook pair.

The unshocked book and each scenario's shocked copy (:func:`marginlex.engine.stress.reprice.
shock_book`) are decided under every rulebook as one stacked batch per rulebook
(:func:`marginlex.engine.stress.run.decide_all`), then, per scenario, the other rulebook is
compared with the baseline on the same shocked book, as ``compare`` compares them on the
unshocked one: per account on the anchor allocation, a call **created** where the baseline
has none and the other rulebook has one (among accounts both decide), **removed** the reverse.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from pydantic import BaseModel, ConfigDict

from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book
from marginlex.engine.stress.reprice import shock_book
from marginlex.engine.stress.run import BATCH_POSITIONS, decide_all
from marginlex.engine.stress.shocks import Scenario
from marginlex.engine.variants.figures import account_figures

UNSHOCKED = "(unshocked)"


class ScenarioCalls(BaseModel):
    """One scenario, one pair of rulebooks: calls under each and the accounts that differ."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scenario: str
    from_id: str
    to_id: str
    calls_from: int
    calls_to: int
    created: tuple[str, ...]
    removed: tuple[str, ...]
    call_from: float
    call_to: float
    requirement_delta: float

    @property
    def call_delta(self) -> float:
        """The other rulebook's total call less the baseline's (USD)."""
        return round(self.call_to - self.call_from, 2)


def _pair(
    scenario: str, a: tuple[str, pd.DataFrame], b: tuple[str, pd.DataFrame], ids: pd.Series
) -> ScenarioCalls:
    fa, fb = (account_figures(d, ids, label) for label, d in (a, b))
    both = (fa["decided"] & fb["decided"]).to_numpy()
    ca, cb = fa["call"].to_numpy(), fb["call"].to_numpy()
    accounts = fa["account_id"].to_numpy(str)
    return ScenarioCalls(
        scenario=scenario,
        from_id=a[0],
        to_id=b[0],
        calls_from=int((ca > 0).sum()),
        calls_to=int((cb > 0).sum()),
        created=tuple(sorted(accounts[both & (ca == 0) & (cb > 0)])),
        removed=tuple(sorted(accounts[both & (ca > 0) & (cb == 0)])),
        call_from=int(ca.sum()) / 100,
        call_to=int(cb.sum()) / 100,
        requirement_delta=int(fb["requirement"].sum() - fa["requirement"].sum()) / 100,
    )


def scenario_calls(
    book: Book,
    rulebooks: Sequence[ResolvedRulebook],
    scenarios: Sequence[Scenario],
    *,
    batch_positions: int = BATCH_POSITIONS,
) -> tuple[ScenarioCalls, ...]:
    """Per scenario (the unshocked book first) and per rulebook after the first: the calls.

    Raises:
        marginlex.engine.stress.shocks.ShockError: a shock matches nothing in the book.
    """
    books = [book, *(shock_book(book, s) for s in scenarios)]
    decided = {r.id: decide_all(r, books, book.as_of, batch_positions) for r in rulebooks}
    names = [UNSHOCKED, *(s.name for s in scenarios)]
    base = rulebooks[0].id
    ids = book.accounts["account_id"]
    return tuple(
        _pair(name, (base, decided[base][k]), (other.id, decided[other.id][k]), ids)
        for k, name in enumerate(names)
        for other in rulebooks[1:]
    )
