"""The column-wise JSON helpers (audit/trace/fragments.py, trace_layout.py): exact fragments.

Every helper must write the bytes pydantic writes; the whole traces are checked against
the model in test_from_evaluation.py, these check each helper's edge cases on its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marginlex.audit.trace import fragments as j
from marginlex.audit.trace import layout as tl


def test_strings_of_a_categorical_are_written_per_category() -> None:
    values = pd.Series(["b", None, 'say "hi"', "b", "café"], dtype="category")
    coded = j.strings(values)
    # One text per category and one for the missing value, whatever the number of rows.
    assert len(coded.texts) == 4
    assert coded.col() == ['"b"', '""', '"say \\"hi\\""', '"b"', '"café"']


@pytest.mark.parametrize(
    "values",
    [
        ["a", "", None, "a\\b"],
        np.array(["a", "", None, "a\\b"], dtype=object),
        pd.Series(["a", "", None, "a\\b"], dtype="str"),
        pd.Series(["a", "", None, "a\\b"], dtype=object),
    ],
    ids=["list", "object array", "str series", "object series"],
)
def test_nullable_strings_from_every_kind_of_column(values: j.Texts) -> None:
    assert j.nullable_strings(values).col() == ['"a"', "null", "null", '"a\\\\b"']
    assert j.strings(values).col() == ['"a"', '""', '""', '"a\\\\b"']


def test_control_characters_are_escaped_as_json_dumps_escapes_them() -> None:
    assert j.strings(["tab\there", "line\nbreak", "\x01"]).col() == [
        '"tab\\there"',
        '"line\\nbreak"',
        '"\\u0001"',
    ]


def test_inner_is_a_string_body_that_may_be_written_in_parts() -> None:
    field, account = j.inner(["owner.kind", "x"]), j.inner(['A"1', "B"])
    ids = j.concat('"', field, "[", account, ']"')
    assert ids == ['"owner.kind[A\\"1]"', '"x[B]"']


def test_money_rounds_half_up_and_writes_null_only_when_asked() -> None:
    amounts = np.array([2.675, -0.004, np.nan, 1234.5, 2.675])
    assert j.money(amounts).col() == ['"2.68"', '"0.00"', '"0.00"', '"1234.50"', '"2.68"']
    written = j.money(amounts, null_for_nan=True)
    assert written.col() == ['"2.68"', '"0.00"', "null", '"1234.50"', '"2.68"']
    assert len(written.texts) == 4  # 2.68 written once


def test_floats_bools_and_dates() -> None:
    assert j.floats([1e-05, -0.0, 0.15, np.nan]).col() == ["0.00001", "0.0", "0.15", "null"]
    assert j.bools([True, False, True]).col() == ["true", "false", "true"]
    days = pd.Series(["2026-03-31", None, "2026-03-31"])
    assert j.dates(days).col() == ['"2026-03-31"', "null", '"2026-03-31"']


def test_concat_folds_literals_into_coded_columns_and_keeps_missing_rows() -> None:
    flags = j.bools([True, False, True])
    plain = ["1", None, "3"]
    assert j.concat('{"a":', flags, ',"b":', plain, "}") == [
        '{"a":true,"b":1}',
        None,
        '{"a":true,"b":3}',
    ]


def test_neighbouring_coded_columns_of_few_combinations_are_combined() -> None:
    n = 64
    a = j.bools(np.arange(n) % 2 == 0)
    b = j.Coded(np.arange(n) % 3, ["x", "y", "z"])
    folded = j._folded(["<", a, "|", b, ">"], n)
    assert len(folded) == 1  # 2 x 3 combinations for 64 rows: one coded column
    assert isinstance(folded[0], j.Coded)
    assert folded[0].col()[:4] == ["<true|x>", "<false|y>", "<true|z>", "<false|x>"]
    # Too many combinations for the rows: left as two columns, same text.
    wide = j._folded(["<", a, "|", b, ">"], 8)
    assert len(wide) == 2
    assert j.concat("<", a, "|", b, ">") == folded[0].col()


def test_grouped_keeps_row_order_within_each_group_and_drops_negative_codes() -> None:
    pieces = tl.grouped(["a", "b", "c", "d"], np.array([1, -1, 1, 0]), 3)
    assert pieces.joined() == ["d", "a,c", ""]
    assert pieces.counts.tolist() == [2, 4, 0]


def test_layout_places_literals_columns_and_runs() -> None:
    runs = tl.grouped(j.strings(["p", "q", "r"]), np.array([0, 0, 2]), 3)
    laid = tl.layout(["[", runs, "]", j.bools([True, False, True]), ["!", "?", ""]], 3)
    assert laid.joined() == ['["p","q"]true!', "[]false?", '["r"]true']


def test_only_empties_the_runs_of_the_other_rows() -> None:
    laid = tl.layout(["<", ["a", "b", "c"], ">"], 3)
    kept = laid.only(np.array([True, False, True]))
    assert kept.joined() == ["<a>", "", "<c>"]
    assert tl.layout(["(", kept, ")"], 3).joined() == ["(<a>)", "()", "(<c>)"]


def test_group_join_and_where_accept_coded_columns() -> None:
    coded = j.strings(["x", "y", "x"])
    assert j.group_join(coded, np.array([1, 1, 0]), 2) == ['"x"', '"x","y"']
    assert j.where([True, False, True], coded, "null") == ['"x"', "null", '"x"']


def test_eligibility_rows_write_the_tested_id_in_parts_and_blank_without_an_account() -> None:
    import datetime as dt  # noqa: PLC0415 - only this test compiles a plan

    import pyarrow as pa  # noqa: PLC0415

    from marginlex.audit.trace.outputs import eligibility_rows  # noqa: PLC0415
    from marginlex.dsl.loader import load_rulebook  # noqa: PLC0415
    from marginlex.engine.plan.compile import compile_plan  # noqa: PLC0415

    plan = compile_plan(load_rulebook("sec"), dt.date(2026, 6, 30))
    tested = [["v"], ["1.0"], [], ["5000.0", "False"], ["", "True"]]
    frame = pd.DataFrame(
        {
            "rule_id": pd.Series(
                ["portfolio_margin", "portfolio_margin", "nope"] + ["portfolio_margin"] * 2,
                dtype="category",
            ),
            "requirement": ["pm_account", "min_equity", "x"] + ["min_equity_unlisted"] * 2,
            "account_id": pd.Series(['A"1', None, "B2", "C3", "D4"], dtype="str"),
            "tested_value": pd.Series(["v", "1.0", "", "5000.0", ""], dtype="str"),
            "tested_values": pd.Series(
                pd.arrays.ArrowExtensionArray(pa.array(tested, pa.large_list(pa.large_string())))
            ),
            "applies": [True, False, True, False, True],
            "passed": [True, True, False, True, False],
            "reason": pd.Series(["r", "q", None, "u", "u"], dtype="str"),
            "shortfall": [np.nan, np.nan, 51740.004, np.nan, np.nan],
        }
    )
    # every read of the condition, then of its `when` (written so); a blank cell as ""
    assert eligibility_rows(frame, plan) == [
        '{"applies":true,"citation":null,"evidence":null,"name":"pm_account","passed":true,"reason":"r","shortfall":null,'
        '"tested":[{"id":"account.kind[A\\"1]","unit":null,"value":"v"}]}',
        '{"applies":false,"citation":null,"evidence":null,"name":"min_equity","passed":true,"reason":"q","shortfall":null,'
        '"tested":[{"id":"","unit":null,"value":"1.0"}]}',
        '{"applies":true,"citation":null,"evidence":null,"name":"x","passed":false,"reason":"","shortfall":"51740.00","tested":[]}',
        '{"applies":false,"citation":null,"evidence":null,"name":"min_equity_unlisted","passed":true,"reason":"u","shortfall":null,'
        '"tested":[{"id":"account.equity[C3]","unit":null,"value":"5000.0"},'
        '{"id":"when account.holds(sbs)[C3]","unit":null,"value":"False"}]}',
        '{"applies":true,"citation":null,"evidence":null,"name":"min_equity_unlisted","passed":false,"reason":"u","shortfall":null,'
        '"tested":[{"id":"account.equity[D4]","unit":null,"value":""},'
        '{"id":"when account.holds(sbs)[D4]","unit":null,"value":"True"}]}',
    ]
