"""The validation fuzzer: seeded mutations of the demo book never end in a traceback.

Whatever one or several files of a book hold (cells, columns, rows, headers, encodings, a
BOM, CRLF, formulas, relation cycles; a third of the cases break more than one file),
``marginlex validate`` either accepts the book or lists its problems as ``file:row: column:
what is wrong`` (exit 1), and ``marginlex run --ledger`` on a rejected book prints the same
problems and writes nothing. The cases are planned by
``_book_fuzz.plan_cases`` from one seed, so a failure names a case that reproduces exactly.
``MARGINLEX_FUZZ_CASES=5000`` runs more of them (issue 10: a header-only parties.csv ended
in a pandas IndexError, 19 times in 700 cases).
"""

from __future__ import annotations

import json
import os
import re
import traceback
from collections import Counter
from pathlib import Path

import pytest
from _book_fuzz import BOOK_FILES, CSV_KINDS, JSON_KINDS, Case, plan_cases
from click.testing import Result
from typer.testing import CliRunner

from marginlex.cli import app

SEED = 20261204
CASES = plan_cases(SEED, int(os.environ.get("MARGINLEX_FUZZ_CASES", "500")))
RUN_EVERY = int(os.environ.get("MARGINLEX_FUZZ_RUN_EVERY", "10"))
"""``run --ledger`` is tried on the rejected cases whose number is a multiple of RUN_EVERY
(1: all): loading even a small book costs about 0.2 s of CPU, and a rejected run stops there."""
LINE = re.compile(r"^(?P<file>[a-z_]+\.(csv|parquet|json)):(?P<row>\d+): (?P<column>[^:\n]+): \S")


def _no_traceback(result: Result, case: Case) -> None:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"case {case.id} ({case.detail}) ended in a traceback:\n{trace}")


def _rendered(problem: dict[str, object]) -> str:
    warning = "warning: " if problem["severity"] == "warning" else ""
    return f"{problem['file']}:{problem['row']}: {problem['column']}: {warning}{problem['message']}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_mutated_book_is_accepted_or_its_problems_listed(case: Case, tmp_path: Path) -> None:
    book = case.apply(tmp_path / "book")
    runner = CliRunner()
    checked = runner.invoke(app, ["validate", str(book), "--json"])
    _no_traceback(checked, case)
    assert checked.exit_code in (0, 1)
    doc = json.loads(checked.stdout)
    assert doc["valid"] is (checked.exit_code == 0)
    lines = [_rendered(p) for p in doc["problems"]]
    for line in lines:
        found = LINE.match(line)
        assert found is not None and "\n" not in line, line
        assert found["file"].rsplit(".", 1)[0] in {f.rsplit(".", 1)[0] for f in BOOK_FILES}
    emptied = {name for name, data in ((case.file, case.data), *case.also) if data == b""}
    named = {str(p["file"]) for p in doc["problems"]}
    assert emptied <= named, f"case {case.id}: an emptied file is not listed"  # every file
    if doc["valid"]:
        assert doc["errors"] == 0 and re.fullmatch(r"[0-9a-f]{64}", doc["sha256"])
        return
    assert doc["errors"] >= 1
    if case.number % RUN_EVERY:
        return
    ledger = tmp_path / "ledger.db"
    ran = runner.invoke(app, ["run", str(book), "--ledger", str(ledger)])
    _no_traceback(ran, case)
    assert ran.exit_code == 1
    assert ran.stderr.splitlines() == lines  # the same listing, one problem a line
    assert not ledger.exists()  # a rejected book writes nothing


def test_the_cases_are_seeded_and_cover_every_kind_of_mutation() -> None:
    again = plan_cases(SEED, 40)
    assert again == CASES[:40]  # the same bytes on every run
    assert plan_cases(SEED + 1, 40) != again
    kinds = Counter((c.file == "book.json", c.kind) for c in CASES)
    assert {k for (is_json, k) in kinds if not is_json} == set(CSV_KINDS)
    assert {k for (is_json, k) in kinds if is_json} == set(JSON_KINDS)
    assert {c.file for c in CASES} == set(BOOK_FILES)
    # The mutation that once ended in a traceback is among the cases.
    assert any(c.file == "parties.csv" and c.detail == "header only" for c in CASES)


def test_a_header_only_parties_file_lists_the_orphans_in_validate_and_run(tmp_path: Path) -> None:
    # Once a pandas IndexError from the carrier-kind lookup into an empty parties table.
    book = Path(__file__).parents[1] / "data" / "books" / "parties_header_only"
    expected = (book / "expected.txt").read_text(encoding="utf-8").splitlines()
    runner = CliRunner()
    checked = runner.invoke(app, ["validate", str(book)])
    assert checked.exit_code == 1
    assert checked.stderr.splitlines() == [*expected, f"{book}: invalid: 8 error(s), 0 warning(s)"]
    ledger = tmp_path / "ledger.db"
    ran = runner.invoke(app, ["run", str(book), "--ledger", str(ledger)])
    assert (ran.exit_code, ran.stderr.splitlines()) == (1, expected)
    assert not ledger.exists()
