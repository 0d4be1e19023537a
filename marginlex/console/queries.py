"""Read models of the console's pages, over :mod:`marginlex.audit.ledger`'s readers.

Listings are filtered, sorted and paginated by the database. An account, a failed eligibility
requirement and a rule id are looked up in the ledger's ``decision_keys`` (revision 0005); on
an older ledger served as it is, the last two read the traces of the rows the other filters
leave, a batch at a time, and stop when the page is full.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from marginlex.audit.ledger.decision_keys import KeyKind, failed_requirements, rules_used
from marginlex.audit.ledger.records import DecisionRow, StoredRun
from marginlex.audit.ledger.run_summaries import RunSummary, read_summary, summarize
from marginlex.audit.ledger.store import Ledger
from marginlex.audit.trace.model import RulebookRef
from marginlex.engine.outcomes import DecisionStatus

PAGE_SIZE = 50
SCAN_BATCH = 500
SCAN_LIMIT = 50_000
"""At most this many decisions are read to fill one page of a trace-content filter."""


class DecisionSort(StrEnum):
    """How a decision listing is ordered."""

    CHAIN = "seq"
    NEWEST = "-seq"
    CALL = "-call"
    REQUIREMENT = "-requirement"
    MARGIN_SET = "margin_set_id"


class DecisionFilter(BaseModel):
    """The server-side filter of the decisions page (each given field must hold)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run: str | None = None
    account: str | None = None
    margin_set: str | None = None
    rulebook: str | None = None
    status: DecisionStatus | None = None
    call_above: Decimal | None = None
    failed: str | None = None
    rule: str | None = None
    sort: DecisionSort = DecisionSort.CHAIN

    def sql(self) -> dict[str, Any]:
        """The filters the ledger applies itself."""
        return self.model_dump(
            include={"run", "account", "margin_set", "rulebook", "status", "call_above"}
        )

    def keys(self) -> dict[str, str]:
        """The ``decision_keys`` the failed-requirement and rule filters name."""
        found = {KeyKind.FAILED.value: self.failed, KeyKind.RULE.value: self.rule}
        return {kind: key for kind, key in found.items() if key is not None}

    def query_string(self, **override: object) -> str:
        """The filter as URL parameters (for links to other pages and exports)."""
        values = self.model_dump(mode="json", exclude_defaults=True) | override
        return "&".join(f"{k}={_quote(v)}" for k, v in values.items() if v not in (None, ""))


def _quote(value: object) -> str:
    from urllib.parse import quote  # noqa: PLC0415

    return quote(str(value), safe="")


class DecisionPage(BaseModel):
    """One page of a decision listing."""

    model_config = ConfigDict(frozen=True)

    rows: list[DecisionRow]
    number: int
    size: int
    total: int | None  # None when a trace filter makes counting every match too slow
    has_next: bool
    scanned: int = 0


def find_decisions(
    ledger: Ledger, where: DecisionFilter, number: int, size: int = PAGE_SIZE
) -> DecisionPage:
    """The page ``number`` (from 1) of the decisions matching ``where``."""
    order = (where.sort.value,)
    keyed = ledger.keyed()
    if keyed or (where.failed is None and where.rule is None):
        sql = where.sql() | {"keys": where.keys()} if keyed else where.sql()
        rows = ledger.query(**sql, order=order, limit=size, offset=(number - 1) * size)
        total = ledger.count(**sql)
        return DecisionPage(
            rows=rows, number=number, size=size, total=total, has_next=number * size < total
        )
    wanted, skip, found, scanned = size + 1, (number - 1) * size, [], 0
    for row, body in _scan(ledger, where, order):
        scanned += 1
        if _matches(body, where):
            if skip:
                skip -= 1
            else:
                found.append(row)
                if len(found) == wanted:
                    break
    return DecisionPage(
        rows=found[:size],
        number=number,
        size=size,
        total=None,
        has_next=len(found) > size,
        scanned=scanned,
    )


def _scan(
    ledger: Ledger, where: DecisionFilter, order: tuple[str, ...]
) -> Iterator[tuple[DecisionRow, str]]:
    for offset in range(0, SCAN_LIMIT, SCAN_BATCH):  # batches, stopped by the caller
        rows = ledger.query(**where.sql(), order=order, limit=SCAN_BATCH, offset=offset)
        bodies = ledger.trace_bodies(r.seq for r in rows)
        yield from ((r, bodies[r.seq]) for r in rows if r.seq in bodies)
        if len(rows) < SCAN_BATCH:
            return


def _matches(body: str, where: DecisionFilter) -> bool:
    """Whether a trace failed the named requirement and used the named rule."""
    if where.failed is not None and where.failed not in failed_requirements(body):
        return False
    return where.rule is None or where.rule in rules_used(json.loads(body))


def runs_newest_first(ledger: Ledger) -> list[StoredRun]:
    """Every run, the newest first."""
    return list(reversed(ledger.runs()))


def find_run(ledger: Ledger, run_id: str) -> StoredRun | None:
    """One run by id."""
    return next((r for r in ledger.runs() if r.record.run_id == run_id), None)


def run_summary(ledger: Ledger, run_id: str) -> RunSummary:
    """A run's totals, distributions and eligibility failures: as stored at record time
    (revision 0006), else counted from the entries (an older ledger served as it is)."""
    with ledger.engine.connect() as conn:
        return read_summary(conn, run_id) or summarize(conn, run_id)


def recorded_rulebooks(ledger: Ledger) -> list[tuple[RulebookRef, int]]:
    """Every rulebook bundle the runs recorded, with how many runs used it."""
    seen: dict[str, tuple[RulebookRef, int]] = {}
    for run in ledger.runs():
        for ref in run.record.rulebooks:
            _, uses = seen.get(ref.sha256, (ref, 0))
            seen[ref.sha256] = (ref, uses + 1)
    return sorted(seen.values(), key=lambda item: (item[0].id, item[0].version))
