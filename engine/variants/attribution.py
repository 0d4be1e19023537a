"""Attribution: how much of each changed account's delta each differing rule accounts for.

**Method (sequential switching).** Let A be the baseline and B the other rulebook, and
``d_1 .. d_n`` the statements whose difference can move a figure
(:attr:`marginlex.dsl.diff.RulebookDiff.operative_ids`): added and changed parameters
first, then the other statements, then removed parameters, each group in the order
``marginlex diff`` prints (:func:`switch_order`). The hybrid
``H_k`` is A with ``d_1 .. d_k`` taken from B (:func:`marginlex.dsl.hybrid.hybrid`);
``H_0`` is A and ``H_n`` is B. Each hybrid is evaluated once for the whole book, and the
contribution of ``d_k`` to an account's figure is ``f(H_k) - f(H_{k-1})``. In integer cents
the contributions telescope to ``f(B) - f(A)``: they add up to the delta exactly.

A hybrid that cannot be evaluated on its own (it compiles or runs only with a later
statement, e.g. a rule that names a parameter B adds later in the order) is not a
boundary: its statement is switched together with the next one and the pair is reported as
one step. Statements that differ only in citations, status marks or notes cannot move a
figure and are listed as ``non_operative`` with no step. A parameter that no statement of
the hybrid names yet (one B adds for a rule switched later) and a segregation constraint
(it sets the status, never a figure) are steps of contribution 0 that need no evaluation.

A table statement whose only operative difference is in its rows (a haircut table, a scenario
grid's ranges, a rates table) is switched **row by row** instead
(:func:`marginlex.dsl.hybrid.expand_rows`): each differing row is a step of its own, named
``ID row KEY`` (``sec_treasuries row under 5 years``), so each row gets its own contribution.

The order matters for interactions (switching ``d_2`` before ``d_1`` may split a joint
effect differently), which is why it is fixed and documented rather than chosen per run.

**Only what moves is re-evaluated.** Margin sets never span two owners, and collateral
pledged across accounts links two sets; so the changed accounts, closed over "same owner",
"pledge" and account-to-account relation links, form a sub-book whose figures do not
depend on the rest. The hybrids are evaluated on that sub-book; A is evaluated on it too
and checked against its full-book figures (falling back to the full book if they differ).
The two ends of the walk are the full-book figures of A and B, and a single differing
statement needs no hybrid at all. Consecutive hybrids differ in one statement, so each
evaluation reuses the previous one's contexts and every phase that statement does not
move (:mod:`marginlex.engine.phases.reuse`; the figures are those of a full evaluation).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from marginlex.dsl.diff import ChangeKind, RulebookDiff, diff_rulebooks, statements_using
from marginlex.dsl.hybrid import expand_rows, split_unit, switch
from marginlex.dsl.model.rulebook import Parameter, Segregation, StatementKind
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.columns import isin
from marginlex.engine.book.load import Book
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.plan.context import Contexts
from marginlex.engine.variants.attribution_pool import FigureRunner, Progress, evaluate_all
from marginlex.engine.variants.figures import MEASURES, moved_accounts

METHOD = (
    "sequential switching: the differing statements are switched from the baseline to the "
    "other rulebook one at a time (new and changed parameters first, then rulebook order, "
    "removed parameters last); each step's "
    "contribution is the change it makes to the account's figure, so the contributions add "
    "up to the delta exactly"
)


class AttributionStep(BaseModel):
    """One switching step: the statement ids switched together and their total effect (USD)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[str, ...]
    requirement: float
    value: float
    call: float

    @property
    def label(self) -> str:
        """The ids joined with ``+``."""
        return "+".join(self.rules)

    @property
    def rows(self) -> tuple[tuple[str, str], ...]:
        """``(statement id, row key)`` of each table row this step switched on its own."""
        return tuple((sid, key) for sid, key in map(split_unit, self.rules) if key is not None)


