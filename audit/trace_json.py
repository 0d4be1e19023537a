"""Canonical trace JSON built column-wise: one fragment per row, joined per group.

Serializing 300,000 traces one pydantic model at a time takes minutes; here every value is
formatted once per distinct value (or by a vectorized rounding), every row of a trace frame
becomes its JSON fragment in one comprehension, and fragments are joined per class group,
per margin set, per step (rows sorted by group once; never filtered per decision).

The bytes are exactly those pydantic writes for the same
:class:`~marginlex.audit.trace.DecisionTrace` (a test holds this): keys in sorted order,
compact, UTF-8; money as two-decimal strings rounded half up; floats as pydantic writes
them; strings escaped as ``json.dumps(ensure_ascii=False)``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import date
from itertools import pairwise, repeat

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import TypeAdapter

from marginlex.engine.money import round_cents

Col = list[str | None]
"""One JSON fragment per row; None where the row has no such fragment."""
Part = Sequence[str | None] | str
_FLOAT = TypeAdapter(float)
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'


def text(value: str) -> str:
    """One JSON string literal, escaped as pydantic and ``json.dumps`` escape.

    >>> print(text('say "hi" in café'))
    "say \\"hi\\" in café"
    """
    return json.dumps(value, ensure_ascii=False)


def concat(*parts: Part) -> Col:
    """Row-wise concatenation of fragments and literals; None anywhere makes the row None."""
    n = next(len(p) for p in parts if not isinstance(p, str))
    missing = np.zeros(n, dtype=bool)
    columns: list[Iterable[str | None]] = []
    for p in parts:
        if isinstance(p, str):
            columns.append(repeat(p, n))
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


def join_present(parts: Sequence[Sequence[str | None]], sep: str = ",") -> Col:
    """Row-wise join of the present (not None, not empty) fragments with ``sep``."""
    if not parts:
        raise ValueError("join_present needs at least one column")
    return [sep.join(filter(None, row)) for row in zip(*parts, strict=True)]


def where(mask: npt.ArrayLike, col: Part, other: str | None = None) -> Col:
    """``col`` where ``mask`` holds, else ``other``."""
    flags = np.asarray(mask, dtype=bool).tolist()
    values = repeat(col) if isinstance(col, str) else col
    return [v if f else other for f, v in zip(flags, values, strict=False)]


def const(value: str, n: int) -> Col:
    """The same fragment on every row."""
    return [value] * n


def _take(values: list[str], codes: npt.NDArray[np.intp]) -> Col:
    return np.asarray(values, dtype=object)[codes].tolist()  # type: ignore[no-any-return]


def strings(values: Sequence[str] | npt.NDArray[np.object_] | pd.Series) -> Col:
    """JSON string literals: each distinct value is escaped once, then taken per row."""
    codes, uniques = pd.factorize(pd.Series(values, dtype="str").fillna(""))
    distinct = pd.Series(uniques, dtype="str")
    # Only quotes, backslashes and control characters need escaping (non-ASCII is written
    # as is); most ids and labels have none, and are quoted without a call per value.
    plain = ('"' + distinct + '"').to_numpy(dtype=object)
    escape = distinct.str.contains(_NEEDS_ESCAPE, regex=True).to_numpy(dtype=bool)
    for i in np.flatnonzero(escape).tolist():
        plain[i] = text(str(uniques[i]))
    return _take(plain.tolist(), codes)


def nullable_strings(values: pd.Series) -> Col:
    """JSON strings, ``null`` where the value is missing or empty."""
    shown = values.astype("str")
    missing = (shown.isna() | (shown == "")).to_numpy(dtype=bool)
    return where(~missing, strings(shown.fillna("")), "null")


def float_text(x: float) -> str:
    """One float as pydantic writes it (``1e-7``, ``0.00001``, ``1.0``; NaN as null).

    >>> float_text(1e-05), float_text(0.15), float_text(1.0), float_text(float("nan"))
    ('0.00001', '0.15', '1.0', 'null')
    """
    return "null" if math.isnan(x) else _FLOAT.dump_json(x).decode("ascii")


def floats(values: npt.ArrayLike) -> Col:
    """JSON numbers for float64 values (``null`` for NaN), formatted once per distinct value."""
    arr = np.asarray(values, dtype=np.float64)
    arr = np.where(arr == 0.0, 0.0, arr)  # -0.0 prints as 0.0, as the kernels report it
    uniq, inverse = np.unique(arr, return_inverse=True)
    return _take([float_text(float(u)) for u in uniq.tolist()], inverse.reshape(-1))


def money(values: npt.ArrayLike, *, null_for_nan: bool = False) -> Col:
    """Money as quoted two-decimal strings rounded half up to the cent (``"-1234.50"``).

    Agrees with :func:`marginlex.audit.money.to_cents` (the vectorized rounding is the
    engine's :func:`~marginlex.engine.money.round_cents`, which makes -0.00 0.00). NaN is
    ``null`` with ``null_for_nan``, else ``"0.00"``.
    """
    arr = np.asarray(values, dtype=np.float64)
    nan = np.isnan(arr)
    rounded = round_cents(np.where(nan, 0.0, arr))
    # P&L at grid points and per-contract figures repeat a lot: where they do, each distinct
    # amount is formatted once and taken per row.
    codes, uniques = pd.factorize(rounded)
    if len(uniques) * 2 < len(rounded):
        out: Col = _take([f'"{v:.2f}"' for v in uniques.tolist()], codes)
    else:
        out = [f'"{v:.2f}"' for v in rounded.tolist()]
    return where(~nan, out, "null") if null_for_nan and nan.any() else out


def bools(values: npt.ArrayLike) -> Col:
    """JSON booleans."""
    return np.where(np.asarray(values, dtype=bool), "true", "false").astype(object).tolist()  # type: ignore[no-any-return]


def dates(values: pd.Series) -> Col:
    """JSON dates (``"2026-03-31"``), ``null`` where missing."""
    stamps = pd.to_datetime(values)
    shown = stamps.dt.strftime('"%Y-%m-%d"')
    return shown.where(stamps.notna(), "null").astype(object).tolist()


def date_text(day: date | None) -> str:
    """One date as JSON."""
    return "null" if day is None else f'"{day.isoformat()}"'


def group_join(
    fragments: Sequence[str | None],
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
    ordered = np.asarray(fragments, dtype=object)[order].tolist()
    bounds = np.searchsorted(codes[order], np.arange(n_groups + 1)).tolist()
    return [sep.join(ordered[a:b]) for a, b in pairwise(bounds)]


def group_wrap(
    heads: Sequence[str | None],
    fragments: Sequence[str | None],
    codes: npt.NDArray[np.int64],
    tails: Sequence[str | None],
    sep: str = ",",
) -> Col:
    """Per group: its head, its fragments joined with ``sep`` (row order), its tail.

    The same text as ``concat(heads, group_join(fragments, codes, len(heads)), tails)``, in
    one join per group, so long fragments are copied once. None where the head or tail is.
    """
    keep = codes >= 0
    order = np.flatnonzero(keep)[np.argsort(codes[keep], kind="stable")]
    ordered = codes[order]
    # Each fragment, then the separator if the next fragment is of the same group, else "".
    pieces = np.empty(2 * len(order), dtype=object)
    pieces[0::2] = np.asarray(fragments, dtype=object)[order]
    pieces[1::2] = np.where(np.append(ordered[1:] == ordered[:-1], False), sep, "")
    flat = pieces.tolist()
    bounds = np.searchsorted(ordered, np.arange(len(heads) + 1)).tolist()
    return [
        None if h is None or t is None else "".join([h, *flat[2 * a : 2 * b], t])
        for h, t, a, b in zip(heads, tails, bounds[:-1], bounds[1:], strict=True)
    ]


def group_sum(
    values: npt.NDArray[np.float64], codes: npt.NDArray[np.int64], n_groups: int
) -> npt.NDArray[np.float64]:
    """Sum of values per group (0 for an empty group)."""
    keep = codes >= 0
    summed: npt.NDArray[np.float64] = np.bincount(
        codes[keep], weights=values[keep], minlength=n_groups
    ).astype(np.float64)
    return summed
