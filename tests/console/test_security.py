"""Security and failure: escaped text everywhere, a strict CSP, the token, read-only ledgers,
and a damaged ledger shown as a clear error page, never a traceback."""

from __future__ import annotations

import hashlib
import html
import re
import shutil
import socket
import sqlite3
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from console_books import HOSTILE, Recorded, _rewrite, copy_demo, record
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from marginlex.audit.ledger.default import default_ledger_path
from marginlex.audit.ledger.read_only import open_read_only
from marginlex.cli import app as cli
from marginlex.console.app import create_app
from marginlex.console.security import CSP, LOOPBACK, StartError, start_token
from marginlex.printable import printable

ESCAPED = "A08&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&#34;q\\x1b[31mFOX\\u202eZ"
""":data:`HOSTILE` as every page must show it: markup escaped, the escape written out."""


def _hostile_pages(client: TestClient, recorded: Recorded) -> list[str]:
    run = recorded.hostile
    listing = client.get(f"/decisions?run={run}&account={quote(HOSTILE)}").text
    decisions = re.findall(r'href="(/runs/[^"]+/decisions/[^"]+)"', listing)
    assert len(decisions) == 2  # cftc and harmonized decide the futures account
    account = f"/accounts/{quote(HOSTILE, safe='')}"
    return [
        "/runs",
        f"/runs/{run}",
        f"/decisions?run={run}&account={quote(HOSTILE)}",
        f"/decisions?account={quote(HOSTILE)}&failed=x",
        *decisions,
        decisions[0] + "?replay=1",
        account,
        f"/margin-sets/{quote('ms:' + HOSTILE, safe='')}",
        "/rulebooks",
        "/verify",
    ]


def test_hostile_names_show_as_text_on_every_page(client: TestClient, recorded: Recorded) -> None:
    shown = 0
    for url in _hostile_pages(client, recorded):
        page = client.get(url)
        assert page.status_code == 200, url
        assert HOSTILE not in page.text and "\x1b" not in page.text, url
        assert "\u202e" not in page.text, url  # a right-to-left override written out
        assert "<script" not in page.text and "onerror=" not in page.text.replace("&", ""), url
        shown += ESCAPED in page.text
        assert page.headers["content-security-policy"] == CSP
    assert shown >= 6  # the run's tables, the listings, both decisions, the history


def test_a_hostile_accounts_plot_is_well_formed_svg(client: TestClient, recorded: Recorded) -> None:
    """The history plot holds its title and legend as SVG text: an account id holding ESC
    made it an XML document no browser would draw (an empty image on the account's page)."""
    import xml.etree.ElementTree as ET  # noqa: PLC0415

    for kind, ident in (("account", HOSTILE), ("margin_set", "ms:" + HOSTILE)):
        plot = client.get(f"/plots/history.svg?{kind}={quote(ident, safe='')}")
        assert plot.status_code == 200, plot.text
        ET.fromstring(plot.content)  # well-formed
        assert "\x1b" not in plot.text and "\\x1b[31mFOX\\u202eZ" in plot.text


def test_csv_holds_the_text_as_it_is(client: TestClient, recorded: Recorded) -> None:
    body = client.get(f"/decisions.csv?run={recorded.hostile}&account={quote(HOSTILE)}").text
    assert HOSTILE.replace('"', '""') in body  # CSV quoting, not HTML escaping


