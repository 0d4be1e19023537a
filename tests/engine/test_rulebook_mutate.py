"""Row coverage and mutation testing of rulebooks (``marginlex test --mutate``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.dsl.loader import load_rulebook, shipped_dir
from marginlex.dsl.model import rulebook as m
from marginlex.engine.variants.mutate import (
    _kill,
    _suites,
    mutants,
    mutate,
    run_mutants,
)
from marginlex.engine.variants.rulebook_tests import run_tests

SEC_TESTS = shipped_dir() / "tests" / "sec.test.toml"

ONE_ACCOUNT = """
rulebook = "sec"
as_of = 2026-06-30

[[parties]]
party_id = "BD1"
kind = "broker_dealer"
ecp = true

[[parties]]
party_id = "ALICE"
kind = "individual"
options_approval = "uncovered"

[[accounts]]
account_id = "A1"
owner_id = "ALICE"
carrier_id = "BD1"
regime = "SEC"
kind = "portfolio_margin"
origin = "customer"
agreements = ["portfolio_margin"]

[[instruments]]
instrument_id = "XYZ"
product = "stock"
price = 100.0

[[positions]]
account_id = "A1"
instrument_id = "XYZ"
quantity = 1000

[[collateral]]
lot_id = "L1"
account_id = "A1"
asset = "UST_NOTE"
market_value = 150000.0
maturity = 2028-06-30

[[expect]]
# 1,000 XYZ at 100, range otherwise ±15%: 15,000
account = "A1"
requirement = 15000.00
"""


def _one(rule_id: str, row: str, figure: str, mutation: str) -> m.Statement | object:
    found = [
        x
        for x in mutants(load_rulebook("sec"))
        if (x.rule_id, x.row, x.figure, x.mutation) == (rule_id, row, figure, mutation)
    ]
    assert len(found) == 1, f"{rule_id} {row} {figure} {mutation}: {len(found)} mutants"
    return found[0]


def test_mutants_are_made_on_the_model_deterministically() -> None:
    sec = load_rulebook("sec")
    first, again = mutants(sec), mutants(sec)
    assert first == again
    # up and down 10% is one figure: three mutants, not six
    broad = [x for x in first if x.rule_id == "sec_portfolio_margin" and x.row == "row 2"]
    assert [x.mutation for x in broad] == ["×10 → 100%", "÷10 → 1%", "neighbour row's → 15%"]
    assert broad[0].paths == (("method", "ranges", 1, "up"), ("method", "ranges", 1, "down"))
    # a bound and a rate of a bucket; 0% gives no ×10 nor ÷10 mutant
    nine = [x.mutation for x in first if x.row == "under 9 months"]
    assert nine == [
        "×10 → 90 months",
        "÷10 → 0.9 months",
        "neighbour row's → 12 months",
        "×10 → 7.5%",
        "÷10 → 0.075%",
        "neighbour row's → 1%",
    ]
    three = [x.mutation for x in first if x.row == "under 3 months" and x.figure == "0%"]
    assert three == ["neighbour row's → 0.5%"]
    # the rulebook itself is untouched
    assert mutate(sec, broad[0]).statements != sec.statements
    assert load_rulebook("sec").statements == sec.statements


@pytest.mark.parametrize(
    ("rule_id", "row", "figure", "mutation"),
    [
        ("sec_strategy_based", "row 3", "3%", "×10 → 30%"),  # a Treasury rate 3% -> 30%
        ("sec_treasuries", "under 9 months", "0.75%", "×10 → 7.5%"),  # the 9-month haircut
        ("sec_portfolio_margin", "row 2", "10%", "÷10 → 1%"),  # the broad-index range
    ],
)
def test_the_issue_s_mutated_rows_fail_the_sec_tests(
    rule_id: str, row: str, figure: str, mutation: str
) -> None:
    sec = load_rulebook("sec")
    killed_by = _kill(mutate(sec, _one(rule_id, row, figure, mutation)), _suites(sec, [SEC_TESTS]))
    assert killed_by.startswith("sec.test.toml: ")


def test_row_coverage_lists_the_rows_no_test_decided(tmp_path: Path) -> None:
    path = tmp_path / "one.test.toml"
    path.write_text(ONE_ACCOUNT, encoding="utf-8")
    report = run_tests([path])
    assert not report.failed
    rows = {i.item: i.exercised for i in report.coverage[0].items if i.kind == "row"}
    assert rows["sec_portfolio_margin[row 3 (otherwise)]"] is True  # XYZ: otherwise ±15%
    assert rows["sec_portfolio_margin[row 2]"] is False
    assert rows["sec_treasuries[under 3 years]"] is True  # the 2-year note
    assert rows["sec_treasuries[under 9 months]"] is False
    assert rows["sec_product_group_credits[broad]"] is False
    # grid ranges, house-capital rates (12 maturity buckets, stock and ETF, six futures
    # rows, a short equity option, otherwise), Treasury buckets, asset rows, credit rows
    assert len(rows) == 3 + 21 + 12 + 4 + 3
    assert not any(v for k, v in rows.items() if k.startswith("sec_house_capital"))
    assert sum(rows.values()) == 2  # the otherwise range and the 3-year bucket, no other


TINY = """rulebook tiny "Two rates"
  cites "test"
