"""`[[property]]` laws in rulebook test files: a law that holds, one that fails and shrinks on
a deliberately broken variant, a known finding, bad property tables, and the CLI's output."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.engine.variants.properties import Violation, _fewest_accounts
from marginlex.engine.variants.property_books import BookCut
from marginlex.engine.variants.property_runs import run_properties
from marginlex.engine.variants.rulebook_tests import RulebookTestError, read_test_file

DATA = Path(__file__).parents[1] / "data" / "variants" / "properties"


@pytest.fixture(scope="module")
def broken():  # type: ignore[no-untyped-def]
    return run_properties(DATA / "broken.test.toml")


def test_a_law_that_holds_passes() -> None:
    (result,) = run_properties(DATA / "holds.test.toml")
    assert (result.outcome, result.ok, result.violation) == ("pass", True, None)
    assert (result.rulebook, result.examples) == ("cftc", 3)


def test_broken_variant_fails_on_a_shrunk_book(broken) -> None:  # type: ignore[no-untyped-def]
    result = broken[0]
    assert (result.outcome, result.ok) == ("fail", False)
    assert result.rulebook == "cftc_low_initial"
    violation = result.violation
    assert violation is not None
    # The variant asks 90% of maintenance as initial margin, CFTC 110%: any futures account
    # alone breaks the law, so the reported cut is one account (with the accounts its lots are
    # pledged to), and the law names the initial margins it compared.
    accounts = violation.book_csv.split("# positions.csv")[0].strip().splitlines()[2:]
    assert 1 <= len(accounts) <= 3, violation.book_csv
    assert re.fullmatch(r"seed \d+, accounts \d+", result.book), result.book
    assert "(initial), less than cftc's" in violation.message
    mine, theirs = violation.traces
    assert mine.startswith("cftc_low_initial:\ntrace of cftc_low_initial:")
    assert theirs.startswith("cftc:\ntrace of cftc:")
    assert "# accounts.csv" in violation.book_csv and "# collateral.csv" in violation.book_csv


def test_ratio_in_the_shrunk_book_is_the_variants(broken) -> None:  # type: ignore[no-untyped-def]
    # initial = 90% of maintenance under the variant, 110% under cftc: ratio 9/11.
    message = broken[0].violation.message
    low, high = (float(x.replace(",", "")) for x in _figures(message))
    assert low == pytest.approx(high * 90 / 110, abs=0.02)


def _figures(message: str) -> list[str]:
    return re.findall(r"(\d[\d,]*\.\d\d)", message)


def test_known_failure_is_ok_and_keeps_its_reason(broken) -> None:  # type: ignore[no-untyped-def]
    known = broken[1]
    assert (known.outcome, known.ok, known.passed) == ("expected failure", True, False)
    assert known.reason == "initial_to_maintenance is 90% on purpose"
    dumped = json.loads(known.model_dump_json())
    assert (dumped["outcome"], dumped["ok"]) == ("expected failure", True)


def test_unknown_kind_points_at_the_line_with_did_you_mean() -> None:
    path = DATA / "unknown_kind.test.toml"
    with pytest.raises(RulebookTestError) as info:
        read_test_file(path)
    assert str(info.value) == (
        f"{path}:6:1: property.0.kind: unknown property kind `monotonic` (known: monotone, "
        "collateral_never_creates_call, harmonized_bound, dominates); did you mean `monotone`?"
    )


def test_misspelt_key_points_at_the_line_with_did_you_mean() -> None:
    path = DATA / "bad_key.test.toml"
    with pytest.raises(RulebookTestError) as info:
        read_test_file(path)
    assert str(info.value) == (
        f"{path}:8:1: property.0.exampels: unknown key; did you mean `examples`?"
    )


def test_output_shows_the_book_and_traces_and_junit_counts_it(broken) -> None:  # type: ignore[no-untyped-def]
    from rich.console import Console  # noqa: PLC0415

    from marginlex.cli.property_output import print_properties  # noqa: PLC0415
    from marginlex.engine.variants.junit import junit_xml  # noqa: PLC0415
    from marginlex.engine.variants.rulebook_tests import TestReport  # noqa: PLC0415

    console = Console(record=True, width=150)
    print_properties(console, tuple(broken))
    out = console.export_text()
    assert "FAIL property cftc_low_initial the broken variant asks at least" in out
    assert "XFAIL property cftc_low_initial the broken variant is known" in out
    assert "known finding: initial_to_maintenance is 90% on purpose" in out
    assert "# positions.csv" in out and "trace of cftc:" in out
    assert "properties: 0 held, 1 failed as expected (known findings), 1 failed" in out
    report = TestReport(cases=(), coverage=(), properties=tuple(broken))
    assert [p.name for p in report.failed_properties] == [broken[0].name]  # exit code 1
    root = ET.fromstring(junit_xml(report).split("?>", 1)[1])
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "1", "0")
    (suite,) = root
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == (
        "properties",
        "2",
        "1",
    )
    failed, known = suite
    failure = failed.find("failure")
    assert failure is not None and "(initial), less than cftc's" in (failure.get("message") or "")
    assert known.find("skipped") is not None


def test_cli_exits_1_on_a_bad_property_table() -> None:
    out = CliRunner().invoke(app, ["test", str(DATA / "unknown_kind.test.toml")])
    assert out.exit_code == 1
    assert "unknown property kind `monotonic`" in out.output


def _law_broken_by(*needed: int):  # type: ignore[no-untyped-def]
    """A law that fails on every cut holding all of ``needed``, recording the cuts it saw."""
    seen: list[tuple[int, ...]] = []

    def law(cut: BookCut, pick: int) -> Violation | None:
        seen.append(cut.accounts)
        return Violation(message=f"{cut.accounts}") if set(needed) <= set(cut.accounts) else None

    return law, seen


def test_fewest_accounts_keeps_one_account_that_breaks_the_law_alone() -> None:
    law, seen = _law_broken_by(7)
    cut, violation = _fewest_accounts(law, BookCut(3, (2, 7, 11)), 0, Violation(message="x"))
    assert (cut, violation.message) == (BookCut(3, (7,)), "(7,)")
    assert seen == [(2,), (7,)]


def test_fewest_accounts_removes_accounts_one_at_a_time_when_none_fails_alone() -> None:
    law, seen = _law_broken_by(4, 9)
    cut, violation = _fewest_accounts(law, BookCut(5, (1, 4, 6, 9)), 0, Violation(message="x"))
    assert (cut, violation.message) == (BookCut(5, (4, 9)), "(4, 9)")
    # four accounts alone, then 1, 4, 6 and 9 removed in turn (4 and 9 are kept)
    assert seen[4:] == [(4, 6, 9), (6, 9), (4, 9), (4,)]


@pytest.mark.parametrize(
    ("key", "said"),
    [
        (
            "max_amount = 1e300",
            "max_amount: Input should be less than or equal to 1000000000000000",
        ),
        ("max_amount = inf", "max_amount: Input should be less than or equal to 1000000000000000"),
        ("factor = inf", "factor: Input should be a finite number"),
    ],
)
def test_a_figure_past_the_book_limits_is_refused_at_its_line(
    tmp_path: Path, key: str, said: str
) -> None:
    # max_amount = 1e300 was refused only when the drawn lot was written to a book:
    # "collateral.csv:4: market_value: ... over the limit", a file nobody sees
    kind = "monotone" if key.startswith("factor") else "collateral_never_creates_call"
    path = tmp_path / "big.test.toml"
    path.write_text(
        f'rulebook = "sec"\nas_of = 2026-06-30\n\n[[property]]\nkind = "{kind}"\n{key}\n',
        encoding="utf-8",
    )
    with pytest.raises(RulebookTestError) as info:
        read_test_file(path)
    assert str(info.value) == f"{path}:6:1: property.0.{said}"
