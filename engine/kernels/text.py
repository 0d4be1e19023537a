"""Text columns made by code, not row by row.

pandas 3 ``str`` columns are Arrow-backed. Converting a column of a million rows with
``astype("str")`` formats one Python object per row and copies each text into Arrow; a
column has few distinct values (a few categories, two booleans, a few thousand prices), so
these helpers format each distinct value once and let Arrow take the texts by code.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import pandas as pd
import pyarrow as pa


def from_arrow(values: pa.Array | pa.ChunkedArray, index: pd.Index | None = None) -> pd.Series:
    """A text (``str``) column holding an Arrow string array as it is (nulls: missing).

    >>> from_arrow(pa.array(["a", None])).tolist()
    ['a', nan]
    """
    text = pd.StringDtype("pyarrow", na_value=np.nan)
    return pd.Series(pd.array(values, dtype=text), index=index)


def as_text(values: pd.Series | pd.Index | np.ndarray) -> pd.Series:
    """``values.astype("str")`` (missing stays missing), each distinct value formatted once.

    The texts are ``astype("str")``'s, but pandas formats a column one Python object per
    row and copies each text into Arrow; a column of a million rows has a few categories,
    two booleans or a few thousand prices. Factorized, the distinct values are formatted and
    Arrow takes them by code. Text columns are returned as they are; dates and times, whose
    format pandas chooses for the whole column, take ``astype``'s own path.

    >>> as_text(pd.Series([1.5, None, 1.5, 2.0, -0.0, 0.0])).tolist()
    ['1.5', nan, '1.5', '2.0', '-0.0', '0.0']
    >>> as_text(pd.Series([True, False], index=[3, 4])).to_dict()
    {3: 'True', 4: 'False'}
    >>> as_text(pd.Series(["b", "a", "b"], dtype="category")).tolist()
    ['b', 'a', 'b']
    >>> as_text(np.array(["x", None, 2], dtype=object)).tolist()
    ['x', nan, '2']
    """
    if isinstance(values, np.ndarray) and values.dtype == object:
        try:  # texts (and missing values): Arrow copies them in one pass
            return from_arrow(pa.array(values, type=pa.large_string(), from_pandas=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # other objects: formatted as pandas does
            pass
        codes, distinct = pd.factorize(values, use_na_sentinel=True)
        return _taken(pd.Series(distinct).astype("str"), codes, pd.RangeIndex(len(values)), None)
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    if s.dtype == "str":
        return s
    if s.dtype.kind in "mM" or isinstance(s.dtype, (pd.DatetimeTZDtype, pd.PeriodDtype)):
        return s.astype("str")
    if s.dtype == np.float64:  # by bits: 0.0 and -0.0 are two texts
        floats = s.to_numpy(np.float64)
        codes, bits = pd.factorize(floats.view(np.int64))
        codes = np.where(np.isnan(floats), -1, codes)
        distinct = np.asarray(bits, dtype=np.int64).view(np.float64).tolist()
        return _taken(list(map(str, distinct)), codes, s.index, s.name)  # str: astype's text
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    return _taken(pd.Series(uniques).astype("str"), codes, s.index, s.name)


def _taken(
    texts: pd.Series | list[str], codes: np.ndarray, index: pd.Index, name: Hashable
) -> pd.Series:
    """``texts`` taken by ``codes`` (-1: missing) in Arrow, as a text column."""
    table = pa.array(texts, type=pa.large_string(), from_pandas=True)
    out = from_arrow(table.take(pa.array(codes, mask=codes < 0)), index)
    out.name = name
    return out
