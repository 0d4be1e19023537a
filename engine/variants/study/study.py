"""The impact study of a comparison: what a comment letter cites (``compare --study``).

Per rulebook pair (the baseline against each other rulebook): collateral freed or required
and calls, in total and by segment (:mod:`marginlex.engine.variants.study.segments`), how
concentrated the benefit is across carrying firms, the Shapley attribution
(:mod:`marginlex.engine.variants.study.shapley`) and the differing statements with their
citations;
and per stress scenario the calls created or removed
(:mod:`marginlex.engine.variants.study.stress_calls`). ``directory`` lists every account a figure
points at, so that each figure can link to the accounts and rules behind it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from functools import partial

import pandas as pd
from pydantic import BaseModel, ConfigDict

from marginlex.dsl.diff import diff_rulebooks
from marginlex.dsl.hybrid import expand_rows, split_unit
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book
from marginlex.engine.stress.shocks import Scenario
from marginlex.engine.variants.attribution import switch_order
from marginlex.engine.variants.attribution_pool import Progress
from marginlex.engine.variants.compare import CompareResult, paired_figures
from marginlex.engine.variants.figures import decide, moved_accounts
from marginlex.engine.variants.study.segments import (
    Concentration,
    Dimension,
    SegmentTable,
    account_segments,
    concentration,
    segment_table,
)
from marginlex.engine.variants.study.shapley import EXACT_MAX, SAMPLES, SEED, Shapley, shapley
from marginlex.engine.variants.study.stress_calls import ScenarioCalls, scenario_calls
from marginlex.engine.variants.study.today import today_accounts, today_decisions, today_label


class RuleRef(BaseModel):
    """One differing unit (a statement, or one row of a table) and what says it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: str
    statement_id: str
    row: str | None
    change: str
    kind: str
    citation: str
    lines: tuple[str, ...]


