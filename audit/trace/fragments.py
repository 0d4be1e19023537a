"""Canonical trace JSON built column-wise: one fragment per row, joined per group.

Serializing 300,000 traces one pydantic model at a time takes minutes; here every value is
formatted once per distinct value (a :class:`Coded` column: codes into distinct texts),
literals and columns of few combinations are joined per distinct text, every row of a
trace frame becomes its JSON fragment in one comprehension, and fragments are grouped per
class group, per margin set, per step (rows sorted by group once; never filtered per
decision) and laid out into each trace (:mod:`marginlex.audit.trace.layout`).

The bytes are exactly those pydantic writes for the same
:class:`~marginlex.audit.trace.model.DecisionTrace` (a test holds this): keys in sorted order,
compact, UTF-8; money as two-decimal strings rounded half up; floats as pydantic writes
them; strings escaped as ``json.dumps(ensure_ascii=False)``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise, repeat

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import TypeAdapter

from marginlex.engine.kernels.money import round_cents

Col = list[str | None]
"""One JSON fragment per row; None where the row has no such fragment."""


@dataclass(frozen=True)
class Coded:
    """A column of JSON fragments as codes into its distinct texts, each formatted once.

    :func:`concat` joins literals and neighbouring columns of few distinct texts per
    distinct text, not per row, so each row joins fewer, longer pieces.
    """

    codes: npt.NDArray[np.intp]  # one per row
    texts: list[str]

    def __len__(self) -> int:
        return len(self.codes)

    def col(self) -> Col:
        """One fragment per row."""
        return _take(self.texts, self.codes)

    def objects(self) -> npt.NDArray[np.object_]:
        """One fragment per row, as an object array."""
        objects: npt.NDArray[np.object_] = np.asarray(self.texts, dtype=object)[self.codes]
        return objects


Part = Sequence[str | None] | str | Coded
_FLOAT = TypeAdapter(float)
_ESCAPE = re.compile(r'["\\\x00-\x1f]')
Texts = Sequence[str | None] | npt.NDArray[np.object_] | pd.Series | pd.Index
"""A column of text: a list, an object array, or a (string, object or categorical) Series."""


def text(value: str) -> str:
    """One JSON string literal, escaped as pydantic and ``json.dumps`` escape.

    >>> print(text('say "hi" in café'))
    "say \\"hi\\" in café"
    """
    return json.dumps(value, ensure_ascii=False)


def concat(*parts: Part) -> Col:
    """Row-wise concatenation of fragments and literals; None anywhere makes the row None.

    >>> concat('{"a":', bools([True, False]), ',"b":', ["1", None], "}")
    ['{"a":true,"b":1}', None]
    """
    n = next(len(p) for p in parts if not isinstance(p, str))
    missing = np.zeros(n, dtype=bool)
    columns: list[Iterable[str | None]] = []
    for p in _folded(parts, n):
        if isinstance(p, str):
            columns.append(repeat(p, n))
        elif isinstance(p, Coded):
            columns.append(p.col())  # never None
        elif None in p:  # one scan per column, rather than a check per row
            absent = np.fromiter((v is None for v in p), dtype=bool, count=n)
            missing |= absent
            columns.append(["" if v is None else v for v in p])
        else:
            columns.append(p)
    out: Col = list(map("".join, zip(*columns, strict=False)))
    for i in np.flatnonzero(missing).tolist():
        out[i] = None
    return out


def _folded(parts: Sequence[Part], n: int) -> list[Part]:
    """The parts with each literal joined to the texts of a neighbouring coded column, and
    neighbouring coded columns of few combinations (at most ``n / 8``) combined.

    >>> _folded(["[", bools([True, False]), ",", Coded(np.array([0, 0]), ["x"]), "]"], 16)
    [Coded(codes=array([1, 0]), texts=['[false,x]', '[true,x]'])]
    """
    out: list[Part] = []
    for part in parts:  # a few dozen
        last = out[-1] if out else None
        if isinstance(part, str) and isinstance(last, Coded):
            out[-1] = Coded(last.codes, [t + part for t in last.texts])
        elif isinstance(part, Coded) and isinstance(last, str):
            out[-1] = Coded(part.codes, [last + t for t in part.texts])
        elif isinstance(part, Coded) and isinstance(last, Coded):
            width = len(part.texts)
            if len(last.texts) * width * 8 > n:
                out.append(part)
                continue
            texts = [a + b for a in last.texts for b in part.texts]
            out[-1] = Coded(last.codes * width + part.codes, texts)
        else:
            out.append(part)
    return out


def where(mask: npt.ArrayLike, col: Part, other: str | None = None) -> Col:
    """``col`` where ``mask`` holds, else ``other``."""
    flags = np.asarray(mask, dtype=bool).tolist()
    values = repeat(col) if isinstance(col, str) else col.col() if isinstance(col, Coded) else col
    return [v if f else other for f, v in zip(flags, values, strict=False)]


def _take(values: list[str], codes: npt.NDArray[np.intp]) -> Col:
    return np.asarray(values, dtype=object)[codes].tolist()  # type: ignore[no-any-return]


def _distinct(values: Texts) -> tuple[npt.NDArray[np.intp], list[str]]:
    """Each value's code and the distinct values as text (a missing value is ``""``).

    A categorical column is read off its categories and codes; any other column is
    factorized once (Arrow strings in Arrow, Python strings by hash), never converted whole.

    >>> _distinct(pd.Series(["b", None, "a", "b"], dtype="category"))
    (array([ 1, -1,  0,  1]), ['a', 'b'])
    """
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy(np.intp)
        found: object = values.cat.categories.astype("str")
    elif isinstance(values, pd.Series):
        keys = values if values.dtype in (object, "str") else values.astype("str")
        codes, found = pd.factorize(keys)
    else:
        codes, found = pd.factorize(np.asarray(values, dtype=object))
    uniques = list(map(str, np.asarray(found, dtype=object).tolist()))
    return np.asarray(codes, dtype=np.intp), uniques


def _quoted(values: list[str]) -> list[str]:
    """JSON string literals; only quotes, backslashes and control characters are escaped.

    Most ids and labels have none: one scan of them all, then each is quoted as is.

    >>> _quoted(["a", 'b"c'])
    ['"a"', '"b\\\\"c"']
    """
    if _ESCAPE.search("".join(values)) is None:
        return [f'"{v}"' for v in values]
    return [text(v) if _ESCAPE.search(v) else f'"{v}"' for v in values]


def _take_text(texts: list[str], codes: npt.NDArray[np.intp], missing: str) -> Coded:
    """``texts`` by code; ``missing`` where the code is -1."""
    return Coded(np.where(codes < 0, len(texts), codes), [*texts, missing])


def strings(values: Texts) -> Coded:
    """JSON string literals (``""`` where missing): each distinct value is escaped once.

    >>> strings(pd.Series(["b", None, 'q"'], dtype="category")).col()
    ['"b"', '""', '"q\\\\""']
    """
    codes, uniques = _distinct(values)
    return _take_text(_quoted(uniques), codes, '""')


def inner(values: Texts) -> Coded:
    """The contents of JSON strings: escaped, not quoted ("" where missing).

    JSON escapes character by character, so one string may be written in parts.

    >>> inner(["a", 'b"']).col()
    ['a', 'b\\\\"']
    """
    codes, uniques = _distinct(values)
    return _take_text([q[1:-1] for q in _quoted(uniques)], codes, "")


def nullable_strings(values: Texts) -> Coded:
    """JSON strings, ``null`` where the value is missing or empty.

    >>> nullable_strings(["a", "", None]).col()
    ['"a"', 'null', 'null']
    """
    codes, uniques = _distinct(values)
    shown = [q if u else "null" for u, q in zip(uniques, _quoted(uniques), strict=True)]
    return _take_text(shown, codes, "null")


def float_text(x: float) -> str:
    """One float as pydantic writes it (``1e-7``, ``0.00001``, ``1.0``; NaN as null).

    >>> float_text(1e-05), float_text(0.15), float_text(1.0), float_text(float("nan"))
    ('0.00001', '0.15', '1.0', 'null')
    """
    return "null" if math.isnan(x) else _FLOAT.dump_json(x).decode("ascii")


def floats(values: npt.ArrayLike) -> Coded:
    """JSON numbers for float64 values (``null`` for NaN), formatted once per distinct value
    (found by hash, not by sorting).

    >>> floats([0.5, float("nan"), -0.0, 0.5]).col()
    ['0.5', 'null', '0.0', '0.5']
    """
    arr = np.asarray(values, dtype=np.float64)
    arr = np.where(arr == 0.0, 0.0, arr)  # -0.0 prints as 0.0, as the kernels report it
    codes, uniq = pd.factorize(arr.reshape(-1), use_na_sentinel=False)
    return Coded(np.asarray(codes, dtype=np.intp), [float_text(u) for u in uniq.tolist()])


def unique_rows(
    matrix: npt.NDArray[np.integer],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]]:
    """``np.unique(matrix, axis=0, return_inverse=True)``, the distinct rows in the same
    (lexicographic) order, for a matrix of small non-negative integers (codes and flags):
    each row is read as one number in mixed radix, whose order is the rows' order, so one
    sort of integers does what a sort of rows did.

    >>> combos, inverse = unique_rows(np.array([[1, 0], [0, 1], [1, 0]]))
    >>> combos.tolist(), inverse.tolist()
    ([[0, 1], [1, 0]], [1, 0, 1])
    """
    rows = np.asarray(matrix, dtype=np.int64)
    if rows.ndim != 2 or not rows.size or rows.min() < 0:
        combos, inverse = np.unique(rows, axis=0, return_inverse=True)
        return combos, inverse.reshape(-1)
    radix = rows.max(axis=0) + 1
    if float(np.prod(radix.astype(np.float64))) >= 2.0**62:  # past one int64: rows it is
        combos, inverse = np.unique(rows, axis=0, return_inverse=True)
        return combos, inverse.reshape(-1)
    weights = np.append(np.cumprod(radix[:0:-1])[::-1], 1).astype(np.int64)
    _, first, inverse = np.unique(rows @ weights, return_index=True, return_inverse=True)
    return rows[first], inverse.reshape(-1)


def money(values: npt.ArrayLike, *, null_for_nan: bool = False) -> Coded:
    """Money as quoted two-decimal strings rounded half up to the cent (``"-1234.50"``).

    Agrees with :func:`marginlex.audit.trace.money.to_cents` (the vectorized rounding is the
    engine's :func:`~marginlex.engine.kernels.money.round_cents`, which makes -0.00 0.00). NaN is
    ``null`` with ``null_for_nan``, else ``"0.00"``.
    """
    arr = np.asarray(values, dtype=np.float64)
    nan = np.isnan(arr)
    rounded = round_cents(np.where(nan, 0.0, arr))
    # P&L at grid points and per-contract figures repeat a lot: each distinct amount is
    # formatted once and taken per row (hashing a float costs far less than formatting it).
    codes, uniques = pd.factorize(rounded)
    texts = list(map('"%.2f"'.__mod__, uniques.tolist()))
    if null_for_nan and nan.any():
        return _take_text(texts, np.where(nan, -1, codes), "null")
    return Coded(codes, texts)


def bools(values: npt.ArrayLike) -> Coded:
    """JSON booleans."""
    return Coded(np.asarray(values, dtype=bool).astype(np.intp), ["false", "true"])


def dates(values: pd.Series) -> Coded:
    """JSON dates (``"2026-03-31"``), ``null`` where missing: each distinct day written once.

    >>> dates(pd.Series(["2026-03-31", None, "2026-03-31"])).col()
    ['"2026-03-31"', 'null', '"2026-03-31"']
    """
    codes, days = pd.factorize(pd.to_datetime(values))
    return _take_text(list(pd.DatetimeIndex(days).strftime('"%Y-%m-%d"')), codes, "null")


def date_text(day: date | None) -> str:
    """One date as JSON."""
    return "null" if day is None else f'"{day.isoformat()}"'


def group_join(
    fragments: Sequence[str | None] | Coded,
    codes: npt.NDArray[np.int64],
    n_groups: int,
    sep: str = ",",
) -> list[str]:
    """Join each group's fragments with ``sep``, in row order; "" for an empty group.

    Args:
        fragments: one fragment per row.
        codes: the group (0..n_groups-1) of each row; rows with a negative code are dropped.
        n_groups: how many groups.
        sep: the separator.

    Returns:
        One string per group. The rows are sorted by group once (stable), never filtered
        per group.
    """
    keep = codes >= 0
    order = np.flatnonzero(keep)[np.argsort(codes[keep], kind="stable")]
    ordered = objects(fragments)[order].tolist()
    bounds = np.searchsorted(codes[order], np.arange(n_groups + 1)).tolist()
    return [sep.join(ordered[a:b]) for a, b in pairwise(bounds)]


def objects(col: Sequence[str | None] | npt.NDArray[np.object_] | Coded) -> npt.NDArray[np.object_]:
    """A column as an object array (a coded column's texts taken by code)."""
    return col.objects() if isinstance(col, Coded) else np.asarray(col, dtype=object)


def group_sum(
    values: npt.NDArray[np.float64], codes: npt.NDArray[np.int64], n_groups: int
) -> npt.NDArray[np.float64]:
    """Sum of values per group (0 for an empty group)."""
    keep = codes >= 0
    summed: npt.NDArray[np.float64] = np.bincount(
        codes[keep], weights=values[keep], minlength=n_groups
    ).astype(np.float64)
    return summed


def rows_in(index: pd.Index, values: pd.Series) -> npt.NDArray[np.int64]:
    """Each value's position in ``index`` (-1: absent); a categorical is looked up per category.

    >>> rows_in(pd.Index(["a", "b"]), pd.Series(["b", "c", "b"], dtype="category")).tolist()
    [1, -1, 1]
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        found = np.append(index.get_indexer(values.cat.categories), -1)
        return np.asarray(found[values.cat.codes.to_numpy()], np.int64)  # code -1 takes -1
    return np.asarray(index.get_indexer(pd.Index(values.astype("str"))), np.int64)