def test_csp_allows_no_inline_script(client: TestClient) -> None:
    headers = client.get("/runs").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    css = client.get("/static/console.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]


def test_loopback_needs_no_token_elsewhere_one_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MARGINLEX_TOKEN", raising=False)
    assert start_token("127.0.0.1", None) is None
    with pytest.raises(StartError, match=r"refusing to serve on 0\.0\.0\.0 without a token"):
        start_token("0.0.0.0", None)
    assert start_token("0.0.0.0", "s3cret") == "s3cret"
    monkeypatch.setenv("MARGINLEX_TOKEN", "from-env")
    assert start_token("10.1.2.3", None) == "from-env"


def test_serve_refuses_a_public_address_without_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MARGINLEX_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--ledger", "x.db"])
    assert result.exit_code == 2
    assert "refusing to serve on 0.0.0.0 without a token" in result.output


def test_serve_refuses_a_ledger_it_cannot_open_before_serving(
    recorded: Recorded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistyped ledger path, a folder or a book file: `serve` said "serving on" and then
    answered every page with an error page; now it says why and exits 1, listening on
    nothing."""
    monkeypatch.delenv("MARGINLEX_TOKEN", raising=False)
    listened: list[object] = []
    monkeypatch.setattr("uvicorn.Server.run", lambda self, sockets=None: listened.append(self))
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = str(free.getsockname()[1])
    csv = tmp_path / "accounts.csv"
    csv.write_text("account_id,owner_id\nA1,P1\n" * 300, encoding="utf-8")
    for location, said in (
        (tmp_path / "ledgr.db", f"no ledger at {tmp_path / 'ledgr.db'}: record a run first"),
        (tmp_path, f"cannot open the ledger {tmp_path}: it is a folder"),
        (csv, f"cannot open the ledger {csv}: file is not a database"),
    ):
        result = CliRunner().invoke(cli, ["serve", "--ledger", str(location), "--port", port])
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(f"error: {said}"), result.stderr
        assert "serving on" not in result.output
    assert listened == []
    served = CliRunner().invoke(cli, ["serve", "--ledger", recorded.location, "--port", port])
    assert served.exit_code == 0, served.output
    assert "serving on http://localhost:" in served.stdout and len(listened) == 1


def test_token_from_query_sets_a_cookie(recorded: Recorded) -> None:
    with TestClient(create_app(recorded.location, token="s3cret"), base_url=LOOPBACK) as client:
        assert client.get("/runs").status_code == 401
        assert client.get("/runs", headers={"x-marginlex-token": "wrong"}).status_code == 401
        assert client.get("/runs", headers={"authorization": "Bearer s3cret"}).status_code == 200
        first = client.get("/runs?token=s3cret&page=1", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"] == "/runs?page=1"
        assert "httponly" in first.headers["set-cookie"].lower()
        assert client.get("/runs").status_code == 200  # the cookie now carries it
        # the address as sent (an id holding %2F stays one id), never off the site
        held = client.get("/accounts/a%2Fb%3Fc?token=s3cret", follow_redirects=False)
        assert held.headers["location"] == "/accounts/a%2Fb%3Fc"
        off_site = httpx.URL(LOOPBACK).copy_with(raw_path=b"//evil.example/x?token=s3cret")
        away = client.get(off_site, follow_redirects=False)
        assert away.headers["location"] == "/evil.example/x"


def _digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_the_console_never_writes_the_ledger(recorded: Recorded, tmp_path: Path) -> None:
    copy = tmp_path / "ledger.db"
    shutil.copy(recorded.location, copy)
    before = _digest(str(copy))
    with TestClient(create_app(str(copy)), base_url=LOOPBACK) as client:
        for url in ("/runs", f"/runs/{recorded.demo}", "/decisions", "/rulebooks", "/verify"):
            assert client.get(url).status_code == 200
    assert _digest(str(copy)) == before
    ledger = open_read_only(str(copy))
    with ledger.engine.connect() as conn, pytest.raises(Exception, match="readonly"):
        conn.exec_driver_sql("DELETE FROM decisions")
    ledger.close()


def test_a_file_that_is_no_ledger_gives_an_error_page(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with TestClient(create_app(str(junk)), base_url=LOOPBACK) as client:
        page = client.get("/runs")
    assert page.status_code == 500
    assert "The ledger cannot be read" in page.text and "Traceback" not in page.text
    assert "cannot open the ledger" in page.text


@pytest.mark.parametrize(
    "path",
    [
        "/decisions?account=%00",
        "/decisions?rule=x%00y&format=csv",
        "/accounts/A01%00",
        "/runs/r-%00/decisions/d-%00",
        "/rulebooks/%00",
    ],
)
def test_a_nul_in_the_address_is_a_bad_request(client: TestClient, path: str) -> None:
    """No id, name or filter holds a NUL; PostgreSQL refused it in the query, a 500 page
    that quoted the SQL (tests/console/test_postgres.py has it on that backend)."""
    answer = client.get(path)
    assert answer.status_code == 400
    assert answer.text == (
        "400: the address holds a NUL character (%00), which no id, name or filter holds"
    )


def test_a_database_error_page_says_what_the_database_said_not_the_query(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError  # noqa: PLC0415

    from marginlex.console import queries  # noqa: PLC0415 - the query that fails

    def fails(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("SELECT seq FROM decisions WHERE x = ?", ("p",), OSError("I/O"))

    monkeypatch.setattr(queries, "find_decisions", fails)
    page = client.get("/decisions")
    assert page.status_code == 500
    assert "OSError: I/O" in page.text and "SELECT" not in page.text


def test_a_missing_ledger_gives_an_error_page(tmp_path: Path) -> None:
    with TestClient(create_app(str(tmp_path / "none.db")), base_url=LOOPBACK) as client:
        page = client.get("/decisions")
    assert page.status_code == 500 and f"no ledger at {tmp_path / 'none.db'}" in page.text


def test_a_damaged_trace_gives_an_error_page(recorded: Recorded, tmp_path: Path) -> None:
    copy = tmp_path / "ledger.db"
    shutil.copy(recorded.location, copy)
    with sqlite3.connect(copy) as db:
        seq, run, did = db.execute(
            "SELECT seq, run_id, decision_id FROM decisions LIMIT 1"
        ).fetchone()
        db.execute("UPDATE decisions SET trace_z = ? WHERE seq = ?", (b"garbage", seq))
    with TestClient(create_app(str(copy)), base_url=LOOPBACK) as client:
        page = client.get(f"/runs/{run}/decisions/{did}")
        listing = client.get(f"/decisions?run={run}")
    assert page.status_code == 500
    assert "The ledger cannot be read" in page.text and "Traceback" not in page.text
    assert listing.status_code == 200  # the listing reads no trace


def test_default_ledger_in_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_ledger_path() == tmp_path / "marginlex" / "ledger.db"


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:8765", 200),
        ("localhost:8765", 200),
        ("[::1]:8765", 200),
        ("localhost", 200),
        # a name an attacker's DNS rebinds to 127.0.0.1: its pages would read the ledger
        ("evil.example:8765", 421),
        ("evil.example", 421),
        ("127.0.0.1.evil.example", 421),
        ("", 421),
    ],
)
def test_without_a_token_only_a_loopback_host_is_served(
    client: TestClient, host: str, status: int
) -> None:
    response = client.get("/runs", headers={"host": host})
    assert response.status_code == status
    if status == 421:
        assert "answers only to a loopback address" in response.text
        assert response.headers["x-frame-options"] == "DENY"


def test_with_a_token_any_host_is_served(recorded: Recorded) -> None:
    # behind a name (a proxy, or --host 0.0.0.0): the token, not the address, guards it
    app = create_app(recorded.location, token="s3cret")
    with TestClient(app, base_url="http://margin.example") as client:
        assert client.get("/runs").status_code == 401
        assert client.get("/runs", headers={"x-marginlex-token": "s3cret"}).status_code == 200


def test_every_link_of_a_decision_holding_a_slashed_id_is_served(tmp_path: Path) -> None:
    """Links name each id as one path segment: an account ``../../etc/passwd`` was linked as
    ``/accounts/../../etc/passwd``, which a browser resolves to ``/etc/passwd`` (a 404)."""
    book = copy_demo(tmp_path / "book")
    slashed = "../../etc/passwd?x#y"
    for name in ("accounts", "collateral", "positions", "relations"):
        _rewrite(book / f"{name}.csv", {"A08_FOX_FUT": slashed})
    location = str(tmp_path / "ledger.db")
    run = record(location, book)
    with TestClient(create_app(location), base_url=LOOPBACK) as client:
        listing = client.get(f"/decisions?run={run}&account={quote(slashed, safe='')}").text
        decisions = re.findall(r'href="(/runs/[^"]+/decisions/[^"]+)"', listing)
        assert len(decisions) == 2
        page = client.get(html.unescape(decisions[0]))
        assert page.status_code == 200
        links = {html.unescape(h) for h in re.findall(r'href="(/[^"]*)"', page.text)}
        assert f"/accounts/{quote(slashed, safe='')}" in links
        for link in sorted(links):
            if "/static/" in link or "?replay=1" in link:
                continue
            assert client.get(link).status_code == 200, link


def test_a_ledger_moved_or_replaced_while_serving_is_said(
    recorded: Recorded, tmp_path: Path
) -> None:
    """The open connection went on reading a removed file: the console said nothing."""
    copy = tmp_path / "ledger.db"
    shutil.copy(recorded.location, copy)
    with TestClient(create_app(str(copy)), base_url=LOOPBACK) as client:
        assert client.get("/runs").status_code == 200
        copy.rename(tmp_path / "moved.db")
        gone = client.get("/runs")
        assert gone.status_code == 500 and f"no ledger at {copy}" in gone.text
        copy.write_bytes(b"garbage" * 100)
        garbage = client.get("/decisions")
        assert garbage.status_code == 500
        assert f"cannot open the ledger {copy}: file is not a database" in garbage.text
        copy.unlink()
        (tmp_path / "moved.db").rename(copy)  # back: read again
        assert client.get("/runs").status_code == 200


def test_a_filter_sent_back_as_the_page_showed_it_finds_the_same_rows(
    client: TestClient, recorded: Recorded
) -> None:
    """The form shows a hostile id with its unsafe characters written out (``\\u202e``);
    submitted again, that text was searched for literally: 404 "no decision holds account"."""
    raw = client.get(f"/decisions.csv?run={recorded.hostile}&account={quote(HOSTILE)}").text
    shown = printable(HOSTILE)
    assert shown != HOSTILE
    again = client.get(f"/decisions.csv?run={recorded.hostile}&account={quote(shown)}")
    assert again.status_code == 200 and again.text == raw


def test_a_verify_form_past_its_one_field_is_refused_unread(client: TestClient) -> None:
    # POST /verify read any body whole: 300 MB raised the console's memory by 600 MB
    from marginlex.console.pages.verify import MAX_VERIFY_FORM_BYTES  # noqa: PLC0415

    answer = client.post("/verify", content=b"replay=true&" + b"x" * MAX_VERIFY_FORM_BYTES)
    assert answer.status_code == 413
    assert "the form is over 1,024 bytes: the verify form is `replay=true`" in answer.text
    assert not client.app.state.console.jobs.jobs  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site"},  # an image or a link on another site's page
        {"sec-fetch-site": "same-site"},  # another port or subdomain of the same site
        {"origin": "http://evil.example"},  # a browser without Sec-Fetch-Site
    ],
)
def test_another_site_cannot_make_the_console_replay(
    client: TestClient, recorded: Recorded, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A replay re-evaluates a rulebook on the recorded book: a GET, so a page elsewhere could
    # spend this machine's CPU with <img src=...?replay=1>. Refused as a cross-site post is,
    # before anything is read; the console's own Replay button (same-origin) still replays.
    listing = client.get(f"/decisions?run={recorded.demo}").text
    page = re.findall(r'href="(/runs/[^"]+/decisions/[^"]+)"', listing)[0]
    replays: list[str] = []
    import marginlex.console.pages.decision as decision_page  # noqa: PLC0415

    real = decision_page.replay_decision
    monkeypatch.setattr(
        decision_page, "replay_decision", lambda *a: replays.append("x") or real(*a)
    )
    refused = client.get(page + "?replay=1", headers=headers)
    assert refused.status_code == 403
    assert refused.text.startswith("403: a page of another site cannot ask this console to")
    assert replays == []
    assert client.get(page, headers=headers).status_code == 200  # reading it is no work
    own = client.get(page + "?replay=1", headers={"sec-fetch-site": "same-origin"})
    assert own.status_code == 200 and "Replay: <strong>identical</strong>" in own.text
    assert replays == ["x"]