class ShapleyOptions(BaseModel):
    """How Shapley values are computed: exact up to ``exact_max`` players, else sampled."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    exact_max: int = EXACT_MAX
    samples: int = SAMPLES
    seed: int = SEED


class PairStudy(BaseModel):
    """The baseline against one other rulebook.

    Attributes:
        freed: total requirement under the baseline less under the other rulebook (USD).
        segments: one table per :class:`Dimension`.
        benefit, burden: concentration across carrying firms of the freed and the required.
        shapley: the order-free attribution (None when not asked for, and for the combined
            baseline of today's regimes, which is not one rulebook).
        rules: every differing unit, in switching order, with its citation (none for the
            combined baseline).
        accounts: the changed accounts with their segments and figures (cents).
        note: what the baseline is, when it is not one rulebook.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    from_id: str
    to_id: str
    requirement_from: float
    requirement_to: float
    freed: float
    call_delta: float
    calls_created: int
    calls_removed: int
    segments: tuple[SegmentTable, ...]
    benefit: Concentration
    burden: Concentration
    shapley: Shapley | None
    rules: tuple[RuleRef, ...]
    accounts: pd.DataFrame
    note: str = ""


class Study(BaseModel):
    """The impact study of one comparison."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    book_name: str
    book_sha256: str
    as_of: dt.date
    baseline: str
    pairs: tuple[PairStudy, ...]
    scenarios: tuple[Scenario, ...]
    scenario_calls: tuple[ScenarioCalls, ...]
    directory: pd.DataFrame


def rule_refs(a: ResolvedRulebook, b: ResolvedRulebook) -> tuple[RuleRef, ...]:
    """The differing units of ``a`` -> ``b`` in switching order, then citation-only changes."""
    diff = diff_rulebooks(a, b)
    by_id = {c.statement_id: c for c in diff.changes}
    units = expand_rows(a, b, switch_order(diff))
    units += [c.statement_id for c in diff.changes if not c.operative]
    out = []
    for unit in units:
        sid, row = split_unit(unit)
        c = by_id[sid]
        out.append(
            RuleRef(
                unit=unit,
                statement_id=sid,
                row=row,
                change=c.change.value if c.operative else f"{c.change.value} (citation only)",
                kind=c.statement_kind.value,
                citation=c.citation or "",
                lines=tuple(c.lines),
            )
        )
    return tuple(out)


def _decisions(result: CompareResult, rb: ResolvedRulebook, book: Book) -> pd.DataFrame:
    found = [e.decisions for e in result.evaluations if e.rulebook_id == rb.id]
    return found[0] if found else decide(rb, book, result.as_of)


def pair_study(
    result: CompareResult,
    pair: tuple[ResolvedRulebook, ResolvedRulebook],
    book: Book,
    options: ShapleyOptions | None,
    *,
    workers: int = 1,
    progress: Progress | None = None,
) -> PairStudy:
    """The study of the baseline ``pair[0]`` against ``pair[1]`` (Shapley unless ``options``
    is None)."""
    a, b = pair
    paired = result.account_deltas(b.id)
    values = (
        shapley(
            a,
            b,
            book,
            result.as_of,
            paired,
            exact_max=options.exact_max,
            samples=options.samples,
            seed=options.seed,
            workers=workers,
            progress=progress,
        )
        if options is not None
        else None
    )
    decided = (_decisions(result, a, book), _decisions(result, b, book))
    return _study((a.id, b.id), paired, decided, book, values).model_copy(
        update={"rules": rule_refs(a, b)}
    )


TODAY_NOTE = (
    "today's regimes side by side: each account's figures from the rulebook of its regime "
    "(SEC accounts from {sec}, CFTC accounts from {cftc}), each counted once"
)


def today_study(
    result: CompareResult,
    today: tuple[ResolvedRulebook, ResolvedRulebook],
    b: ResolvedRulebook,
    book: Book,
) -> PairStudy:
    """The study of today's regimes side by side (:mod:`.today`) against ``b``."""
    sec, cftc = today
    label = today_label(sec.id, cftc.id)
    combined = today_accounts(result.accounts, book, sec.id, cftc.id)
    other = result.accounts[result.accounts["rulebook_id"] == b.id]
    paired = paired_figures(pd.concat([combined, other], ignore_index=True), label, b.id)
    decided = (
        today_decisions(_decisions(result, sec, book), _decisions(result, cftc, book), book),
        _decisions(result, b, book),
    )
    study = _study((label, b.id), paired, decided, book, None)
    return study.model_copy(update={"note": TODAY_NOTE.format(sec=sec.id, cftc=cftc.id)})


def _study(
    ids: tuple[str, str],
    paired: pd.DataFrame,
    decided: tuple[pd.DataFrame, pd.DataFrame],
    book: Book,
    values: Shapley | None,
) -> PairStudy:
    frame = account_segments(book, paired, *decided)
    tables = tuple(segment_table(frame, d) for d in Dimension)
    by_firm = next(t for t in tables if t.dimension is Dimension.CARRIER)
    both = frame["decided_a"] & frame["decided_b"]
    req_a = int(frame["requirement_a"].sum()) / 100
    req_b = int(frame["requirement_b"].sum()) / 100
    return PairStudy(
        from_id=ids[0],
        to_id=ids[1],
        requirement_from=req_a,
        requirement_to=req_b,
        freed=round(req_a - req_b, 2),
        call_delta=int(frame["call_delta"].sum()) / 100,
        calls_created=int((both & (frame["call_a"] == 0) & (frame["call_b"] > 0)).sum()),
        calls_removed=int((both & (frame["call_a"] > 0) & (frame["call_b"] == 0)).sum()),
        segments=tables,
        benefit=concentration(by_firm, "benefit"),
        burden=concentration(by_firm, "burden"),
        shapley=values,
        rules=(),
        accounts=frame[moved_accounts(frame).to_numpy()].reset_index(drop=True),
    )


def _directory(book: Book, ids: set[str]) -> pd.DataFrame:
    acc = book.accounts[book.accounts["account_id"].isin(sorted(ids))]
    kind = book.parties.set_index("party_id")["kind"].astype("str")
    out = pd.DataFrame(
        {
            "account_id": acc["account_id"].astype("str").to_numpy(),
            "owner_id": acc["owner_id"].astype("str").to_numpy(),
            "party_kind": kind.reindex(acc["owner_id"].astype("str")).fillna("unknown").to_numpy(),
            "account_kind": acc["kind"].astype("str").to_numpy(),
            "carrier_id": acc["carrier_id"].astype("str").to_numpy(),
        }
    )
    return out.sort_values("account_id", kind="stable").reset_index(drop=True)


def impact_study(
    result: CompareResult,
    rulebooks: Sequence[ResolvedRulebook],
    book: Book,
    scenarios: Sequence[Scenario] = (),
    *,
    options: ShapleyOptions | None = None,
    today: tuple[ResolvedRulebook, ResolvedRulebook] | None = None,
    workers: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
) -> Study:
    """The impact study of ``result`` (the comparison of ``rulebooks`` on ``book``).

    Args:
        result: the comparison (with its evaluations when kept; otherwise re-decided).
        rulebooks: the compared rulebooks, the baseline first.
        book: the book compared on.
        scenarios: stress scenarios; the calls created or removed under each, per pair.
        options: how Shapley values are computed; None skips them.
        today: the SEC and the CFTC rulebook (both among ``rulebooks``): also study today's
            regimes side by side (:mod:`.today`) against every other rulebook.
        workers: processes evaluating Shapley coalitions side by side.
        progress: told ``(what, done, total)`` as the coalitions of ``shapley <id>`` are
            evaluated.

    Raises:
        marginlex.engine.stress.shocks.ShockError: a scenario's shock matches nothing.
    """
    base = rulebooks[0]
    tell = progress or (lambda _what, _done, _total: None)
    pairs = tuple(
        pair_study(
            result,
            (base, b),
            book,
            options,
            workers=workers,
            progress=partial(tell, f"shapley {b.id}"),
        )
        for b in rulebooks[1:]
    )
    if today is not None:
        named = {r.id for r in today}
        pairs += tuple(today_study(result, today, b, book) for b in rulebooks if b.id not in named)
    calls = scenario_calls(book, rulebooks, scenarios) if scenarios else ()
    ids = {str(x) for p in pairs for x in p.accounts["account_id"]}
    ids |= {x for s in calls for x in (*s.created, *s.removed)}
    return Study(
        book_name=result.book_name,
        book_sha256=result.book_sha256,
        as_of=result.as_of,
        baseline=result.baseline,
        pairs=pairs,
        scenarios=tuple(scenarios),
        scenario_calls=calls,
        directory=_directory(book, ids),
    )
