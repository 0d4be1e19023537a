"""explain renders the trace: golden text, JSON and HTML, and the CLI around them.

Regenerate the golden files with ``MARGINLEX_REGEN_GOLDEN=1 pytest tests/audit`` and review
the diff.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from audit_helpers import BOOK_BLOB, DATA, RULEBOOK_TEXT, run_for, variant
from rich.console import Console
from typer.testing import CliRunner

from marginlex.audit.explain.html import render_html
from marginlex.audit.explain.text import render_json, render_rich, render_text
from marginlex.audit.ledger.store import Ledger
from marginlex.audit.trace.model import DecisionTrace
from marginlex.cli import audit_commands

GOLDEN = DATA / "golden"
# The audit group on its own app: these tests do not depend on other groups' commands.
app = typer.Typer()
audit_commands.register(app)
REGEN = os.environ.get("MARGINLEX_REGEN_GOLDEN") == "1"


def breach_trace(trace: DecisionTrace) -> DecisionTrace:
    """The fixture with a failed requirement, a segregation breach and a call."""
    data = trace.model_dump(mode="json")
    data["decision_id"] = "d-breach"
    eligibility = data["steps"][0]["output"]
    eligibility["eligible"] = False
    eligibility["fallback"] = "strategy_based"
    eligibility["requirements"][2]["passed"] = False
    eligibility["requirements"][2]["tested"] = [{"id": "carrier.kind", "value": "broker_dealer"}]
    data["steps"][1]["output"]["violations"] = [
        {
            "constraint_id": "customer_funds_not_to_house",
            "citation": "17 CFR 1.20; CEA 4d(a)(2)",
            "path": ["L-CASH-1", "ACC-PM-1", "HOUSE-1"],
            "message": "customer collateral pledged to a house account",
        }
    ]
    data["figures"] |= {"excess": "-1250.50", "call": "1250.50", "status": "breach"}
    return DecisionTrace.model_validate(data)


def _check_golden(name: str, body: str) -> None:
    path = GOLDEN / name
    if REGEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    assert path.exists(), f"no golden {path}: run with MARGINLEX_REGEN_GOLDEN=1 and review"
    assert body == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


RENDERERS: dict[str, Callable[[DecisionTrace], str]] = {
    "txt": render_text,
    "json": render_json,
    "html": render_html,
}


@pytest.mark.parametrize("ext", sorted(RENDERERS))
@pytest.mark.parametrize("case", ["pm_decision", "breach_decision"])
def test_golden_explain(pm_trace: DecisionTrace, case: str, ext: str) -> None:
    trace = pm_trace if case == "pm_decision" else breach_trace(pm_trace)
    _check_golden(f"{case}.{ext}", RENDERERS[ext](trace))


def test_every_text_line_carries_a_citation(pm_trace: DecisionTrace) -> None:
    for trace in (pm_trace, breach_trace(pm_trace)):
        lines = render_text(trace).splitlines()
        assert lines and all(line.endswith("›") and "  ‹" in line for line in lines)


def test_text_reads_top_down_to_the_positions(pm_trace: DecisionTrace) -> None:
    text = render_text(pm_trace)
    order = [
        "Decision",
        "Requirement (maintenance) 69,760.00",
        "Class group XYZ",
        "Worst scenario -15%",
        "ACC-PM-1 XYZ: quantity 1000",
        "Offsets index_offsets",
        "Eligibility common_eligibility",
        "PASS approved_or_ecp",
        "L-UST-1 UST_NOTE",
        'row "5 to 10 years" 4.5%',
        "L-BTC-1 BTC",
        "capped by digital_asset_concentration",
        "Segregation customer_protection: no violation",
    ]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)


def test_breach_shows_failures(pm_trace: DecisionTrace) -> None:
    text = render_text(breach_trace(pm_trace))
    assert "Decision d-breach: BREACH, call 1,250.50" in text
    assert "NOT eligible, margined by strategy_based" in text
    assert (
        "FAIL carried_by_bd_fcm: carried by a dual registrant (carrier.kind=broker_dealer)" in text
    )
    assert "BREACH customer_funds_not_to_house: L-CASH-1 -> ACC-PM-1 -> HOUSE-1" in text


def test_json_rendering_is_the_canonical_content(pm_trace: DecisionTrace) -> None:
    assert json.loads(render_json(pm_trace)) == json.loads(pm_trace.canonical())


def test_html_is_self_contained_and_escaped(pm_trace: DecisionTrace) -> None:
    page = render_html(pm_trace)
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    for external in ("<link", "<script src", "src=", "http://", "https://", "@import"):
        assert external not in page  # the one script (the search box) is inline
    assert "P&amp;L" in page and "P&L -23" not in page  # text is escaped


def test_rich_tree_has_the_same_lines(pm_trace: DecisionTrace) -> None:
    console = Console(width=400, record=True, color_system=None)
    console.print(render_rich(pm_trace))
    assert "Worst scenario -15% (price -15%): P&L -23,400.00" in console.export_text()


@pytest.fixture
def cli_ledger(tmp_path: Path, pm_trace: DecisionTrace) -> str:
    location = str(tmp_path / "cli.db")
    ledger = Ledger.open(location)
    traces = [pm_trace, variant(pm_trace, "d-call", accounts=("ACC-9",), excess="-1250.50")]
    ledger.record_run(run_for(pm_trace, "run-1"), traces, [RULEBOOK_TEXT], BOOK_BLOB)
    ledger.close()
    return location


def test_cli_explain_formats(cli_ledger: str, pm_trace: DecisionTrace, tmp_path: Path) -> None:
    runner = CliRunner()
    did = pm_trace.decision_id
    ledger = Ledger.open(cli_ledger)
    stored = ledger.get_decision(did)
    ledger.close()
    text = runner.invoke(app, ["explain", did, "--ledger", cli_ledger])
    assert text.exit_code == 0 and text.stdout == render_text(pm_trace, stored)
    assert text.stdout.splitlines()[1:] == render_text(pm_trace).splitlines()
    as_json = runner.invoke(app, ["explain", did, "--format", "json", "--ledger", cli_ledger])
    assert as_json.stdout == render_json(pm_trace, stored)
    out = tmp_path / "d.html"
    page = runner.invoke(
        app, ["explain", did, "-f", "html", "-o", str(out), "--ledger", cli_ledger]
    )
    assert page.exit_code == 0 and out.read_text() == render_html(pm_trace, stored)


def test_explain_names_the_ledger_entry(cli_ledger: str, pm_trace: DecisionTrace) -> None:
    ledger = Ledger.open(cli_ledger)
    stored = ledger.get_decision(pm_trace.decision_id)
    run = ledger.runs()[0].record
    ledger.close()
    when = run.created_at.isoformat()
    assert (stored.row.run_id, stored.row.seq, stored.recorded_at) == ("run-1", 1, run.created_at)
    first = render_text(pm_trace, stored).splitlines()[0]
    assert first == (
        f"Ledger entry #1 of run run-1, recorded {when}, entry hash {stored.entry_hash}, "
        "who ran it: not recorded  ‹ledger entry›"
    )
    assert json.loads(render_json(pm_trace, stored))["ledger_entry"] == {
        "command_line": None,
        "entry_hash": stored.entry_hash,
        "hash_mismatch": None,
        "host": None,
        "operator": None,
        "recorded_at": when,
        "run_id": "run-1",
        "seq": 1,
    }
    page = render_html(pm_trace, stored)
    assert f"Ledger entry #1 of run <code>run-1</code>, recorded {when}" in page
    assert f"entry hash <code>{stored.entry_hash}</code>, who ran it: not recorded" in page


def test_cli_explain_unknown_id_exits_1(cli_ledger: str) -> None:
    result = CliRunner().invoke(app, ["explain", "nope", "--ledger", cli_ledger])
    assert result.exit_code == 1
    assert "no decision 'nope' in the ledger" in result.stderr


def test_cli_ledger_from_env_and_formats(
    cli_ledger: str, monkeypatch: pytest.MonkeyPatch, pm_trace: DecisionTrace
) -> None:
    monkeypatch.setenv("MARGINLEX_LEDGER", cli_ledger)
    runner = CliRunner()
    csv_out = runner.invoke(app, ["ledger", "--format", "csv", "--call-above", "1000"])
    assert csv_out.exit_code == 0
    assert csv_out.stdout.splitlines() == [
        "seq,run_id,decision_id,rulebook_id,margin_set_id,account_ids,status,requirement,call,"
        "mismatch",
        "2,run-1,d-call,harmonized_pm,ms-ACC-9,ACC-9,call,69760.00,1250.50,",
    ]
    rows = json.loads(runner.invoke(app, ["ledger", "-f", "json", "--status", "ok"]).stdout)
    assert [r["decision_id"] for r in rows] == [pm_trace.decision_id]
    assert rows[0]["account_ids"] == ["ACC-PM-1", "ACC-FUT-1"]
    table = runner.invoke(app, ["ledger", "--account", "ACC-9"])
    assert "d-call" in table.stdout and "1,250.50" in table.stdout


def test_cli_verify_ok_then_tampered(cli_ledger: str) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["verify", "--ledger", cli_ledger])
    assert ok.exit_code == 0 and ok.stdout.startswith(
        "OK: 2 entries in 1 runs; the chain is intact"
    )
    ledger = Ledger.open(cli_ledger)
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE decisions SET call = 0 WHERE seq = 2")
    ledger.close()
    bad = runner.invoke(app, ["verify", "--ledger", cli_ledger])
    assert bad.exit_code == 1
    assert bad.stdout.startswith("FAILED at entry #2 (decision d-call, run run-1): changed:")


def test_cli_verify_replay_of_unreadable_inputs_fails(cli_ledger: str) -> None:
    # The fixture run recorded placeholder bytes for its book, not a recorded book.
    result = CliRunner().invoke(app, ["verify", "--replay", "--ledger", cli_ledger])
    assert result.exit_code == 1
    assert "replay failed: the recorded book is not a book zip" in " ".join(result.stderr.split())


def test_cli_missing_ledger_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    result = CliRunner().invoke(app, ["verify", "--ledger", str(missing)])
    assert result.exit_code == 2 and not missing.exists()
    assert "no ledger at" in result.stderr


def test_html_tree_folds_and_prints(pm_trace: DecisionTrace) -> None:
    from marginlex.audit.explain.tree import Node, build_tree  # noqa: PLC0415

    def nodes(node: Node) -> list[Node]:
        return [node, *(n for child in node.children for n in nodes(child))]

    every = nodes(build_tree(pm_trace))
    page = render_html(pm_trace)
    # one fold per line with lines under it, open to start with; every other line plain
    assert page.count("<details open><summary>") == sum(1 for n in every if n.children) > 1
    assert page.count("<li>") == len(every)
    assert "@media print {" in page and "print-color-adjust: exact" in page
    # self-contained: folding needs no script; the one script is the search box, inline
    assert page.count("<script") == 1 and "<script src" not in page


def test_html_search_marks_matches_and_opens_their_folds(
    pm_trace: DecisionTrace, tmp_path: Path
) -> None:
    """In a real Chromium: fold every line, search a rule id, and the matching lines are
    marked, the folds above them opened and every other line faded."""
    chromium = Path(os.environ.get("MARGINLEX_CHROMIUM", "/usr/bin/chromium"))
    if not chromium.exists():
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {chromium} (CI is set: a missing browser is a failure)")
        pytest.skip(f"no Chromium at {chromium}")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    page_file = tmp_path / "d.html"
    page_file.write_text(render_html(pm_trace), encoding="utf-8")
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=args)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(page_file.as_uri())
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = false)")
        page.fill("#find", "sec_treasuries")
        hits = page.locator("li.hit")
        assert hits.count() >= 1
        assert all("sec_treasuries" in t for t in hits.all_text_contents())
        assert page.locator("li.miss").count() > 0
        # every fold above a match is open again
        closed = page.evaluate(
            "Array.from(document.querySelectorAll('li.hit')).filter(li => {"
            " for (let d = li.parentElement.closest('details'); d;"
            " d = d.parentElement.closest('details')) { if (!d.open) return true; }"
            " return false; }).length"
        )
        assert closed == 0
        assert page.inner_text("#found") == f"{hits.count()} line(s) match"
        page.fill("#find", "")
        assert page.locator("li.miss").count() == 0
        browser.close()
    assert errors == []


def test_text_states_each_citation_once(pm_trace: DecisionTrace) -> None:
    from marginlex.audit.explain.tree import Node, build_tree  # noqa: PLC0415

    def cites(node: Node) -> list[str]:
        return [node.cite, *(c for child in node.children for c in cites(child))]

    tagged = {c for c in cites(build_tree(pm_trace)) if re.match(r"^\S+ \[[VSI]\]: ", c)}
    text = render_text(pm_trace)
    assert tagged and all(text.count(f"‹{c}›") == 1 for c in tagged)  # in full once...
    short = {c.split(": ", 1)[0] for c in tagged}
    assert any(f"‹{s}›" in text for s in short)  # ...then by rule and tag alone
    assert all(line.endswith("›") for line in text.splitlines())
