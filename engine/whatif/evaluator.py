"""Re-deciding one margin set on changed books, on the part of the book it depends on.

The set's accounts are closed over owners, pledges and relations
(:func:`marginlex.engine.variants.attribution.closure`); the book cut to them decides the set
as the whole book does (checked once: else the whole book is used), at a fraction of the
cost, so that each counterfactual is verified by a real evaluation, never estimated.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book
from marginlex.engine.evaluate import evaluate
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.graph.margin_sets import SET_PREFIX
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.plan.steps import Plan
from marginlex.engine.variants.attribution import closure, sub_book
from marginlex.engine.whatif.model import Outcome


class SetNotFoundError(LookupError):
    """The margin set is not decided by the rulebook on this book."""


def _split(text: object) -> tuple[str, ...]:
    return tuple(x for x in str(text).split(";") if x)


def outcome(evaluation: Evaluation, anchor: str) -> Outcome:
    """The decision of the set that holds ``anchor``, as an :class:`Outcome`."""
    d = evaluation.decisions
    members = d["account_ids"].astype("str").str.split(";")
    row = d[members.map(lambda ids: anchor in ids).to_numpy(bool)]  # one row per set
    if row.empty:
        raise SetNotFoundError(f"no decision holds account {anchor}")
    r = row.iloc[0]
    return Outcome(
        margin_set_id=str(r["margin_set_id"]),
        status=str(r["status"]),
        eligible=bool(r["eligible"]),
        requirement=float(r["maintenance"]),
        call=float(r["call"]),
        failed_requirements=_split(r["failed_requirements"]),
        segregation_violations=len(_split(r["segregation_violations"])),
    )


class SetEvaluator:
    """Decides one margin set on a book and on changed copies of it.

    Attributes:
        plan: the compiled rulebook.
        book: the book the changes are made to (the set's closure, or the whole book).
        anchor: the set's anchor account (its id is ``ms:<anchor>``).
        accounts: the set's accounts.
        base: the evaluation of :attr:`book`.
        evaluations: how many evaluations were run.
    """

    def __init__(
        self, book: Book, rulebook: ResolvedRulebook, as_of: dt.date, margin_set_id: str
    ) -> None:
        self.plan: Plan = compile_plan(rulebook, as_of)
        whole = evaluate(self.plan, book, as_of)
        rows = whole.decisions[whole.decisions["margin_set_id"] == margin_set_id]
        if rows.empty:
            raise SetNotFoundError(
                f"rulebook {rulebook.id} makes no decision for {margin_set_id} on this book"
            )
        self.anchor = margin_set_id.removeprefix(SET_PREFIX)
        self.accounts = _split(rows.iloc[0]["account_ids"])
        self.evaluations = 1
        self.book, self.base = book, whole
        keep = closure(book, np.asarray(self.accounts, dtype=str))
        if keep.sum() < len(keep):
            cut = sub_book(book, keep)
            small = self.evaluate(cut)
            if outcome(small, self.anchor) == outcome(whole, self.anchor):
                self.book, self.base = cut, small

    def evaluate(self, book: Book) -> Evaluation:
        """One evaluation of a (changed) book."""
        self.evaluations += 1
        return evaluate(self.plan, book, self.plan.as_of)

    def decide(self, book: Book) -> Outcome:
        """The set's decision on a (changed) book."""
        return outcome(self.evaluate(book), self.anchor)

    def trace(self, frame: str) -> pd.DataFrame:
        """One trace frame of the base evaluation, cut to the set."""
        f = self.base.frames[frame]
        return f[f["margin_set_id"] == SET_PREFIX + self.anchor].reset_index(drop=True)

    def citation(self, rule_id: str) -> str:
        """The citation of a rule of the plan ("" when it has none)."""
        return next((s.citation for s in self.plan.steps if s.rule_id == rule_id), "")