class Attribution(BaseModel):
    """The attribution of every changed account's delta, from ``from_id`` to ``to_id``.

    Attributes:
        method: how contributions are computed (:data:`METHOD`).
        steps: the switching steps in order, with totals over the changed accounts.
        non_operative: ids that differ only in citations, status or notes.
        changed_accounts: accounts whose requirement, value or call changed.
        evaluated_accounts: accounts in the sub-book the hybrids were evaluated on (0 when
            no hybrid was needed).
        contributions: long frame ``account_id, step, rules, requirement, value, call``
            (int64 cents, only rows where some contribution is not 0).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    from_id: str
    to_id: str
    method: str
    steps: tuple[AttributionStep, ...]
    non_operative: tuple[str, ...]
    changed_accounts: int
    evaluated_accounts: int
    contributions: pd.DataFrame


def switch_order(diff: RulebookDiff) -> list[str]:
    """The operative differing ids in switching order.

    Added and changed parameters first (so that the rules switched after them find them),
    then the other statements, then removed parameters (once no rule uses them); each group
    in diff order.
    """
    changes = [c for c in diff.changes if c.operative]
    params = [c for c in changes if c.statement_kind is StatementKind.PARAMETER]
    first = [c.statement_id for c in params if c.change is not ChangeKind.REMOVED]
    last = [c.statement_id for c in params if c.change is ChangeKind.REMOVED]
    return first + [c.statement_id for c in changes if c not in params] + last


def closure(book: Book, seeds: np.ndarray) -> np.ndarray:
    """Accounts linked to the seeds by a common owner, a pledged lot or an account-to-account
    relation (a bool mask over ``book.accounts``).

    The connected components, over the accounts and their owners, that hold a seed: an
    owner joins its accounts; a pledge or relation joins two accounts of the book (one with
    a party or an unknown account at the other end joins nothing).
    """
    acc = book.accounts
    ids = pd.Index(acc["account_id"].to_numpy(str))
    n = len(ids)
    owner = pd.factorize(acc["owner_id"].to_numpy(str))[0]
    lots = book.collateral[book.collateral["pledged_to"].notna()]
    a = np.concatenate([lots["account_id"].to_numpy(str), book.relations["src"].to_numpy(str)])
    b = np.concatenate([lots["pledged_to"].to_numpy(str), book.relations["dst"].to_numpy(str)])
    a_row, b_row = ids.get_indexer(a), ids.get_indexer(b)
    both = (a_row >= 0) & (b_row >= 0)
    rows = np.concatenate([np.arange(n), a_row[both]])
    cols = np.concatenate([n + owner, b_row[both]])
    size = n + int(owner.max(initial=-1)) + 1
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(size, size))
    _, label = connected_components(graph, directed=False)
    hit = label[:n][isin(ids, seeds)]
    return np.asarray(np.isin(label[:n], hit), dtype=bool)


def sub_book(book: Book, keep: np.ndarray) -> Book:
    """The book cut to some accounts (with their positions and lots); not re-hashed."""
    ids = book.accounts["account_id"][keep]
    return book.model_copy(
        update={
            "accounts": book.accounts[keep].reset_index(drop=True),
            "positions": book.positions[isin(book.positions["account_id"], ids)].reset_index(
                drop=True
            ),
            "collateral": book.collateral[isin(book.collateral["account_id"], ids)].reset_index(
                drop=True
            ),
        }
    )


def _expected(paired: pd.DataFrame, changed: pd.Index, side: str) -> np.ndarray:
    frame = paired.set_index("account_id").reindex(changed)
    return frame[[f"{m}_{side}" for m in MEASURES]].to_numpy(np.int64)


def _runner(
    book: Book,
    as_of: dt.date,
    paired: pd.DataFrame,
    changed: pd.Index,
    a: ResolvedRulebook,
    *,
    whole: tuple[AccountGraph, Contexts] | None,
) -> FigureRunner:
    """A runner on the closure of the changed accounts, checked against A's full figures.

    The closure holds whatever the rulebook (owners and pledges are facts of the book), so
    one rulebook's figures are enough to check it; the full book is the fallback.
    """
    keep = closure(book, changed.to_numpy(str))
    if keep.sum() < len(keep):
        try:
            runner = FigureRunner(sub_book(book, keep), as_of, changed)
            if np.array_equal(runner.figures(a), _expected(paired, changed, "a")):
                return runner
        except (ValueError, LookupError):
            pass  # the sub-book does not evaluate alike: fall back to the whole book
    graph, contexts = whole or (None, None)
    return FigureRunner(book, as_of, changed, graph=graph, contexts=contexts)


def _moves_nothing(mixed: ResolvedRulebook, a: ResolvedRulebook, sid: str) -> bool:
    """Whether switching ``sid`` in cannot move requirement, value or call.

    A segregation constraint only sets the status (``breach``; the figures are computed
    alike, :mod:`marginlex.engine.phases.segregation`), unless it says ``not counted
    there`` (the lot's value goes: evaluated like any step), and a parameter no statement of
    the hybrid names yet is read by nothing. Such a step contributes 0 without an evaluation.
    """
    found = [s for s in (*mixed.statements, *a.statements) if s.id == sid]
    if any(isinstance(s, Segregation) for s in found):
        return not any(
            isinstance(s, Segregation) and getattr(s.constraint, "not_counted", False)
            for s in found
        )
    return any(isinstance(s, Parameter) for s in found) and not statements_using(mixed, sid)


def _walk(
    runner: FigureRunner,
    pair: tuple[ResolvedRulebook, ResolvedRulebook],
    order: list[str],
    ends: tuple[np.ndarray, np.ndarray],
    workers: int,
    *,
    progress: Progress | None = None,
) -> list[tuple[tuple[str, ...], np.ndarray]]:
    """(step ids, figures after the step) for each boundary."""
    a, b = pair
    mixed = {k: switch(a, b, order[: k + 1], f"{a.id}__step{k + 1}") for k in range(len(order) - 1)}
    neutral = {k for k, h in mixed.items() if _moves_nothing(h, a, order[k])}
    todo = [k for k in mixed if k not in neutral]
    evaluated = evaluate_all(runner, [mixed[k] for k in todo], workers, progress)
    found = dict(zip(todo, evaluated, strict=True))
    out: list[tuple[tuple[str, ...], np.ndarray]] = []
    pending: list[str] = []
    last, end = ends
    for k, sid in enumerate(order):
        pending.append(sid)
        figures = end if k == len(order) - 1 else found.get(k)
        if k in neutral and pending == [sid]:
            figures = last  # moves nothing: no evaluation needed
        if figures is None:
            continue  # not evaluable alone: switch it together with the next statement
        out.append((tuple(pending), figures))
        last, pending = figures, []
    return out


def attribute(
    a: ResolvedRulebook,
    b: ResolvedRulebook,
    book: Book,
    as_of: dt.date,
    paired: pd.DataFrame,
    *,
    diff: RulebookDiff | None = None,
    workers: int = 1,
    whole: tuple[AccountGraph, Contexts] | None = None,
    progress: Progress | None = None,
) -> Attribution:
    """Attribute every changed account's delta from ``a`` to ``b`` to the differing rules.

    Args:
        a: the baseline rulebook.
        b: the other rulebook.
        book: the book both were evaluated on.
        as_of: the as-of date.
        paired: per-account figures under both, from
            :meth:`marginlex.engine.variants.compare.CompareResult.account_deltas` (cents).
        diff: the diff of ``a`` and ``b`` when the caller has it.
        workers: processes evaluating the hybrids side by side (1: in this process).
        whole: the book's account graph and row contexts as of ``as_of``, when the caller
            has them (used when the hybrids are evaluated on the whole book).
        progress: told ``(done, total)`` as each hybrid is evaluated.

    Returns:
        The attribution; per account, the contributions add up to the delta exactly.
    """
    d = diff or diff_rulebooks(a, b)
    order = expand_rows(a, b, switch_order(d))
    moved = moved_accounts(paired)
    changed = pd.Index(paired.loc[moved, "account_id"].to_numpy(str), name="account_id")
    non_operative = tuple(c.statement_id for c in d.changes if not c.operative)
    steps: list[tuple[tuple[str, ...], np.ndarray]] = []
    evaluated = 0
    start = _expected(paired, changed, "a")
    end = _expected(paired, changed, "b")
    if len(order) == 1 and len(changed):
        steps = [((order[0],), end)]  # one step: its contribution is the whole delta
    elif order and len(changed):
        runner = _runner(book, as_of, paired, changed, a, whole=whole)
        evaluated = len(runner.book.accounts)
        steps = _walk(runner, (a, b), order, (start, end), workers, progress=progress)
    return _build(
        a.id,
        b.id,
        steps=steps,
        start=start,
        changed=changed,
        non_operative=non_operative,
        evaluated=evaluated,
        order=order,
    )


def _build(
    a_id: str,
    b_id: str,
    *,
    steps: list[tuple[tuple[str, ...], np.ndarray]],
    start: np.ndarray,
    changed: pd.Index,
    non_operative: tuple[str, ...],
    evaluated: int,
    order: list[str],
) -> Attribution:
    rows: list[pd.DataFrame] = []
    summary: list[AttributionStep] = []
    previous = start
    for index, (ids, figures) in enumerate(steps):
        delta = figures - previous
        previous = figures
        totals: dict[str, Any] = {
            m: round(int(delta[:, i].sum()) / 100, 2) for i, m in enumerate(MEASURES)
        }
        summary.append(AttributionStep(rules=ids, **totals))
        nonzero = (delta != 0).any(axis=1)
        frame = pd.DataFrame(delta[nonzero], columns=list(MEASURES))
        frame.insert(0, "rules", "+".join(ids))
        frame.insert(0, "step", index)
        frame.insert(0, "account_id", changed.to_numpy(str)[nonzero])
        rows.append(frame)
    if not steps and order:  # nothing changed: every step contributes 0
        summary = [
            AttributionStep(rules=(sid,), requirement=0.0, value=0.0, call=0.0) for sid in order
        ]
    columns = ["account_id", "step", "rules", *MEASURES]
    contributions = (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame({c: pd.Series(dtype="int64") for c in columns})
    )
    return Attribution(
        from_id=a_id,
        to_id=b_id,
        method=METHOD,
        steps=tuple(summary),
        non_operative=non_operative,
        changed_accounts=len(changed),
        evaluated_accounts=evaluated,
        contributions=contributions[columns],
    )
