"""Each run's summary, counted once (revision ``0006_run_summaries``): per rulebook its
decisions by status and its requirement and call totals, the distributions of requirements
and calls on shared bins, and its eligibility failures by requirement.

Derived rows, like ``decision_keys``: written in the transaction that records the run, not
chained, rebuilt from the entries by :func:`backfill` (``marginlex ledger upgrade``), and
compared with the entries by ``marginlex verify``. A reader of a ledger without them counts
the same summary from the entries (:func:`summarize`), slowly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, case, delete, func, inspect, select

from marginlex.audit.canonical import canonical_json
from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.chain import Dictionaries, trace_json
from marginlex.audit.ledger.decision_keys import (
    KeyKind,
    failed_requirements,
    has_key_sets,
    has_keys,
    keyed_seq,
    load_dictionaries,
    read_sets,
)
from marginlex.audit.ledger.driver_rows import driver_columns
from marginlex.engine.outcomes import DecisionStatus

BINS = 12
CENT = Decimal("0.01")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RulebookTotals(_Frozen):
    """One rulebook's decisions in a run: how many, by status, and the totals."""

    rulebook_id: str
    decisions: int
    ok: int
    call: int
    breach: int
    requirement_total: Decimal
    call_total: Decimal


class Distribution(_Frozen):
    """Amounts binned on edges shared by every rulebook, in the run's rulebook order: a
    rulebook's ``counts[i]`` decisions fall in ``[edges[i], edges[i + 1])`` (the last bin
    holds its upper edge)."""

    edges: tuple[float, ...]
    counts: tuple[tuple[str, tuple[int, ...]], ...]


class FailureCount(_Frozen):
    """How many decisions of one rulebook failed one eligibility requirement."""

    rulebook_id: str
    requirement: str
    decisions: int


class RunSummary(_Frozen):
    """What the console's run page shows of a run, counted from its entries."""

    run_id: str
    rulebooks: tuple[RulebookTotals, ...]
    requirements: Distribution
    calls: Distribution  # of the decisions with a call
    failures: tuple[FailureCount, ...]  # the most failed first

    def body(self) -> str:
        """The canonical JSON stored in ``run_summaries``."""
        return canonical_json(self.model_dump(mode="json")).decode("utf-8")


def distribution(series: Mapping[str, Sequence[float]], bins: int = BINS) -> Distribution:
    """Amounts per rulebook binned on shared edges (numpy's histogram).

    >>> distribution({"sec": [0.0, 10.0, 10.0]}, bins=2)
    Distribution(edges=(0.0, 5.0, 10.0), counts=(('sec', (1, 2)),))
    >>> distribution({"sec": []}, bins=1).edges
    (0.0, 1.0)
    """
    import numpy as np  # noqa: PLC0415 (what reads a ledger imports no numpy until it counts)

    values = [np.asarray(s, float) for s in series.values()]
    everything = np.concatenate(values) if values else np.zeros(0)
    low, high = (everything.min(), everything.max()) if everything.size else (0.0, 0.0)
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    counts = tuple(
        (label, tuple(int(n) for n in np.histogram(v, edges)[0]))
        for label, v in zip(series, values, strict=True)
    )
    return Distribution(edges=tuple(float(e) for e in edges), counts=counts)


def _totals(conn: Connection, run_id: str) -> tuple[RulebookTotals, ...]:
    col = t.decisions.c
    query = (
        select(
            col.rulebook_id,
            func.count().label("decisions"),
            *[
                func.sum(case((col.status == s.value, 1), else_=0)).label(s.value)
                for s in DecisionStatus
            ],
            func.sum(col.requirement).label("requirement_total"),
            func.sum(col.call).label("call_total"),
        )
        .where(col.run_id == run_id)
        .group_by(col.rulebook_id)
        .order_by(col.rulebook_id)
    )
    money = ("requirement_total", "call_total")
    return tuple(
        RulebookTotals.model_validate(
            dict(r._mapping) | {k: Decimal(r._mapping[k] or 0).quantize(CENT) for k in money}
        )
        for r in conn.execute(query)
    )


def _distributions(conn: Connection, run_id: str) -> tuple[Distribution, Distribution]:
    """The requirements and the calls (above zero) of a run, per rulebook in chain order."""
    sql = (
        "SELECT rulebook_id, CAST(requirement AS FLOAT), CAST(call AS FLOAT) "
        f"FROM {t.decisions.name} WHERE run_id = {{p}} ORDER BY seq"
    )
    table = driver_columns(conn, sql, (run_id,), 3)
    names = table[:, 0]
    figures = table[:, 1:].astype(float)
    labels = list(dict.fromkeys(names.tolist()))  # first seen, first drawn
    by = {label: names == label for label in labels}
    requirements = {label: figures[mask, 0] for label, mask in by.items()}
    calls = {label: figures[mask & (figures[:, 1] > 0), 1] for label, mask in by.items()}
    return distribution(requirements), distribution(calls)


