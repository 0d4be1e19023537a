"""The state one evaluation threads through its phases (columns, not objects per row)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.types import union_categoricals

from marginlex.dsl.model.expressions import Subject
from marginlex.engine.book.load import Book
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.kernels.text import as_text
from marginlex.engine.plan.context import Contexts
from marginlex.engine.plan.steps import Plan, Step

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def constant(n: int, text: str) -> pd.Categorical:
    """A column of ``n`` times the same text, as a categorical (cheap at any size)."""
    return labels(np.zeros(n, dtype=np.int64), [text])


def labels(codes: IntArray, texts: list[str]) -> pd.Categorical:
    """Texts by code (-1: missing) as a categorical; repeated texts are merged."""
    unique = list(dict.fromkeys(texts))
    remap = np.array([unique.index(t) for t in texts] + [-1], dtype=np.int64)
    return pd.Categorical.from_codes(
        remap[np.asarray(codes, np.int64)], categories=pd.Index(unique, dtype="str")
    )


def stack_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat(frames, ignore_index=True)``, the same frame, made faster: a column that is
    categorical in every frame, with categories that differ, becomes text as concat makes
    it, joined by code rather than converted row by row.

    >>> a = pd.DataFrame({"x": constant(2, "a"), "n": [1, 2]})
    >>> b = pd.DataFrame({"x": constant(1, "b"), "n": [3]})
    >>> stack_frames([a, b]).equals(pd.concat([a, b], ignore_index=True))
    True
    """
    first = frames[0].columns
    mixed = [
        col
        for col in first
        if all(isinstance(f[col].dtype, pd.CategoricalDtype) for f in frames)
        and len({tuple(f[col].cat.categories) for f in frames}) > 1
    ]
    if not mixed:
        return pd.concat(frames, ignore_index=True)
    out = pd.concat([f.drop(columns=mixed) for f in frames], ignore_index=True)
    texts = {col: as_text(pd.Series(union_categoricals([f[col] for f in frames]))) for col in mixed}
    return out.assign(**texts)[list(first)]


def join_per_group(codes: IntArray, texts: np.ndarray, size: int, sep: str = ";") -> np.ndarray:
    """Per group code ``0 .. size-1``, its distinct texts sorted and joined by ``sep``.

    Vectorized by rank within the group: one pass per rank (a set has a handful of
    accounts), never one per group. Groups without a text get "".

    >>> join_per_group(np.array([1, 0, 1]), np.array(["b", "x", "a"]), 3).tolist()
    ['x', 'a;b', '']
    """
    frame = pd.DataFrame({"g": np.asarray(codes, np.int64), "t": pd.Series(texts, dtype="str")})
    frame = frame.drop_duplicates().sort_values(["g", "t"], kind="stable")
    rank = frame.groupby("g", sort=False).cumcount().to_numpy()
    group = frame["g"].to_numpy()
    text = frame["t"].to_numpy(dtype=object)
    out = np.full(size, "", dtype=object)
    first = rank == 0
    out[group[first]] = text[first]
    for r in range(1, int(rank.max(initial=0)) + 1):  # ranks, not groups
        at = rank == r
        out[group[at]] = out[group[at]] + sep + text[at]
    return out


def empty_frame(columns: tuple[str, ...]) -> pd.DataFrame:
    """An empty frame with these columns (text dtype)."""
    return pd.DataFrame({c: pd.Series([], dtype="str") for c in columns})


@dataclass
class RunState:
    """Columns written by the phases of one evaluation.

    Attributes:
        plan, book, graph, ctx: the inputs.
        in_scope: per account row, whether the rulebook decides it.
        set_ids: margin set ids, sorted; a set's code is its position here.
        account_set: per account row, its set code (-1 out of scope).
        position_set: per position row, the set code it is margined in (-1: none).
        joined_by: per position row, the number in ``joined_rules`` of the rule that took it
            into another account's set (0: "", none).
        lot_set: per lot row, the set code of the account it margins (-1: none).
        eligible: per account row, every eligibility rule passed.
        failed_mask: per account row, bit i set when requirement ``failed_names[i]`` failed.
        breach_rules: per set code, the ids of violated segregation rules (";"-joined).
        frames: trace frames written so far.
        trace: whether to write the trace-only frames (``eligibility`` rows with their
            texts, ``class_groups``, ``positions``, the lots' ``candidates``); without
            them the decisions are the same (``evaluate(..., trace=False)``).
    """

    plan: Plan
    book: Book
    graph: AccountGraph
    ctx: Contexts
    in_scope: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    set_ids: npt.NDArray[np.str_] = field(default_factory=lambda: np.zeros(0, dtype=str))
    account_set: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    position_set: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    joined_by: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lot_set: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    eligible: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    failed_mask: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    failed_names: list[str] = field(default_factory=list)
    breach_rules: pd.Series = field(default_factory=lambda: pd.Series([], dtype="str"))
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    joined_rules: list[str] = field(default_factory=lambda: [""])
    trace: bool = True
    _set_index: pd.Index | None = None

    @property
    def n_sets(self) -> int:
        """Number of margin sets."""
        return len(self.set_ids)

    @property
    def account_ids(self) -> pd.Series:
        """Account ids in account-row order."""
        return self.ctx.accounts.own[Subject.ACCOUNT]["id"]

    def set_column(self, codes: IntArray) -> pd.Categorical:
        """Set ids for set codes (>= 0) as a categorical column: no string per row."""
        if self._set_index is None or len(self._set_index) != len(self.set_ids):
            self._set_index = pd.Index(self.set_ids, dtype="str")
        return pd.Categorical.from_codes(np.asarray(codes, np.int64), categories=self._set_index)

    def step_columns(self, step: Step, n: int) -> dict[str, pd.Categorical]:
        """``rule_id`` and ``citation`` columns for ``n`` rows of one step."""
        return {"rule_id": constant(n, step.rule_id), "citation": constant(n, step.citation)}

    def any_member(self, account_mask: BoolArray) -> BoolArray:
        """Per set code: does any member account satisfy ``account_mask``?"""
        rows = self.account_set >= 0
        hits = np.bincount(
            self.account_set[rows],
            weights=account_mask[rows].astype(np.float64),
            minlength=self.n_sets,
        )
        return np.asarray(hits > 0, dtype=bool)
