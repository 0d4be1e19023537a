"""``--as-of`` other than the book's own date: the run says so, and later, what matured in
between (priced as at expiry), which the book's own warnings, against its date, do not say."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from marginlex.cli import app

NOT_THE_BOOKS = "is not the book's as-of date 2026-06-30: its prices and holdings are that day's"


@pytest.mark.parametrize(
    ("command", "day", "said"),
    [
        # demo book: ABC, XYZ and SPY options, ES and ZN futures expire in September 2026
        # (7 held), lots L07 and L17 (Treasury bills) mature on 2026-09-15
        (
            ["run", "-r", "sec"],
            "2027-01-04",
            f"warning: --as-of 2027-01-04 {NOT_THE_BOOKS}; 7 instruments held and 2 collateral "
            "lots mature in between (priced as at expiry, lots in the shortest maturity bucket)\n",
        ),
        # on 2026-09-16 the bills have matured, the September contracts (18th, 21st) not yet
        (
            ["run", "-r", "cftc"],
            "2026-09-16",
            f"warning: --as-of 2026-09-16 {NOT_THE_BOOKS}; 2 collateral lots mature in between "
            "(priced as at expiry, lots in the shortest maturity bucket)\n",
        ),
        (["run", "-r", "sec"], "2026-03-31", f"warning: --as-of 2026-03-31 {NOT_THE_BOOKS}\n"),
        (["run", "-r", "sec"], "2026-06-30", ""),
        (
            ["compare", "-r", "sec", "-r", "harmonized", "--no-attribution"],
            "2026-07-01",
            f"warning: --as-of 2026-07-01 {NOT_THE_BOOKS}\n",
        ),
    ],
)
def test_a_run_as_of_another_day_says_what_that_means(
    command: list[str], day: str, said: str
) -> None:
    result = CliRunner().invoke(app, [*command, "--as-of", day])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines(keepends=True) if "--as-of" in line]
    assert "".join(warnings) == said


def test_a_run_as_of_the_calendar_s_last_year_decides() -> None:
    """As of 9999-12-31, a rulebook's bound of 10 years reaches past the last date Python's
    calendar holds: it is read in years of 365 days there (``Plan.from_as_of``), where the
    run stopped on "error: year 10000 is out of range"."""
    result = CliRunner().invoke(app, ["run", "--as-of", "9999-12-31", "-r", "harmonized"])
    assert result.exit_code == 0, result.output
    assert "harmonized" in result.stdout and "year 10000" not in result.output
