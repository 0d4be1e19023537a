"""Replay: what re-evaluating a recorded run compares, and how a difference is named.

:data:`Replayer` is the seam :func:`marginlex.audit.ledger.verify.verify` takes; the replayer
itself, which rebuilds a run's inputs and re-evaluates them with the engine, is
:func:`marginlex.audit.ledger.replay_run.replay_run`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from pydantic import Field

from marginlex.audit.ledger.records import RunRecord
from marginlex.audit.trace.model import LedgerColumns
from marginlex.audit.trace.steps import TraceModel


class ReplayedTrace(Protocol):
    """A re-made decision: a :class:`~marginlex.audit.trace.model.DecisionTrace`, or any object
    with its id, canonical bytes and the ledger columns it implies."""

    @property
    def decision_id(self) -> str: ...

    def canonical(self) -> bytes: ...

    def ledger_columns(self) -> LedgerColumns: ...


Replayer = Callable[[RunRecord, Mapping[str, str], bytes], Iterable[ReplayedTrace]]
"""Re-evaluates one run: (run record, canonical rulebook texts by sha256, canonical book
content) -> the decisions the engine makes today, one per margin set per rulebook."""


class ReplayDifference(TraceModel):
    """A recorded decision that does not replay to the same bytes."""

    decision_id: str
    detail: str = Field(description="The first JSON path that differs, or what is missing.")
    run_id: str
    seq: int | None = Field(description="The ledger entry, or None for a new decision.")


def first_difference(stored: Any, replayed: Any, path: str = "$") -> str | None:
    """The JSON path of the first place two JSON values differ, with both values.

    >>> first_difference({"a": [1, 2]}, {"a": [1, 3]})
    '$.a[1]: recorded 2, replayed 3'
    """
    if isinstance(stored, dict) and isinstance(replayed, dict):
        for key in sorted(set(stored) | set(replayed)):
            found = first_difference(stored.get(key), replayed.get(key), f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(stored, list) and isinstance(replayed, list) and len(stored) == len(replayed):
        for index, (a, b) in enumerate(zip(stored, replayed, strict=True)):
            found = first_difference(a, b, f"{path}[{index}]")
            if found:
                return found
        return None
    if stored == replayed:
        return None
    return f"{path}: recorded {json.dumps(stored)}, replayed {json.dumps(replayed)}"


CARRIED_FIELDS = ("book_sha256", "decision_id")
"""What a decision carried forward may differ in from the same decision made on a new book."""


def column_differences(stored: LedgerColumns, replayed: LedgerColumns) -> list[str]:
    """Each stored column that is not what replay recomputes, with both values.

    >>> a = LedgerColumns('["A"]', "ok", "0.00", "10.00")
    >>> column_differences(a, a._replace(requirement="12.50"))
    ['column requirement: stored "10.00", replayed "12.50"']
    """
    return [
        f"column {name}: stored {json.dumps(old)}, replayed {json.dumps(new)}"
        for name, old, new in zip(LedgerColumns._fields, stored, replayed, strict=True)
        if old != new
    ]
