"""Compare rulebooks on one book: per account and per margin set, and a summary.

The first rulebook is the baseline; every other one is compared with it. Figures are held
in integer cents (decisions are already rounded half up to the cent), so that deltas and
attribution contributions add up exactly.

**Allocation to accounts.** Margin sets may differ between rulebooks (the harmonized
rulebook merges an owner's accounts at one carrier), so the per-account view allocates each
set's requirement, value and call *to its anchor account*: the smallest account id of the
set, the one its id ``ms:<anchor>`` names. The other member accounts show 0 and name the
set they were merged into. Totals over accounts therefore equal totals over sets. An
account outside a rulebook's scope has no figures under it (``decided`` False).

**Per set.** Where a set has the same id and the same accounts under the baseline and under
another rulebook, the set is compared directly (``sets`` frame).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict

from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.run import SharedBook
from marginlex.engine.variants.attribution import Attribution, attribute
from marginlex.engine.variants.figures import MEASURES, account_figures, cents, moved_accounts

TOP_N = 10


class RulebookTotals(BaseModel):
    """One rulebook's totals on the book (USD)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rulebook_id: str
    title: str
    version: str
    decisions: int
    accounts_decided: int
    calls: int
    total_requirement: float
    total_value: float
    total_call: float


class Mover(BaseModel):
    """One of the largest changes, per account (USD)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: str
    margin_set_from: str
    margin_set_to: str
    requirement_from: float
    requirement_to: float
    requirement_delta: float
    value_delta: float
    excess_delta: float
    call_delta: float


class Comparison(BaseModel):
    """A rulebook against the baseline: counts, totals, largest changes, attribution.

    Counts are over the accounts decided under both (``accounts_compared``): ``changed`` is
    those whose requirement, value or call moved and ``unchanged`` the rest; ``better_off`` and
    ``worse_off`` split the changed ones whose excess (value - requirement) rose or fell, or,
    with the excess unchanged, whose call fell or rose (a futures call restores the initial
    requirement: an initial multiple moves the call alone); an account whose requirement and
    value moved by the same amount, its call unchanged, is changed but neither.
    ``now_decided`` and ``no_longer_decided`` count the accounts only the other rulebook, or
    only the baseline, decides (their scopes differ). The deltas are over every account,
    those too: the difference of the two rulebooks' totals.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    from_id: str
    to_id: str
    accounts_compared: int
    now_decided: int
    no_longer_decided: int
    changed: int
    better_off: int
    worse_off: int
    unchanged: int
    calls_created: int
    calls_removed: int
    requirement_delta: float
    value_delta: float
    call_delta: float
    largest_changes: tuple[Mover, ...]
    attribution: Attribution | None


class CompareResult(BaseModel):
    """Everything ``marginlex compare`` shows.

    Attributes:
        baseline: the first rulebook's id.
        book_name, book_sha256, as_of: the book compared on.
        totals: one per rulebook, in the order given.
        comparisons: one per rulebook after the baseline.
        accounts: long frame, :data:`ACCOUNT_COLUMNS` (cents), one row per account and
            rulebook.
        sets: margin sets that coincide with the baseline's, with figures and deltas (cents).
        evaluations: the rulebooks' evaluations, when asked for (to record them in a ledger).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    baseline: str
    book_name: str
    book_sha256: str
    as_of: dt.date
    totals: tuple[RulebookTotals, ...]
    comparisons: tuple[Comparison, ...]
    accounts: pd.DataFrame
    sets: pd.DataFrame
    evaluations: tuple[Evaluation, ...] = ()

    def account_deltas(self, to_id: str) -> pd.DataFrame:
        """Per account: baseline and ``to_id`` figures side by side, with deltas (cents)."""
        return _paired(self.accounts, self.baseline, to_id)


def paired_figures(accounts: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Per account: the figures of ``a`` and ``b`` (labels in ``accounts``, the long frame)
    side by side, with deltas (cents)."""
    return _paired(accounts, a, b)


