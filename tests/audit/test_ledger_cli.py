"""``marginlex ledger`` and ``explain`` as an auditor meets them: every row shown checked
against its hash, listings bounded by time, and a table that pages."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from audit_helpers import BOOK_BLOB, RULEBOOK_TEXT, run_for, variant
from typer.testing import CliRunner

from marginlex.audit.explain.text import render_text
from marginlex.audit.ledger.entry_read import DecisionNotFoundError
from marginlex.audit.ledger.records import RunOrigin
from marginlex.audit.ledger.store import Ledger
from marginlex.audit.trace.model import DecisionTrace
from marginlex.cli import audit_commands

app = typer.Typer()
audit_commands.register(app)
MISMATCH = "HASH MISMATCH: entry #2 was changed after it was recorded"


ORIGIN = RunOrigin(
    operator="alice", host="ws-7", command_line="marginlex run --ledger 'postgresql://w:***@db/l'"
)


@pytest.fixture
def two_runs(tmp_path: Path, pm_trace: DecisionTrace) -> str:
    """run-1 (2 decisions, 2026-03-02 09:00 UTC), run-2 (1 decision, 2026-03-03 09:00 UTC,
    run by alice on ws-7)."""
    location = str(tmp_path / "cli.db")
    ledger = Ledger.open(location)
    for run_id, day, traces in (
        ("run-1", 2, [pm_trace, variant(pm_trace, "d-call", accounts=("ACC-9",), excess="-5")]),
        ("run-2", 3, [variant(pm_trace, "d-late", accounts=("ACC-7",))]),
    ):
        origin = ORIGIN if run_id == "run-2" else None  # run-1 as recorded before origins
        run = run_for(pm_trace, run_id).model_copy(
            update={"created_at": datetime(2026, 3, day, 9, tzinfo=UTC), "origin": origin}
        )
        ledger.record_run(run, traces, [RULEBOOK_TEXT], BOOK_BLOB)
    ledger.close()
    return location


def _sql(location: str, statement: str) -> None:
    ledger = Ledger.open(location)
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql(statement)
    ledger.close()


def _ledger(location: str, *args: str) -> list[str]:
    result = CliRunner().invoke(app, ["ledger", "--ledger", location, "-f", "csv", *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout.splitlines()[1:]


def test_an_sql_edit_of_a_call_to_zero_is_named_beside_the_row(
    two_runs: str, pm_trace: DecisionTrace
) -> None:
    assert [line.split(",")[2] for line in _ledger(two_runs, "--status", "call")] == ["d-call"]
    _sql(two_runs, "UPDATE decisions SET call = 0, status = 'ok' WHERE seq = 2")
    assert _ledger(two_runs, "--status", "call") == []  # hidden from the filter...
    rows = _ledger(two_runs)  # ...but wherever it is shown, it says so
    assert rows[1] == f"2,run-1,d-call,harmonized_pm,ms-ACC-9,ACC-9,ok,69760.00,0.00,{MISMATCH}"
    assert rows[0].endswith(",") and rows[2].endswith(",")  # the others match their hash
    table = CliRunner().invoke(app, ["ledger", "--ledger", two_runs], env={"COLUMNS": "200"})
    shown = {
        line.split("│")[3].strip(): line.split("│")[-2].strip()
        for line in table.stdout.splitlines()
        if line.startswith("│") and line.split("│")[1].strip()
    }
    assert shown == {pm_trace.decision_id: "ok", "d-call": MISMATCH, "d-late": "ok"}
    assert "1 of the rows shown no longer match their hash" in " ".join(table.stderr.split())


def test_json_names_the_mismatch_only_on_the_edited_row(two_runs: str) -> None:
    _sql(two_runs, "UPDATE decisions SET requirement = 1 WHERE seq = 2")
    result = CliRunner().invoke(app, ["ledger", "--ledger", two_runs, "-f", "json"])
    rows = json.loads(result.stdout)
    assert [r.get("mismatch") for r in rows] == [None, MISMATCH, None]


def test_an_edited_run_record_shows_on_each_of_its_rows(two_runs: str) -> None:
    _sql(two_runs, "UPDATE runs SET as_of = '2020-01-01' WHERE run_id = 'run-2'")
    rows = _ledger(two_runs)
    assert rows[2].endswith("HASH MISMATCH: the record of run run-2 was changed or removed")
    assert not rows[0].endswith("MISMATCH") and rows[0].endswith(",")


def test_explain_states_the_mismatch_first(two_runs: str, pm_trace: DecisionTrace) -> None:
    runner = CliRunner()
    clean = runner.invoke(app, ["explain", pm_trace.decision_id, "--ledger", two_runs])
    assert clean.stdout.splitlines()[1:] == render_text(pm_trace).splitlines()
    assert clean.stderr == ""
    _sql(two_runs, "UPDATE decisions SET requirement = 1 WHERE seq = 1")
    text = runner.invoke(app, ["explain", pm_trace.decision_id, "--ledger", two_runs])
    assert text.exit_code == 0
    assert text.stdout.splitlines()[0] == (
        "!! HASH MISMATCH: entry #1 was changed after it was recorded"
    )
    as_json = runner.invoke(app, ["explain", "d-call", "--ledger", two_runs, "-f", "json"])
    assert as_json.stderr == ""  # entry #2 still matches, though #1 before it changed


def test_explain_notices_an_edited_trace(two_runs: str) -> None:
    _sql(
        two_runs,
        "UPDATE decisions SET trace_z = (SELECT trace_z FROM decisions WHERE seq = 1)"
        " WHERE seq = 2",
    )
    result = CliRunner().invoke(app, ["explain", "d-call", "--ledger", two_runs, "-f", "json"])
    assert "HASH MISMATCH: the trace of entry #2 was changed" in " ".join(result.stderr.split())


@pytest.mark.parametrize(
    ("args", "seqs"),
    [
        (["--since", "2026-03-03"], ["3"]),
        (["--until", "2026-03-02 23:59:59"], ["1", "2"]),
        (["--since", "2026-03-02T09:00:00", "--until", "2026-03-02T09:00:00"], ["1", "2"]),
        (["--since", "2026-03-02T09:00:01", "--until", "2026-03-03T08:59:59"], []),
    ],
)
def test_since_and_until_bound_the_runs_recorded_time(
    two_runs: str, args: list[str], seqs: list[str]
) -> None:
    assert [line.split(",")[0] for line in _ledger(two_runs, *args)] == seqs


@pytest.mark.parametrize("command", [[], ["runs"]])
@pytest.mark.parametrize("given", ["2026-13-01", "yesterday", "2026-03-02 25:00"])
def test_a_bound_that_is_not_a_time_says_what_to_write(
    two_runs: str, command: list[str], given: str
) -> None:
    """Exit 2 with the format to write, not the validator's "input is too short"."""
    done = CliRunner().invoke(app, ["ledger", *command, "--ledger", two_runs, "--since", given])
    assert done.exit_code == 2
    said = " ".join(done.output.replace("│", " ").split())
    assert (
        f"Invalid value for '--since': '{given}' is not a date or time: write YYYY-MM-DD or "
        "YYYY-MM-DDTHH:MM (UTC, unless an offset such as +02:00 follows)"
    ) in said


