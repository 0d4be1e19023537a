"""The column-wise trace writer's helpers agree with the plain numpy they replace."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from marginlex.audit.trace.fragments import float_text, floats, unique_rows

_SHAPES = st.tuples(st.integers(0, 60), st.integers(1, 9))


@given(
    st.one_of(
        _SHAPES.flatmap(lambda shape: arrays(np.int64, shape, elements=st.integers(0, 4))),
        _SHAPES.flatmap(lambda shape: arrays(np.int64, shape, elements=st.integers(-2, 2**20))),
    )
)
def test_unique_rows_is_numpys_unique_by_rows(matrix: np.ndarray) -> None:
    combos, inverse = np.unique(matrix, axis=0, return_inverse=True)
    found, codes = unique_rows(matrix)
    assert found.tolist() == combos.tolist()
    assert codes.tolist() == inverse.reshape(-1).tolist()


@given(arrays(np.float64, st.integers(0, 40), elements=st.floats(allow_infinity=False)))
def test_floats_write_each_value_as_pydantic_does(values: np.ndarray) -> None:
    expected = [float_text(0.0 if v == 0.0 else float(v)) for v in values.tolist()]
    assert floats(values).col() == expected