def _paired(accounts: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    left = accounts[accounts["rulebook_id"] == a].set_index("account_id")
    right = accounts[accounts["rulebook_id"] == b].set_index("account_id")
    both = left.merge(right, left_index=True, right_index=True, suffixes=("_a", "_b"))
    for measure in MEASURES:
        both[f"{measure}_delta"] = both[f"{measure}_b"] - both[f"{measure}_a"]
    both["excess_delta"] = both["value_delta"] - both["requirement_delta"]
    return both.reset_index()


def _usd(amount: Any) -> float:
    """Cents (an int, or a frame cell holding one) as USD."""
    return round(int(amount) / 100.0, 2)


def _totals(rulebook: ResolvedRulebook, label: str, decisions: pd.DataFrame) -> RulebookTotals:
    return RulebookTotals(
        rulebook_id=label,
        title=rulebook.header.title,
        version=rulebook.header.version or "",
        decisions=len(decisions),
        accounts_decided=int(decisions["account_ids"].str.count(";").sum() + len(decisions)),
        calls=int((decisions["call"] > 0).sum()),
        total_requirement=_usd(cents(decisions["maintenance"]).sum()),
        total_value=_usd(cents(decisions["value"]).sum()),
        total_call=_usd(cents(decisions["call"]).sum()),
    )


def _movers(paired: pd.DataFrame) -> tuple[Mover, ...]:
    # Ranked by the largest of the changes in excess (which moves with the requirement and
    # the value alike), requirement and call (which an initial multiple moves alone).
    size = paired[["excess_delta", "requirement_delta", "call_delta"]].abs().max(axis=1)
    top = paired.loc[size[size > 0].sort_values(ascending=False, kind="stable").index[:TOP_N]]
    return tuple(
        Mover(
            account_id=r.account_id,
            margin_set_from=r.margin_set_id_a,
            margin_set_to=r.margin_set_id_b,
            requirement_from=_usd(r.requirement_a),
            requirement_to=_usd(r.requirement_b),
            requirement_delta=_usd(r.requirement_delta),
            value_delta=_usd(r.value_delta),
            excess_delta=_usd(r.excess_delta),
            call_delta=_usd(r.call_delta),
        )
        for r in top.itertuples(index=False)  # at most TOP_N rows, for display
    )


def _comparison(
    paired: pd.DataFrame, a: str, b: str, attribution: Attribution | None
) -> Comparison:
    both = paired[paired["decided_a"] & paired["decided_b"]]
    excess, call = both["excess_delta"], both["call_delta"]
    changed = int(moved_accounts(both).sum())
    return Comparison(
        from_id=a,
        to_id=b,
        accounts_compared=len(both),
        now_decided=int((paired["decided_b"] & ~paired["decided_a"]).sum()),
        no_longer_decided=int((paired["decided_a"] & ~paired["decided_b"]).sum()),
        changed=changed,
        better_off=int(((excess > 0) | ((excess == 0) & (call < 0))).sum()),
        worse_off=int(((excess < 0) | ((excess == 0) & (call > 0))).sum()),
        unchanged=len(both) - changed,
        calls_created=int(((both["call_a"] == 0) & (both["call_b"] > 0)).sum()),
        calls_removed=int(((both["call_a"] > 0) & (both["call_b"] == 0)).sum()),
        requirement_delta=_usd(paired["requirement_delta"].sum()),
        value_delta=_usd(paired["value_delta"].sum()),
        call_delta=_usd(paired["call_delta"].sum()),
        largest_changes=_movers(paired),
        attribution=attribution,
    )


def _sets(decisions: dict[str, pd.DataFrame], baseline: str) -> pd.DataFrame:
    base = decisions[baseline][["margin_set_id", "account_ids", "maintenance", "value", "call"]]
    frames = []
    for label, frame in decisions.items():
        if label == baseline:
            continue
        other = frame[["margin_set_id", "account_ids", "maintenance", "value", "call"]]
        same = base.merge(other, on=["margin_set_id", "account_ids"], suffixes=("_a", "_b"))
        out = pd.DataFrame(
            {
                "margin_set_id": same["margin_set_id"],
                "account_ids": same["account_ids"],
                "rulebook_id": label,
            }
        )
        for measure, col in zip(MEASURES, ("maintenance", "value", "call"), strict=True):
            out[f"{measure}_a"] = cents(same[f"{col}_a"])
            out[f"{measure}_b"] = cents(same[f"{col}_b"])
            out[f"{measure}_delta"] = out[f"{measure}_b"] - out[f"{measure}_a"]
        frames.append(out)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def compare(
    rulebooks: Sequence[ResolvedRulebook],
    book: Book,
    as_of: dt.date | None = None,
    *,
    with_attribution: bool = True,
    workers: int = 1,
    keep_evaluations: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> CompareResult:
    """Evaluate every rulebook on the book and compare each with the first.

    Args:
        rulebooks: two or more resolved rulebooks; the first is the baseline.
        book: the book.
        as_of: the as-of date (default: the book's).
        with_attribution: attribute each changed account's delta to the differing rules
            (:func:`marginlex.engine.variants.attribution.attribute`).
        workers: processes evaluating attribution hybrids side by side (1: this process).
        keep_evaluations: keep each rulebook's evaluation (decisions and trace frames) in
            the result, e.g. to record the run in a ledger.
        progress: told ``(what, done, total)`` as the work advances: ``evaluate`` once per
            rulebook, then ``attribute <id>`` once per hybrid of each attribution.

    Returns:
        The comparison.

    Raises:
        ValueError: fewer than two rulebooks, or two with the same id.
    """
    ids = [r.id for r in rulebooks]
    if len(ids) < 2 or len(set(ids)) != len(ids):
        raise ValueError(f"compare needs two or more different rulebooks, got {ids}")
    day = as_of or book.as_of
    shared = SharedBook(book)
    tell = progress or (lambda _what, _done, _total: None)
    runs = []
    for k, r in enumerate(rulebooks):  # a few rulebooks; each one is a vectorized evaluation
        runs.append(shared.evaluate(r, day))
        tell("evaluate", k + 1, len(rulebooks))
    decisions = {r.id: ev.decisions for r, ev in zip(rulebooks, runs, strict=True)}
    account_ids = book.accounts["account_id"]
    accounts = pd.concat(
        [account_figures(decisions[i], account_ids, i) for i in ids], ignore_index=True
    )
    base = rulebooks[0]
    comparisons = []
    for other in rulebooks[1:]:
        paired = _paired(accounts, base.id, other.id)
        attribution = (
            attribute(
                base,
                other,
                book,
                day,
                paired,
                workers=workers,
                whole=(shared.graph, shared.contexts(day)),
                progress=partial(tell, f"attribute {other.id}"),
            )
            if with_attribution
            else None
        )
        comparisons.append(_comparison(paired, base.id, other.id, attribution))
    return CompareResult(
        baseline=base.id,
        book_name=book.name,
        book_sha256=book.sha256,
        as_of=day,
        totals=tuple(_totals(r, r.id, decisions[r.id]) for r in rulebooks),
        comparisons=tuple(comparisons),
        accounts=accounts,
        sets=_sets(decisions, base.id),
        evaluations=tuple(runs) if keep_evaluations else (),
    )