def test_a_table_pages_and_says_how_to_see_more(
    two_runs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_commands, "PAGE", 2)
    runner = CliRunner()
    first = runner.invoke(app, ["ledger", "--ledger", two_runs])
    assert "2 decisions" in first.stdout and "d-late" not in first.stdout
    assert first.stdout.splitlines()[-1] == (
        "rows 1-2 shown; more match: --offset 2 for the next page, --limit N for N rows, "
        "--all for every row, or -f csv / -f json for a file"
    )
    second = runner.invoke(app, ["ledger", "--ledger", two_runs, "--offset", "2"])
    assert "d-late" in second.stdout and "more match" not in second.stdout
    every = runner.invoke(app, ["ledger", "--ledger", two_runs, "--all"])
    assert "3 decisions" in every.stdout and "more match" not in every.stdout
    assert len(_ledger(two_runs)) == 3  # CSV and JSON are not paged


def test_a_run_or_rulebook_the_ledger_never_recorded_is_said(
    two_runs: str, pm_trace: DecisionTrace
) -> None:
    # an empty table, exit 0, read as "no such decision" for a mistyped run id
    runner = CliRunner()
    typo = runner.invoke(app, ["ledger", "--ledger", two_runs, "--run", "run-3"])
    assert typo.exit_code == 1 and typo.stdout == ""
    assert (
        typo.stderr == "error: no run 'run-3' in the ledger; `marginlex ledger runs` lists them\n"
    )
    other = runner.invoke(app, ["ledger", "--ledger", two_runs, "--rulebook", "secc"])
    assert other.exit_code == 1
    used = pm_trace.rulebook.id
    assert " ".join(other.stderr.split()) == (
        f"error: no run in the ledger used rulebook 'secc'; recorded: {used}"
    )
    # an account no decision holds is said too (it was an empty listing, exit 0), with the
    # accounts that hold its text in other capitals
    nobody = runner.invoke(app, ["ledger", "--ledger", two_runs, "--account", "acc-"])
    assert nobody.exit_code == 1 and nobody.stdout == ""
    assert nobody.stderr == (
        "error: no decision in the ledger holds account 'acc-'; did you mean ACC-7, ACC-9, "
        "ACC-FUT-1, ACC-PM-1?\n"
    )
    # a filter that matches nothing in a known run is an empty listing, as before
    none = runner.invoke(
        app, ["ledger", "--ledger", two_runs, "--run", "run-2", "--account", "ACC-9", "-f", "csv"]
    )
    assert none.exit_code == 0 and len(none.stdout.splitlines()) == 1


