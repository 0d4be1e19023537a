"""The faults the fuzzers found in the rulebook front end, and the limits that refuse
instead of hanging (issue 15): each limit gives a diagnostic at the place that crosses it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from marginlex.dsl import Library, RulebookError, check_text, load_rulebook, shipped_dir
from marginlex.dsl.check.runner import check_paths
from marginlex.dsl.diagnostics import Code
from marginlex.dsl.limits import MAX_EXTENDS_DEPTH, MAX_NESTING, MAX_RULEBOOK_BYTES

SEC = (shipped_dir() / "sec.mlx").read_text().replace("rulebook sec ", "rulebook big ")
SCOPE = "decides account where account.regime = SEC"
SCOPE_LINE = 17  # the line of SCOPE in sec.mlx


def _with_parameters(count: int, cites: str = "x") -> str:
    return SEC + "".join(
        f'\nparameter generated_{i} = {i} USD\n  cites "{cites}"\n  status illustrative\n'
        '  accept MLX215 because "x"\n'
        for i in range(count)
    )


def _cpu(text: str) -> tuple[list[str], float]:
    start = time.process_time()
    found = check_text(text, "big.mlx", Library(None))
    return [f"{d.code.value} {d.span.line}:{d.span.column}" for d in found], (
        time.process_time() - start
    )


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 50_000])
def test_not_nested_deeply_is_refused_at_the_token_that_crosses_the_limit(depth: int) -> None:
    text = SEC.replace(SCOPE, SCOPE.replace("where ", "where " + "not " * depth))
    found, spent = _cpu(text)
    column = len("  decides account where ") + 4 * MAX_NESTING + 1  # the 101st `not`
    assert found == [f"MLX107 {SCOPE_LINE}:{column}"]
    assert spent < 2.0  # refused while lexing, not after building 50,000 levels


def test_brackets_nested_deeply_are_refused() -> None:
    text = SEC.replace("account.regime = SEC", "(" * 3000 + "account.regime = SEC" + ")" * 3000)
    column = len("  decides account where ") + MAX_NESTING + 1
    assert _cpu(text)[0] == [f"MLX107 {SCOPE_LINE}:{column}"]


def test_nesting_just_under_the_limit_checks_clean() -> None:
    # 90 `not`s (even: the meaning is unchanged) plus the statement's own levels.
    text = SEC.replace(SCOPE, SCOPE.replace("where ", "where " + "not " * 90))
    assert _cpu(text)[0] == []


def test_checking_grows_linearly_with_the_number_of_parameters() -> None:
    """A rulebook of 20,000 parameters was still being checked after 60 s: the duplicate-id
    pass compared every pair of statements. Eight times the parameters must cost well under
    the 64 times of a quadratic pass."""
    _, small = _cpu(_with_parameters(500))
    found, large = _cpu(_with_parameters(4_000))
    assert found == []
    assert large < 16 * small, f"500 parameters: {small:.2f} s, 4,000: {large:.2f} s"


def test_duplicate_ids_are_still_found_among_many_statements() -> None:
    text = _with_parameters(3_000) + '\nparameter generated_7 = 1 USD\n  cites "x"\n'
    found, _ = _cpu(text)
    line = text.count("\n") - 1
    assert found == [f"MLX210 {line}:1"]


def test_a_rulebook_over_the_size_limit_is_refused_before_it_is_parsed() -> None:
    text = _with_parameters(20_000, cites="FINRA Rule 4210(g)(6)(B)(i), generated")
    size = len(text.encode())
    assert size > MAX_RULEBOOK_BYTES
    start = time.process_time()
    found = check_text(text, "big.mlx")
    assert time.process_time() - start < 1.0
    assert [(d.code, d.span.line, d.span.column) for d in found] == [(Code.TOO_LARGE, 1, 1)]
    assert found[0].message == (
        f"the rulebook is {size:,} bytes, over the limit of {MAX_RULEBOOK_BYTES:,} bytes"
    )


@pytest.mark.parametrize("figure", ["9" * 400, "1e308", "1,000,000,000,000,001"])
def test_a_figure_too_large_for_float64_cents_is_a_bad_literal(figure: str) -> None:
    text = SEC.replace(
        "parameter pm_min_equity = 100,000 USD", f"parameter pm_min_equity = {figure} USD"
    )
    found = check_text(text, "big.mlx", Library(None))
    if figure == "1e308":  # not a number in the language at all
        assert [d.code for d in found] == [Code.SYNTAX]
        return
    assert [(d.code, d.span.line, d.span.column) for d in found] == [(Code.BAD_LITERAL, 21, 27)]
    assert "over the largest figure a rulebook may hold, 1,000,000,000,000,000" in found[0].message


def test_points_with_thousands_of_digits_are_a_bad_literal_not_a_traceback() -> None:
    text = SEC.replace("points 10", "points " + "9" * 5000)
    assert [d.code for d in check_text(text, "big.mlx", Library(None))] == [Code.BAD_LITERAL]


def test_a_repeated_statement_is_one_diagnostic_per_copy() -> None:
    """3,000 copies of one parameter: 2,999 MLX210, each naming the first (one per pair of
    copies gave 4.5 million, and a pasted 490 KB file ran the console out of memory)."""
    text = 'rulebook v "V"\n  cites "x"\n' + 'parameter zz = 1 USD\n  cites "t"\n' * 3000
    found = check_text(text)
    assert [d.code for d in found] == [Code.DUPLICATE_ID] * 2999
    assert {d.message for d in found} == {"`zz` is already defined at line 3"}
    assert [d.span.line for d in found[:2]] == [5, 7]


def test_dated_versions_overlapping_an_earlier_open_one_are_each_named() -> None:
    text = (
        'rulebook v "V"\n  cites "x"\n'
        'parameter p = 1 USD\n  cites "t"\n  effective from 2026-01-01\n'
        'parameter p = 2 USD\n  cites "t"\n  effective from 2026-02-01 until 2026-03-01\n'
        'parameter p = 3 USD\n  cites "t"\n  effective from 2026-04-01\n'
        'parameter p = 4 USD\n  cites "t"\n  effective from 2025-01-01 until 2025-06-01\n'
    )
    found = [(d.code, d.span.line, d.hint) for d in check_text(text)]
    assert found == [
        (Code.EFFECTIVE_OVERLAP, 8, "end the version at line 3 before this one starts"),
        (Code.EFFECTIVE_OVERLAP, 11, "end the version at line 3 before this one starts"),
    ]


def _chain(folder: Path, hops: int) -> Path:
    """r0 extends r1, ..., r{hops-1} extends r{hops}: ``hops`` levels of ``extends``."""
    for k in range(hops + 1):
        extends = f"\n  extends r{k + 1}" if k < hops else ""
        (folder / f"r{k}.mlx").write_text(
            f'rulebook r{k} "R{k}"\n  cites "c"{extends}\n\nparameter p{k} = 5 USD\n'
            '  cites "x"\n  status illustrative\n  accept MLX215 because "x"\n',
            encoding="utf-8",
        )
    return folder / "r0.mlx"


def test_an_extends_chain_past_the_limit_is_said_at_the_checked_file_s_extends(
    tmp_path: Path,
) -> None:
    """A chain of 1,500 `extends` ended in a RecursionError traceback after a minute (each
    base is resolved inside the one extending it); past MAX_EXTENDS_DEPTH (100) it is MLX107
    at the checked file's own `extends` (line 3, column 11: `  extends r1`)."""
    top = _chain(tmp_path, MAX_EXTENDS_DEPTH + 1)  # r0 -> ... -> r101: 101 deep
    (report,) = check_paths([str(top)])
    found = [(d.code, d.span.line, d.span.column) for d in report.diagnostics]
    assert found == [(Code.TOO_DEEP, 3, 11)]
    assert report.diagnostics[0].message == (
        "`extends` goes more than 100 rulebooks deep: r0 -> r1 -> r2 -> … -> r101 (101 deep)"
    )
    with pytest.raises(RulebookError):
        load_rulebook(top)


def test_an_extends_chain_at_the_limit_resolves(tmp_path: Path) -> None:
    top = _chain(tmp_path, MAX_EXTENDS_DEPTH)  # r0 -> ... -> r100: 100 deep
    resolved = load_rulebook(top)
    assert len(resolved.bases) == 100 and resolved.bases[0] == "r100"


def test_a_chain_of_1500_is_refused_not_a_recursion_error(tmp_path: Path) -> None:
    top = _chain(tmp_path, 1500)
    (report,) = check_paths([str(top)])
    assert [d.code for d in report.diagnostics] == [Code.TOO_DEEP]
    assert report.diagnostics[0].message.endswith("-> r1500 (1500 deep)")
