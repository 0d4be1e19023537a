"""Text made by code, not row by row: ``as_text`` is ``astype("str")`` and ``stack_frames`` is
``pd.concat``, value for value, dtype for dtype, on any column (property tests)."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from marginlex.engine.kernels.text import as_text
from marginlex.engine.phases.state import constant, labels, stack_frames

_FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.sampled_from(
    [0.0, -0.0, 1e16, 1e-5, 123456789012345.67, 0.1 + 0.2, 2.0**53]
)
_TEXTS = st.text(min_size=0, max_size=6) | st.sampled_from(["a", "b", "é", " "])


def _same(made: pd.Series, expected: pd.Series) -> None:
    assert str(made.dtype) == str(expected.dtype) == "str"
    assert made.index.equals(expected.index)
    assert made.name == expected.name
    assert made.isna().tolist() == expected.isna().tolist()
    assert made.fillna("<missing>").tolist() == expected.fillna("<missing>").tolist()


@settings(max_examples=150, deadline=None)
@given(st.lists(_FLOATS, max_size=40), st.integers(0, 5))
def test_floats_read_as_astype_writes_them(values: list[float], shift: int) -> None:
    s = pd.Series(values, dtype=np.float64, index=range(shift, shift + len(values)), name="v")
    _same(as_text(s), s.astype("str"))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.booleans(), max_size=30))
def test_booleans_read_True_and_False(values: list[bool]) -> None:
    s = pd.Series(values, dtype=bool)
    _same(as_text(s), s.astype("str"))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), _TEXTS), max_size=30))
def test_categoricals_and_object_arrays(values: list[str | None]) -> None:
    cat = pd.Series(values, dtype="category")
    _same(as_text(cat), cat.astype("str"))
    objects = np.array(values, dtype=object)
    _same(as_text(objects), pd.Series(objects).astype("str"))


def test_integers_and_text_pass_through() -> None:
    ints = pd.Series([3, -1, 3])
    _same(as_text(ints), ints.astype("str"))
    text = pd.Series(["x", None], dtype="str")
    assert as_text(text) is text


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.sampled_from(["r1", "r2", "r1"])), max_size=6))
def test_stacked_frames_are_concats(blocks: list[tuple[int, str]]) -> None:
    frames = [
        pd.DataFrame(
            {
                "rule_id": constant(n, rule),  # categories differ from frame to frame
                "same": constant(n, "one"),  # categories the same in every frame
                "side": labels(np.arange(n) % 2, ["long", "short"]),
                "n": np.arange(n, dtype=np.int64),
            }
        )
        for n, rule in blocks
    ]
    if not frames:
        return
    made, expected = stack_frames(frames), pd.concat(frames, ignore_index=True)
    assert list(made.columns) == list(expected.columns)
    assert made.dtypes.astype(str).tolist() == expected.dtypes.astype(str).tolist()
    assert made.equals(expected)
