"""What each trace names, column-wise: the rules its steps and figures use, and the
eligibility requirements it failed (that applied).

The ledger indexes every decision by these and by its accounts (``decision_keys``).
Reading them back from each trace meant parsing every trace's JSON again as it was
recorded (more than half of the ledger transaction); here they come from the columns the
traces are built from, as a few distinct key sets and a code per trace. The combinations
are few (which rules a set used, which requirements it failed), so each is written once.
The ledger's :func:`~marginlex.audit.ledger.decision_keys.keys_of` reads the same keys from
a trace's JSON: a rulebook's first traces are checked against it before recording.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from marginlex.audit.trace import fragments as j

FAILED = "failed"
"""The kind of a key naming an eligibility requirement the decision failed (that applied)."""
RULE = "rule"
"""The kind of a key naming a rule id the decision's steps or figures used."""

Named = tuple[tuple[str, str], ...]
"""A trace's keys other than its accounts: (kind, key) pairs, sorted, without repeats."""
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class TraceKeys:
    """The keys of every trace of an evaluation: a code per trace into distinct key sets."""

    codes: list[int]
    sets: list[Named]

    def per_trace(self) -> list[Named]:
        """Each trace's keys, in order (shared tuples, not copies)."""
        return [self.sets[c] for c in self.codes]


def source_rules(sources: j.Coded) -> list[tuple[str, ...]]:
    """The rule ids of each distinct figure-sources text (a JSON list's items)."""
    return [tuple(s["rule_id"] for s in json.loads(f"[{t}]")) for t in sources.texts]


def failed_masks(
    frame: pd.DataFrame, codes: npt.NDArray[np.int64], rule_ids: set[str], n: int
) -> list[tuple[str, Mask]]:
    """Each requirement name with the sets that failed it (rows of the eligibility rules
    ``rule_ids``, in a set, that applied and did not pass)."""
    rows = (
        frame["rule_id"].astype("str").isin(rule_ids).to_numpy(dtype=bool)
        & (codes >= 0)
        & frame["applies"].to_numpy(dtype=bool)
        & ~frame["passed"].to_numpy(dtype=bool)
    )
    names, sets = frame["requirement"].to_numpy(dtype=object)[rows], codes[rows]
    out = []
    for name in sorted(set(names.tolist())):  # a few requirement names
        mask = np.zeros(n, dtype=bool)
        mask[sets[names == name]] = True
        out.append((str(name), mask))
    return out


def trace_keys(
    steps: list[tuple[str, Mask]],
    sources: j.Coded,
    failed: list[tuple[str, Mask]],
    n: int,
) -> TraceKeys:
    """The keys of every trace, from the steps present in each set (rule id, mask), the
    figure sources of each set and each failed requirement's sets."""
    columns = [mask.astype(np.int64) for _, mask in (*steps, *failed)]
    matrix = np.column_stack([sources.codes.astype(np.int64), *columns]) if n else None
    if matrix is None:
        return TraceKeys([], [])
    combos, inverse = j.unique_rows(matrix)
    rules_of = source_rules(sources)
    names = [rule for rule, _ in steps] + [name for name, _ in failed]
    kinds = [RULE] * len(steps) + [FAILED] * len(failed)
    sets: list[Named] = []
    for row in combos.tolist():  # a few combinations, not sets
        found = {(RULE, rule) for rule in rules_of[row[0]]}
        found |= {(k, name) for k, name, on in zip(kinds, names, row[1:], strict=True) if on}
        sets.append(tuple(sorted(found)))
    return TraceKeys(inverse.reshape(-1).tolist(), sets)
