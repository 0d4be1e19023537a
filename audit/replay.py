"""Replay: re-evaluate a recorded run from its recorded rulebook texts and book.

The audit package does not evaluate; the evaluator plugs in a :data:`Replayer`. Until one is
registered, ``marginlex verify --replay`` says so instead of pretending to replay.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from pydantic import Field

from marginlex.audit.records import RunRecord
from marginlex.audit.trace_steps import TraceModel


class ReplayedTrace(Protocol):
    """A re-made decision: a :class:`~marginlex.audit.trace.DecisionTrace`, or any object
    with its id and canonical bytes."""

    @property
    def decision_id(self) -> str: ...

    def canonical(self) -> bytes: ...


Replayer = Callable[[RunRecord, Mapping[str, str], bytes], Iterable[ReplayedTrace]]
"""Re-evaluates one run: (run record, canonical rulebook texts by sha256, canonical book
content) -> the decisions the engine makes today, one per margin set per rulebook."""

REPLAY_MODULE = "marginlex.engine.replay"
"""Where the evaluator provides ``replay_run`` (a :data:`Replayer`)."""

_registered: list[Replayer] = []


def register_replayer(replayer: Replayer) -> None:
    """Make ``replayer`` the one ``verify --replay`` uses (the evaluator calls this)."""
    _registered[:] = [replayer]


def find_replayer() -> Replayer | None:
    """The registered replayer, else ``replay_run`` of :data:`REPLAY_MODULE` if it exists."""
    if _registered:
        return _registered[0]
    if importlib.util.find_spec(REPLAY_MODULE) is None:
        return None
    module = importlib.import_module(REPLAY_MODULE)
    replayer: Replayer | None = getattr(module, "replay_run", None)
    return replayer


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