def test_an_id_longer_than_any_the_ledger_holds_names_nothing(two_runs: str) -> None:
    """A 60,000-character id was searched for with LIKE, which SQLite refuses ("LIKE or GLOB
    pattern too complex"): explain ended in a traceback, and ledger --account said the
    ledger "cannot be read", with the SQL statement."""
    runner = CliRunner()
    long = "x" * 60_000
    said = (
        "'xxxxxxxxxxxxxxxxxxxxxxxx…' in the ledger: the id given is 60,000 characters, "
        "longer than any the ledger can hold (200)\n"
    )
    explained = runner.invoke(app, ["explain", long, "--ledger", two_runs])
    assert explained.exit_code == 1 and explained.stdout == ""
    assert explained.stderr == f"error: no decision {said}"
    listed = runner.invoke(app, ["ledger", "--ledger", two_runs, "--account", long])
    assert listed.exit_code == 1 and listed.stdout == ""
    assert listed.stderr == f"error: no account {said}"
    assert "SELECT" not in listed.stderr + explained.stderr


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("1,000", "write 1000 or 1.000 as meant (no thousands separator, a point for decimals)"),
        ("$5000", "leave out the currency sign"),
        ("lots", "write digits, with a point for decimals (1000.50)"),
    ],
)
def test_a_call_above_written_for_people_is_told_how_to_write_it(
    two_runs: str, given: str, said: str
) -> None:
    """It said pydantic's "Input should be a valid decimal"."""
    done = CliRunner().invoke(app, ["ledger", "--ledger", two_runs, "--call-above", given])
    assert done.exit_code == 2
    assert f"{given!r} is not an amount: {said}" in " ".join(done.output.replace("│", " ").split())


def test_limit_and_offset_past_a_64_bit_integer(two_runs: str) -> None:
    huge = str(10**23)  # SQLite and PostgreSQL take at most 2**63 - 1
    runner = CliRunner()
    past = runner.invoke(app, ["ledger", "--ledger", two_runs, "--offset", huge, "-f", "csv"])
    assert past.exit_code == 0, past.stderr
    assert past.stdout.splitlines()[1:] == []  # the header alone: no row is that far
    every = runner.invoke(app, ["ledger", "--ledger", two_runs, "--limit", huge, "-f", "csv"])
    assert every.exit_code == 0, every.stderr
    assert len(every.stdout.splitlines()) == 4  # the header and all three decisions