def _failures(conn: Connection, run_id: str) -> tuple[FailureCount, ...]:
    counts = _keyed_failures(conn, run_id) if has_keys(conn) else _traced_failures(conn, run_id)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(
        FailureCount(rulebook_id=rulebook, requirement=name, decisions=n)
        for (rulebook, name), n in ordered
    )


def _keyed_failures(conn: Connection, run_id: str) -> Counter[tuple[str, str]]:
    """Failures counted from ``decision_keys``: each entry of the run by its own keys, or,
    carried forward, by those of the entry it refers to."""
    col, kc = t.decisions.c, t.decision_keys.c
    # Entries recorded since revision 0008 name their failures through their key set: one
    # pass over the run's entries counts both (a few hundred (rulebook, set) pairs, each
    # set's failures then read once).
    sets = read_sets(conn) if has_key_sets(conn) else None
    kinds = [KeyKind.FAILED.value] + ([KeyKind.SET.value] if sets is not None else [])
    query = (
        select(col.rulebook_id, kc.kind, kc.key, func.count())
        .select_from(t.decisions.join(t.decision_keys, kc.seq == keyed_seq()))
        .where(col.run_id == run_id, kc.kind.in_(kinds))
        .group_by(col.rulebook_id, kc.kind, kc.key)
    )
    counts: Counter[tuple[str, str]] = Counter()
    for rulebook, kind, name, n in conn.execute(query):
        if kind == KeyKind.FAILED.value:
            counts[(rulebook, name)] += int(n)
            continue
        for member_kind, key in (sets or {}).get(name, ()):
            if member_kind == KeyKind.FAILED.value:
                counts[(rulebook, key)] += int(n)
    return counts


def _traced_failures(conn: Connection, run_id: str) -> Counter[tuple[str, str]]:
    """Failures read from the traces (a ledger made before ``decision_keys``)."""
    dictionaries: Dictionaries = load_dictionaries(conn)
    col = t.decisions.c
    query = select(col.rulebook_id, col.trace_z).where(col.run_id == run_id)
    counts: Counter[tuple[str, str]] = Counter()
    for rulebook, trace_z in conn.execute(query.execution_options(yield_per=2000)):
        try:
            body = trace_json(trace_z, dictionaries)
        except ValueError:  # a damaged trace: verify names it
            continue
        counts.update((rulebook, name) for name in failed_requirements(body))
    return counts


def summarize(conn: Connection, run_id: str) -> RunSummary:
    """Count a run's summary from its entries (as recorded now)."""
    requirements, calls = _distributions(conn, run_id)
    return RunSummary(
        run_id=run_id,
        rulebooks=_totals(conn, run_id),
        requirements=requirements,
        calls=calls,
        failures=_failures(conn, run_id),
    )


def has_summaries(conn: Connection) -> bool:
    """Whether this ledger has the ``run_summaries`` table (revision 0006 or later)."""
    return inspect(conn).has_table(t.run_summaries.name)


def write_summary(conn: Connection, run_id: str) -> RunSummary:
    """Count a run's summary and store it (in the caller's transaction), replacing any row a
    run of that id left (a run removed by hand, then recorded again)."""
    summary = summarize(conn, run_id)
    mine = t.run_summaries.c.run_id == run_id
    # Only when there is one: a writer role may not DELETE (a PostgreSQL ledger with roles).
    if conn.scalar(select(t.run_summaries.c.run_id).where(mine)) is not None:
        conn.execute(delete(t.run_summaries).where(mine))
    conn.execute(t.run_summaries.insert(), [{"run_id": run_id, "body": summary.body()}])
    return summary


def read_summary(conn: Connection, run_id: str) -> RunSummary | None:
    """A run's stored summary (None: none stored, or the ledger has no such table)."""
    if not has_summaries(conn):
        return None
    query = select(t.run_summaries.c.body).where(t.run_summaries.c.run_id == run_id)
    body = conn.scalar(query)
    return None if body is None else RunSummary.model_validate_json(body)


def backfill(conn: Connection) -> int:
    """Count and store the summary of every recorded run; return how many."""
    conn.execute(delete(t.run_summaries))
    run_ids = list(conn.scalars(select(t.runs.c.run_id).order_by(t.runs.c.first_seq)))
    for run_id in run_ids:
        write_summary(conn, run_id)
    return len(run_ids)
