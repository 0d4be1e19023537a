"""Integer-coded group-bys shared by the margin kernels.

Every kernel groups rows by (margin set, label): class groups within margin sets, product
groups within margin sets. Groups are numbered in sorted order of (margin set code, label),
so group numbering, and every frame indexed by it, does not depend on the order of input
rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class GroupIndex:
    """Rows numbered by (margin set, label) group.

    Attributes:
        codes: group number of each input row, in ``0 .. size-1``.
        margin_set: margin set code of each group, ascending.
        label: label of each group (sorted within a margin set), categorical so that a
            million group labels are not a million strings.
    """

    codes: IntArray
    margin_set: IntArray
    label: pd.Categorical

    @property
    def size(self) -> int:
        """Number of groups."""
        return len(self.margin_set)

    def frame(self, label_name: str) -> pd.DataFrame:
        """The group keys as a frame: ``margin_set`` and ``label_name`` columns."""
        return pd.DataFrame({"margin_set": self.margin_set, label_name: self.label})


def group_by_set_and_label(margin_set: npt.ArrayLike, label: pd.Series) -> GroupIndex:
    """Number rows by their (margin set code, label) pair.

    Args:
        margin_set: non-negative integer margin set code per row.
        label: group label per row (str or int), e.g. ``class_group``.

    Returns:
        The group index; groups sorted by margin set, then label.

    Raises:
        ValueError: a margin set code is negative or a label is missing.

    >>> g = group_by_set_and_label([1, 0, 1], pd.Series(["B", "A", "A"]))
    >>> g.codes.tolist(), g.margin_set.tolist(), g.label.tolist()
    ([2, 0, 1], [0, 1, 1], ['A', 'A', 'B'])
    """
    sets = np.asarray(margin_set, dtype=np.int64)
    if sets.size and sets.min() < 0:
        raise ValueError("margin_set codes must be non-negative integers")
    label_codes, uniques = pd.factorize(label, sort=True, use_na_sentinel=True)
    if (label_codes < 0).any():
        raise ValueError(f"{int((label_codes < 0).sum())} rows have no {label.name or 'label'}")
    key = sets * max(len(uniques), 1) + label_codes.astype(np.int64)
    codes, keys = pd.factorize(key, sort=True)
    keys_arr = np.asarray(keys, dtype=np.int64)
    n_labels = max(len(uniques), 1)
    group_label = pd.Categorical.from_codes(keys_arr % n_labels, categories=pd.Index(uniques))
    return GroupIndex(codes.astype(np.int64), keys_arr // n_labels, group_label)


def sum_by_group(codes: IntArray, values: FloatArray, size: int) -> FloatArray:
    """Sum values per group.

    Args:
        codes: group number per row.
        values: a vector (N,) or a points-major matrix (K, N) of per-row amounts.
        size: number of groups.

    Returns:
        (size,) for a vector; (size, K) for a matrix: one column per point.
    """
    if values.ndim == 1:
        return np.bincount(codes, weights=values, minlength=size).astype(np.float64)
    out = np.empty((size, values.shape[0]), dtype=np.float64)
    for point in range(values.shape[0]):  # a handful of valuation points, not rows
        out[:, point] = np.bincount(codes, weights=values[point], minlength=size)
    return out


def uniform_within_groups(codes: IntArray, values: npt.ArrayLike, size: int) -> BoolArray:
    """Whether each group's rows all hold the same value (NaN-free inputs).

    Returns:
        (size,) booleans; True for groups whose rows agree.
    """
    vals = np.asarray(values)
    first = np.zeros(size, dtype=vals.dtype)
    first[codes] = vals  # some row's value per group; any disagreement shows below
    differs = np.bincount(codes, weights=(vals != first[codes]).astype(np.float64), minlength=size)
    return np.asarray(differs == 0, dtype=np.bool_)


def first_by_group(codes: IntArray, values: npt.ArrayLike, size: int) -> npt.NDArray[np.generic]:
    """The value of one row of each group (meant for values uniform within groups)."""
    vals = np.asarray(values)
    first = np.zeros(size, dtype=vals.dtype)
    first[codes] = vals
    return first


def categorical(codes: npt.ArrayLike, categories: Sequence[str]) -> pd.Categorical:
    """A categorical column from integer codes (-1 is missing): labels without object dtype.

    >>> categorical([1, 0, -1], ["ok", "call"]).tolist()
    ['call', 'ok', nan]
    """
    return pd.Categorical.from_codes(
        np.asarray(codes, dtype=np.int64), categories=pd.Index(list(categories), dtype="str")
    )
