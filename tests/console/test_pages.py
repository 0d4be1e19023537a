"""The console's pages over a real ledger (SQLite): what each shows, as HTML and as CSV.

Figures are the demo book's (``tests/data/evaluate/demo_run.json``): 36 decisions a run, 13
under sec, 6 under cftc and 17 under harmonized; A08_FOX_FUT has a call of 78,600.00 on a
requirement of 210,000.00 under cftc.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from console_books import Recorded
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from marginlex.audit.ledger.store import Ledger
from marginlex.cli import app
from marginlex.console.app import create_app
from marginlex.console.security import LOOPBACK


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_runs_newest_first_with_counts(client: TestClient, recorded: Recorded) -> None:
    page = client.get("/runs")
    assert page.status_code == 200
    order = [m for m in re.findall(r'href="/runs/(r-[0-9a-f]{16})"', page.text)]
    assert order == [recorded.hostile, recorded.moved, recorded.demo]
    rows = _csv(client.get("/runs.csv").text)
    assert [r["run"] for r in rows] == order
    assert {r["decisions"] for r in rows} == {"36"}
    assert rows[2]["rulebooks"] == "sec, cftc, harmonized"


def test_run_summary_per_rulebook(client: TestClient, recorded: Recorded) -> None:
    page = client.get(f"/runs/{recorded.demo}")
    assert page.status_code == 200
    assert f"/runs/{recorded.demo}/plots/calls.svg" in page.text
    summary = _csv(client.get(f"/runs/{recorded.demo}.csv?table=summary").text)
    assert {r["rulebook"]: r["decisions"] for r in summary} == {
        "cftc": "6",
        "harmonized": "17",
        "sec": "13",
    }
    calls = _csv(client.get(f"/runs/{recorded.demo}?format=csv&table=largest_calls").text)
    amounts = [float(r["call"]) for r in calls]
    assert amounts == sorted(amounts, reverse=True)
    assert {"ms:A08_FOX_FUT", "78600.00"} <= {calls[0]["margin set"], calls[0]["call"]}
    # the histogram beside the plot is its own table (the largest calls had the same name
    # and hid it); a name no table has is refused, naming the tables
    binned = _csv(client.get(f"/runs/{recorded.demo}?format=csv&table=calls").text)
    assert binned and "call" not in binned[0]
    assert page.text.count('id="table-calls"') == 1
    bogus = client.get(f"/runs/{recorded.demo}?format=csv&table=bogus")
    assert bogus.status_code == 400
    assert "no table &#39;bogus&#39; on this page: there are summary, largest_calls" in bogus.text
    svg = client.get(f"/runs/{recorded.demo}/plots/requirements.svg")
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.lstrip().startswith("<?xml") and "<svg" in svg.text


def test_decisions_filtered_on_the_server(client: TestClient, recorded: Recorded) -> None:
    query = f"run={recorded.demo}&status=call&call_above=40000&sort=-call"
    rows = _csv(client.get(f"/decisions.csv?{query}").text)
    assert rows, "the demo book has calls above 40,000"
    assert all(r["status"] == "call" and float(r["call"]) > 40000 for r in rows)
    assert [float(r["call"]) for r in rows] == sorted(
        (float(r["call"]) for r in rows), reverse=True
    )
    as_json = client.get(f"/decisions.json?{query}").json()
    assert [d["seq"] for d in as_json] == [int(r["entry"]) for r in rows]
    page = client.get(f"/decisions?{query}")
    assert f"of 1 ({len(rows)} in all)" in page.text
    by_account = _csv(client.get(f"/decisions.csv?run={recorded.demo}&account=A08_FOX_FUT").text)
    assert {r["rulebook"] for r in by_account} == {"cftc", "harmonized"}


def test_decisions_paginate(client: TestClient) -> None:
    first = client.get("/decisions?page=1").text
    second = client.get("/decisions?page=2").text
    assert "of 3 (108 in all)" in first and 'rel="next"' in first
    seqs = lambda html: re.findall(r'<td class=" num">(\d+)</td>', html)  # noqa: E731
    assert seqs(first)[0] == "1" and seqs(second)[0] == "51"
    # A page past any 64-bit offset is past the end: a 404 naming the last, not a server
    # error (nor an empty page with a link back one page)
    beyond = client.get("/decisions?page=99999999999999999999999")
    assert beyond.status_code == 404 and "the last is 3" in beyond.text


def test_history_box_left_empty_says_so(client: TestClient) -> None:
    for url in ("/accounts", "/accounts?account=", "/accounts?account=%20%20"):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 400, url
        assert "type an account id in the History box" in response.text
    found = client.get("/accounts?account=%20A08_FOX_FUT%20", follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == "/accounts/A08_FOX_FUT"


def test_decisions_by_failed_requirement_and_rule(client: TestClient, recorded: Recorded) -> None:
    failing = _csv(client.get(f"/decisions.csv?run={recorded.demo}&failed=min_equity").text)
    listed = client.get(f"/runs/{recorded.demo}/eligibility.csv").text
    counts = {(r["rulebook"], r["requirement"]): int(r["decisions"]) for r in _csv(listed)}
    assert len(failing) == sum(n for (_, name), n in counts.items() if name == "min_equity")
    assert failing, "the demo book has accounts under the minimum equity"
    ledger = Ledger.open(recorded.location, create=False)
    for row in failing:
        stored = ledger.get_decision(row["decision"], row["run"])
        failed = [
            r.name
            for s in stored.trace.steps
            if getattr(s.output, "type", "") == "eligibility"
            for r in s.output.requirements  # type: ignore[attr-defined]
            if r.applies and not r.passed
        ]
        assert "min_equity" in failed
    bad = client.get("/decisions?call_above=lots")
    assert bad.status_code == 400
    assert "bad filter: call_above &#39;lots&#39; is not an amount (e.g. 1000)" in bad.text
    assert client.get("/decisions?call_above=1,000").status_code == 200
    sort = client.get("/decisions?sort=call")
    assert sort.status_code == 400
    assert "bad filter: sort &#39;call&#39; is none of " in sort.text
    beyond = client.get("/decisions?page=99999")
    assert beyond.status_code == 404
    assert "no page 99999 of these decisions: the last is" in beyond.text


def _a08(client: TestClient, run: str, rulebook: str) -> str:
    page = client.get(f"/decisions?run={run}&rulebook={rulebook}&margin_set=ms:A08_FOX_FUT")
    (href,) = re.findall(r'href="(/runs/[^"]+/decisions/[^"]+)"', page.text)
    return href


def test_decision_page_links_rules_accounts_and_citations(
    client: TestClient, recorded: Recorded
) -> None:
    href = _a08(client, recorded.demo, "cftc")
    page = client.get(href).text
    assert "<details open>" in page and "<details>" in page  # deeper lines start folded
    rule_links = re.findall(r'href="/rulebooks/([0-9a-f]{64})#rule-([\w.]+)"', page)
    assert rule_links
    assert re.search(r'class="badge ev-(verified|secondary|illustrative)"', page)
    assert 'href="/accounts/A08_FOX_FUT"' in page
    sha, rule = rule_links[0]
    rulebook = client.get(f"/rulebooks/{sha}").text
    assert f'id="rule-{rule}"' in rulebook
    figures = _csv(client.get(f"{href}.csv").text)
    # numbers in the CSV, as in every CSV marginlex writes: a page's "-57,600.00" is text
    usd = {r["figure"]: r["USD"] for r in figures}
    assert (usd["call"], usd["excess"]) == ("78600.00", "-57600.00")


def test_replay_says_identical(client: TestClient, recorded: Recorded) -> None:
    page = client.get(_a08(client, recorded.demo, "cftc") + "?replay=1").text
    assert "Replay: <strong>identical</strong>" in page


def test_other_rulebooks_side_by_side(client: TestClient, recorded: Recorded) -> None:
    page = client.get(_a08(client, recorded.demo, "cftc")).text
    assert "cftc beside" in page and ">harmonized</a>" in page
    assert re.search(r"They part at line \d+|agree line for line", page)


def test_account_history_and_difference(client: TestClient, recorded: Recorded) -> None:
    page = client.get("/accounts/A01_ALICE_PM").text
    rows = _csv(client.get("/accounts/A01_ALICE_PM.csv").text)
    assert {(r["run"], r["rulebook"]) for r in rows} >= {
        (recorded.demo, "sec"),
        (recorded.moved, "sec"),
    }
    before = next(r for r in rows if r["run"] == recorded.demo and r["rulebook"] == "sec")
    after = next(r for r in rows if r["run"] == recorded.moved and r["rulebook"] == "sec")
    diff = client.get(f"/accounts/A01_ALICE_PM?a={before['entry']}&b={after['entry']}").text
    assert re.search(r"<td>price</td><td>XYZ</td><td>100</td><td>90</td>", diff)
    # the put on XYZ moves with it: said even for an account holding only the option
    assert re.search(r"<td>underlying price</td><td>XYZ_P90_2609</td><td>100</td><td>90</td>", diff)
    assert "no rule or parameter changed" in diff
    assert "<td>equity</td>" in diff  # 1,000 XYZ shares lost 10,000.00 of market value
    assert "/plots/history.svg?account=A01_ALICE_PM" in page
    assert client.get("/plots/history.svg?account=A01_ALICE_PM").status_code == 200


def test_rulebooks_recorded_and_variant_diff(client: TestClient) -> None:
    rows = _csv(client.get("/rulebooks.csv").text)
    assert sorted(r["rulebook"] for r in rows) == ["cftc", "harmonized", "sec"]
    assert {r["runs"] for r in rows} == {"3"}
    page = client.get("/rulebooks").text
    sha = re.search(r'href="/rulebooks/([0-9a-f]{64})">harmonized<', page)
    assert sha is not None
    doc = client.get(f"/rulebooks/{sha[1]}").text
    assert "Diff against its base <code>sec</code>" in doc
    assert 'id="kind-parameter"' in doc and "Used by" in doc


def test_verify_runs_in_the_background(client: TestClient) -> None:
    start = client.post("/verify", data={"replay": "false"}, follow_redirects=False)
    assert start.status_code == 303
    job = start.headers["location"]
    for _ in range(200):
        page = client.get(job).text
        if 'http-equiv="refresh"' not in page:
            break
        time.sleep(0.1)
    assert "VERIFIED" in page and "NOT VERIFIED" not in page
    assert "108 of 108 entries walked" in page
    assert "VERIFIED</span>" in client.get("/runs").text


def test_a_verify_stopped_at_a_problem_says_so_not_a_progress_bar(
    recorded: Recorded, tmp_path: Path
) -> None:
    copy = Path(shutil.copyfile(recorded.location, tmp_path / "ledger.db"))
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE decisions SET requirement = 1 WHERE seq = 15")
    with TestClient(create_app(str(copy)), base_url=LOOPBACK) as bench:
        job = bench.post("/verify", data={"replay": "false"}, follow_redirects=False)
        for _ in range(200):
            page = bench.get(job.headers["location"]).text
            if 'http-equiv="refresh"' not in page:
                break
            time.sleep(0.1)
    assert "NOT VERIFIED" in page and "<progress" not in page
    assert "Stopped at the first problem (entry #15 of 108): what comes after it was not" in page


def test_unknown_ids_are_404_pages(client: TestClient, recorded: Recorded) -> None:
    for url in (
        "/runs/r-0000000000000000",
        f"/runs/{recorded.demo}/decisions/d-nope",
        "/rulebooks/" + "0" * 64,
        "/accounts/NOBODY",
        "/verify/jobs/999",
        "/no/such/page",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "<h1>Not found</h1>" in response.text and "Traceback" not in response.text
        assert "script-src 'self'" in response.headers["content-security-policy"]


def test_a_filter_naming_nothing_recorded_says_so(client: TestClient) -> None:
    """A shared link with a mistyped rulebook showed "0 in all" under a form reading "any",
    as if no decision matched; it is a 404 naming what is recorded, as `ledger` says."""
    for url, said in (
        ("/decisions?rulebook=secc", "no run in the ledger used rulebook &#39;secc&#39;"),
        ("/decisions.csv?run=r-nope", "no run &#39;r-nope&#39; in the ledger"),
        (
            "/decisions?account=a01_alice_pm",
            "no decision in the ledger holds account &#39;a01_alice_pm&#39;; did you mean "
            "A01_ALICE_PM?",
        ),
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert said in response.text, response.text
    assert client.get("/decisions?rulebook=sec").status_code == 200


def test_json_export_is_json(client: TestClient, recorded: Recorded) -> None:
    body = client.get(f"/decisions.json?run={recorded.demo}&rulebook=cftc").text
    assert len(json.loads(body)) == 6
    # the rows `marginlex ledger --format json` prints: money as numbers (it was strings)
    listed = CliRunner().invoke(
        app,
        ["ledger", "--ledger", recorded.location, "--run", recorded.demo, "--rulebook", "cftc",
         "--format", "json"],
    )  # fmt: skip
    assert listed.exit_code == 0, listed.output
    assert json.loads(body) == json.loads(listed.stdout)
    fox = next(r for r in json.loads(body) if r["margin_set_id"] == "ms:A08_FOX_FUT")
    assert fox["call"] == 78600.0 and fox["requirement"] == 210000.0


def test_a_ledger_recorded_before_the_console_still_serves(tmp_path: Path) -> None:
    old = tmp_path / "old.db"  # trace schema 1.0, none of the console's indexes
    shutil.copy(Path(__file__).parents[1] / "data" / "audit" / "ledger_1_0_demo.db", old)
    with TestClient(create_app(str(old)), base_url=LOOPBACK) as client:
        runs = _csv(client.get("/runs.csv").text)
        assert runs and runs[0]["decisions"] == "28"  # the rulebooks of its day
        listing = client.get(f"/decisions?run={runs[0]['run']}&status=call").text
        first = re.search(r'href="(/runs/[^"]+/decisions/[^"]+)"', listing)
        assert first is not None
        assert client.get(first[1]).status_code == 200


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/decisions?format=xml", "format: html or csv or json, not &#39;xml&#39;"),
        ("/runs?format=json", "format: html or csv, not &#39;json&#39;"),
    ],
)
def test_a_format_a_page_does_not_offer_is_a_bad_request(
    client: TestClient, path: str, said: str
) -> None:
    answer = client.get(path)  # it was the HTML page, as if no format had been asked for
    assert answer.status_code == 400
    assert said in answer.text


def test_a_verify_posted_while_one_runs_is_that_one_and_old_jobs_are_forgotten(
    recorded: Recorded,
) -> None:
    # each POST started a thread walking the whole ledger, and every job was kept for ever
    from marginlex.console.verify_jobs import KEPT_JOBS, VerifyJobs  # noqa: PLC0415

    ledger = Ledger.open(recorded.location, create=False)
    try:
        jobs = VerifyJobs()
        first = jobs.start(ledger, replay=False)
        assert jobs.start(ledger, replay=False) is first or not first.running
        for _ in range(KEPT_JOBS + 5):
            while any(j.running for j in jobs.jobs.values()):
                time.sleep(0.01)
            jobs.start(ledger, replay=False)
        while any(j.running for j in jobs.jobs.values()):
            time.sleep(0.01)
        assert len(jobs.jobs) <= KEPT_JOBS
        assert all(j.report is not None and j.report.ok for j in jobs.jobs.values())
    finally:
        ledger.close()


def test_a_run_page_says_when_the_last_verify_found_its_summary_edited(
    recorded: Recorded, tmp_path: Path
) -> None:
    """Totals edited in run_summaries showed on the run page without a word, even after a
    verify from the console had named the edit."""
    copy = Path(shutil.copyfile(recorded.location, tmp_path / "ledger.db"))
    with sqlite3.connect(copy) as conn:
        (body,) = conn.execute(
            "SELECT body FROM run_summaries WHERE run_id = ?", (recorded.demo,)
        ).fetchone()
        edited = body.replace('"call_total":"131300.00"', '"call_total":"1.00"', 1)
        assert edited != body
        conn.execute("UPDATE run_summaries SET body = ? WHERE run_id = ?", (edited, recorded.demo))
    with TestClient(create_app(str(copy)), base_url=LOOPBACK) as bench:
        before = bench.get(f"/runs/{recorded.demo}").text
        assert "No verify since the console started" in before
        job = bench.post("/verify", data={"replay": "false"}, follow_redirects=False)
        for _ in range(200):
            if 'http-equiv="refresh"' not in bench.get(job.headers["location"]).text:
                break
            time.sleep(0.1)
        after = bench.get(f"/runs/{recorded.demo}").text
    assert '<p class="alarm">NOT VERIFIED' in after
    assert "Figures on this page may not be the recorded ones" in after