scope everyone
  cites "test"
  decides account where account.regime = SEC
margin flat_rates
  cites "test"
  applies to account where account.regime = SEC
  rates
    when instrument.product = stock 25%
    otherwise 50%
"""


def test_the_cli_lists_surviving_mutants_as_json(tmp_path: Path) -> None:
    (tmp_path / "tiny.mlx").write_text(TINY, encoding="utf-8")
    test = ONE_ACCOUNT.replace('rulebook = "sec"', 'rulebook = "tiny.mlx"')
    test = test.replace("15000.00", "25000.00")  # 25% of 1,000 x 100 (the stock row)
    path = tmp_path / "tiny.test.toml"
    path.write_text(test, encoding="utf-8")
    result = CliRunner().invoke(app, ["test", str(path), "--mutate", "--json"])
    assert result.exit_code == 0, result.output
    (doc,) = json.loads(result.output)["mutation"]
    assert (doc["rulebook_id"], doc["mutants"], doc["killed"], doc["kill_rate"]) == (
        "tiny",
        6,
        4,
        66.67,
    )
    # the stock row decides the only position; no test reaches the otherwise row, but the
    # checker refuses a rate of 500% (MLX402): that mutant is killed without a test
    assert [(s["row"], s["figure"], s["mutation"]) for s in doc["survivors"]] == [
        ("row 2 (otherwise)", "50%", "÷10 → 5%"),
        ("row 2 (otherwise)", "50%", "neighbour row's → 25%"),
    ]
    assert doc["file"] == "tiny.mlx" and doc["own_survivors"] == 2
    line = TINY.splitlines().index(next(x for x in TINY.splitlines() if "otherwise" in x)) + 1
    assert {(s["file"], s["line"]) for s in doc["survivors"]} == {("tiny.mlx", line)}
    low = CliRunner().invoke(app, ["test", str(path), "--mutate", "--kill-under", "90"])
    assert low.exit_code == 1
    assert (
        "mutants tiny: 4 of 6 killed (66.7%) by 1 test file(s) and the checker; 2 survive:"
        in " ".join(low.output.split())
    )
    assert f"tiny.mlx:{line}" in low.output  # the file and line each survivor is written at
    # every test passed: the exit code is 1 because of the threshold, and a line says so
    assert low.stderr.splitlines()[-1] == "tiny: kill rate 66.7% is below --kill-under 90%"
    for bad in ("nan", "-5", "150"):  # NaN passed every comparison: exit 0, whatever the rate
        refused = CliRunner().invoke(app, ["test", str(path), "--mutate", "--kill-under", bad])
        assert refused.exit_code == 2, bad
        said = " ".join(refused.output.replace("│", " ").split())
        assert f"Invalid value for '--kill-under': {bad} is not a percent from 0 to 100" in said


def test_kill_under_without_mutate_is_refused(tmp_path: Path) -> None:
    # no mutant was made and none was measured: exit 0, a CI gate passed whatever the rate
    path = tmp_path / "one.test.toml"
    path.write_text(ONE_ACCOUNT, encoding="utf-8")
    refused = CliRunner().invoke(app, ["test", str(path), "--kill-under", "90"])
    assert refused.exit_code == 2
    assert refused.stderr.splitlines() == [
        "error: --kill-under needs --mutate: it is a bar for the mutants made",
        "see `marginlex test --help`",
    ]


# The survivors no book can pin (docs/variants-guide.md says why for each): sec's three
# `sec_cash_account` rates; none in cftc; harmonized's ten rows of a schedule that
# `more conservative of` never lets win, and the same three cash-account rates.
@pytest.mark.parametrize(
    ("rulebook", "most_survivors"), [("sec", 3), ("cftc", 0), ("harmonized", 13)]
)
def test_the_shipped_tests_leave_only_the_known_survivors(
    rulebook: str, most_survivors: int
) -> None:
    report = run_mutants(load_rulebook(rulebook))
    survivors = [
        f"{r.mutant.rule_id} {r.mutant.row} {r.mutant.figure} {r.mutant.mutation}"
        for r in report.survivors
    ]
    assert report.kill_rate >= 90.0, "\n".join(survivors)
    assert len(survivors) <= most_survivors, "\n".join(survivors)