def test_ledger_runs_lists_each_run_with_its_time(two_runs: str, pm_trace: DecisionTrace) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["ledger", "runs", "--ledger", two_runs, "-f", "csv"])
    assert listed.exit_code == 0, listed.stderr
    as_of, rulebook = pm_trace.as_of.isoformat(), pm_trace.rulebook.id
    inputs = (
        f"{pm_trace.engine_version},{pm_trace.book_sha256},{rulebook}={pm_trace.rulebook.sha256}"
    )
    assert listed.stdout.splitlines() == [
        "run_id,recorded_at,as_of,rulebooks,decisions,ok,call,breach,operator,host,command_line,"
        "marginlex,book_sha256,rulebook_sha256",
        f"run-1,2026-03-02T09:00:00+00:00,{as_of},{rulebook},2,1,1,0,not recorded,not recorded,"
        f"not recorded,{inputs}",
        f"run-2,2026-03-03T09:00:00+00:00,{as_of},{rulebook},1,1,0,0,alice,ws-7,"
        f"marginlex run --ledger 'postgresql://w:***@db/l',{inputs}",
    ]
    since = runner.invoke(
        app, ["ledger", "runs", "--ledger", two_runs, "-f", "json", "--since", "2026-03-03"]
    )
    assert [r["run_id"] for r in json.loads(since.stdout)] == ["run-2"]
    shown = runner.invoke(app, ["ledger", "runs", "--ledger", two_runs], env={"COLUMNS": "200"})
    assert re.search(r"│ run-2 .*│ alice +│ ws-7 +│", shown.stdout), shown.stdout
    assert re.search(r"│ run-1 .*│ not recorded +│ not recorded +│", shown.stdout)
    table = runner.invoke(app, ["ledger", "runs", "--ledger", two_runs, "--until", "2026-03-02"])
    assert "0 runs" in table.stdout  # --until a date is its midnight: before run-1


def test_explain_depth_and_section_cut_the_text(two_runs: str, pm_trace: DecisionTrace) -> None:
    def explain(*args: str) -> list[str]:
        result = CliRunner().invoke(
            app, ["explain", pm_trace.decision_id, "--ledger", two_runs, *args]
        )
        assert result.exit_code == 0, result.stderr
        return result.stdout.splitlines()[1:]  # after the ledger entry line

    whole = explain()
    top = [line for line in whole if line.startswith(("├── ", "└── "))]
    assert explain("--depth", "0") == whole[:1]
    assert explain("--depth", "1") == [whole[0], *top]
    requirement = explain("--section", "requirement")
    assert requirement[1].startswith("└── Requirement (maintenance)")
    start = whole.index(requirement[1].replace("└── ", "├── ", 1))
    assert [line[4:] for line in requirement[2:]] == [
        line[4:] for line in whole[start + 1 : start + len(requirement) - 1]
    ]
    missing = CliRunner().invoke(
        app, ["explain", pm_trace.decision_id, "--ledger", two_runs, "--section", "nope"]
    )
    assert missing.exit_code == 1
    assert "no section 'nope' in this decision; it has: Rulebook, Book," in " ".join(
        missing.stderr.split()
    )


def test_verify_takes_the_whole_head_hash_not_the_prefix_shown(two_runs: str) -> None:
    """`--expect-head 7361db06c623` (the prefix pages show) was reported as "the chain was cut
    back below it, or replaced", a false alarm; it is a usage error naming what to give."""
    runner = CliRunner()
    done = runner.invoke(app, ["verify", "--ledger", two_runs])
    head = done.stdout.split("head #")[1].split()[1]
    assert len(head) == 64
    for given, what in ((head[:12], "12 hex digits of a hash"), ("latest", "not a hash")):
        refused = runner.invoke(app, ["verify", "--ledger", two_runs, "--expect-head", given])
        assert refused.exit_code == 2
        said = " ".join(refused.output.replace("│", " ").split())
        assert f"{given!r} is {what}: give the whole head hash, 64 hex digits" in said
    whole = runner.invoke(app, ["verify", "--ledger", two_runs, "--expect-head", head.upper()])
    assert whole.exit_code == 0 and whole.stdout.startswith("OK: 3 entries")


def test_explain_in_a_run_the_ledger_never_recorded_names_the_run(
    two_runs: str, pm_trace: DecisionTrace
) -> None:
    # it said "no decision 'D' in run run-3 in the ledger; did you mean D?", the same id
    said = "no run 'run-3' in the ledger; `marginlex ledger runs` lists them"
    typo = CliRunner().invoke(
        app, ["explain", pm_trace.decision_id, "--ledger", two_runs, "--run", "run-3"]
    )
    assert typo.exit_code == 1 and typo.stderr == f"error: {said}\n"
    ledger = Ledger.open(two_runs)  # the SQLAlchemy reader (PostgreSQL's) says it too
    try:
        with pytest.raises(DecisionNotFoundError) as exc:
            ledger.get_decision(pm_trace.decision_id, "run-3")
        assert str(exc.value) == said
        with pytest.raises(DecisionNotFoundError) as exc:
            ledger.get_decision("d-none", "run-1")
        assert str(exc.value) == (
            "no decision 'd-none' in run run-1 in the ledger; `marginlex ledger` lists them"
        )
    finally:
        ledger.close()
