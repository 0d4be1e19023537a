"""Put the partitions' evaluations of one rulebook back together, in single-process order.

A single-process run orders its decisions by margin set id (``np.unique`` of the ids), and
each partition's decisions are in that order too: the merged decisions are the partitions'
concatenated and stably sorted by margin set id, row for row the single-process frame. A
trace frame's rows are grouped the same way (stably, by their margin set's place among the
decisions; rows of no set first), so each margin set's rows keep the order a single process
gives them, which is all a decision's trace reads.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from marginlex.engine.evaluation import Evaluation


def merge_evaluations(parts: Sequence[Evaluation]) -> Evaluation:
    """One evaluation of the whole book from the evaluations of its partitions.

    Args:
        parts: one rulebook's evaluations of the partitions of one book (at least one).

    Returns:
        The evaluation a single process gives for the decisions; trace frames with the
        same rows, grouped by margin set in decision order.

    >>> from marginlex.dsl.loader import load_rulebook
    >>> from marginlex.engine.book.load import load_demo_book
    >>> from marginlex.engine.distributed.partition import split_book
    >>> from marginlex.engine.run import run_rulebook
    >>> sec = load_rulebook("sec")
    >>> merged = merge_evaluations([run_rulebook(sec, p) for p in split_book(load_demo_book(), 3)])
    >>> merged.decisions["margin_set_id"].is_monotonic_increasing
    True
    """
    if not parts:
        raise ValueError("a merge needs the evaluation of at least one partition")
    decisions = _concat([p.decisions for p in parts])
    order = np.argsort(decisions["margin_set_id"].to_numpy(str), kind="stable")
    decisions = decisions.iloc[order].reset_index(drop=True)
    set_ids = pd.Index(decisions["margin_set_id"].astype("str").to_numpy())
    frames = {
        name: _by_set(_concat([p.frames[name] for p in parts]), set_ids) for name in parts[0].frames
    }
    for frame in frames.values():  # a few frames: a set id's categories are every set's id
        if isinstance(frame["margin_set_id"].dtype, pd.CategoricalDtype):
            frame["margin_set_id"] = frame["margin_set_id"].cat.set_categories(set_ids)
    return parts[0].model_copy(
        update={
            "n_accounts": sum(p.n_accounts for p in parts),
            "out_of_scope": sum(p.out_of_scope for p in parts),
            "decisions": decisions,
            "frames": frames,
        }
    )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The frames one after another; empty ones are left out, so their column types (an
    empty partition's columns may be untyped) do not change the others'. A categorical
    column (a rule id's categories are the rules its partition's rows name) gets the sorted
    union of the partitions' categories; a text column typed (or categorical) in some
    partitions and not in others is typed as text."""
    full = [f for f in frames if len(f)] or frames[:1]
    if len(full) == 1:
        return full[0].reset_index(drop=True)
    out = pd.concat(full, ignore_index=True)
    for col in full[0].columns:  # a few columns
        kinds = [f[col].dtype for f in full]
        if all(isinstance(k, pd.CategoricalDtype) for k in kinds):
            joined = union_categoricals([f[col] for f in full], sort_categories=True)
            out[col] = pd.Series(joined, index=out.index)
        elif len(set(kinds)) > 1 and any(_is_text(k) for k in kinds):
            out[col] = out[col].astype("str")  # text the engine typed in some partitions only
    return out


def _is_text(kind: object) -> bool:
    return isinstance(kind, pd.StringDtype | pd.CategoricalDtype)


def _by_set(frame: pd.DataFrame, set_ids: pd.Index) -> pd.DataFrame:
    """Rows stably grouped by their margin set's row among the decisions (-1: none)."""
    codes = set_ids.get_indexer(pd.Index(frame["margin_set_id"].astype("str")))
    return frame.iloc[np.argsort(codes, kind="stable")].reset_index(drop=True)
