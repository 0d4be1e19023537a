"""A book's Parquet content (what ``write_book`` writes and a recorded run's book blob holds):
text columns reach Arrow without a Python object per row, as the same texts ``astype("str")``
makes, so that the same frames keep giving the same bytes."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from marginlex.engine.book.load import _arrow_table
from marginlex.engine.book.schema import SPECS, ColType

TEXTS = st.one_of(st.none(), st.text(st.characters(codec="utf-8", exclude_categories=("Cs",))))
ACCOUNTS = SPECS["accounts"]
TEXT_COLUMNS = [
    c.name for c in ACCOUNTS.columns if c.type in (ColType.STR, ColType.ENUM, ColType.TICKER)
]


def _by_python_objects(frame: pd.DataFrame) -> pa.Table:
    """The earlier conversion: each cell a Python object, then copied into Arrow."""
    arrays = [
        pa.array(frame[n].astype("str").tolist(), pa.string(), from_pandas=True)
        for n in TEXT_COLUMNS
    ]
    return pa.Table.from_arrays(arrays, names=TEXT_COLUMNS)


@given(st.lists(st.tuples(*[TEXTS for _ in TEXT_COLUMNS]), max_size=30), st.booleans())
def test_text_columns_are_the_texts_astype_makes(
    rows: list[tuple[str | None, ...]], objects: bool
) -> None:
    frame = pd.DataFrame(rows, columns=TEXT_COLUMNS, dtype=object if objects else "str")
    frame["hedger"] = False  # a late column no row sets: not written
    table = _arrow_table(ACCOUNTS, frame)
    assert table.select(TEXT_COLUMNS).equals(_by_python_objects(frame))
    assert all(table.column(n).type == pa.string() for n in TEXT_COLUMNS)


def test_a_category_and_numbers_in_a_text_column() -> None:
    frame = pd.DataFrame({n: ["x", None, "x"] for n in TEXT_COLUMNS})
    frame[TEXT_COLUMNS[0]] = pd.Series(["b", "a", "b"], dtype="category")
    frame[TEXT_COLUMNS[1]] = pd.Series([1, None, 2.5], dtype=object)
    frame["hedger"] = False
    table = _arrow_table(ACCOUNTS, frame)
    assert table.column(TEXT_COLUMNS[0]).to_pylist() == ["b", "a", "b"]
    assert table.column(TEXT_COLUMNS[1]).to_pylist() == ["1", None, "2.5"]
    assert table.select(TEXT_COLUMNS).equals(_by_python_objects(frame))
