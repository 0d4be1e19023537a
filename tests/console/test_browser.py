"""The auditor's walk through the console in a real Chromium (Playwright).

runs → a run → decisions filtered to those with a call → one decision → a folded line opened
→ a rule's citation followed to the rulebook page → the account's history → the difference
between the account's decisions in two runs whose book's prices moved.

Chromium is Debian's (``/usr/bin/chromium``, or ``$MARGINLEX_CHROMIUM``); without it the test
is skipped, except when ``$CI`` is set: there a missing browser fails, so that the browser
tests cannot silently stop running. Screenshots go to ``test-artifacts/console/`` and, with
``MARGINLEX_REGEN_GOLDEN=1``, into ``docs/img/`` for the auditor's guide.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from console_books import Recorded

from marginlex.console.app import create_app

ROOT = Path(__file__).parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
DOCS_IMG = ROOT / "docs" / "img"
CHROMIUM = os.environ.get("MARGINLEX_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _browser_or_skip() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    message = f"no Chromium at {CHROMIUM}: apt-get install -y --no-install-recommends chromium"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set: a missing browser is a failure)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def served(recorded: Recorded) -> Iterator[str]:
    """The console over the session's ledger, served by uvicorn on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(recorded.location), host="127.0.0.1", port=port)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"console-{name}.png"
    page.screenshot(path=str(target), full_page=False)
    if os.environ.get("MARGINLEX_REGEN_GOLDEN"):
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copy(target, DOCS_IMG / target.name)


def _loaded(page: Any, selector: str) -> None:
    """Wait until the image has been drawn (an SVG that failed would have no width)."""
    page.wait_for_function(
        "s => { const i = document.querySelector(s); return i && i.complete && i.naturalWidth }",
        arg=selector,
    )


def test_auditor_walk(served: str, recorded: Recorded) -> None:
    executable = _browser_or_skip()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        try:
            _walk(page, served, recorded, sync_api.expect)
        finally:
            browser.close()
        assert errors == []  # no CSP violation, no failed asset


def _walk(page: Any, base: str, recorded: Recorded, expect: Any) -> None:
    p = page
    p.goto(f"{base}/runs")
    expect(p.locator("h1")).to_have_text("Runs")
    _shot(p, "runs")
    p.click(f"a[href='/runs/{recorded.moved}']")
    expect(p.locator("h1")).to_contain_text(recorded.moved)
    _loaded(p, "img[alt^='Calls']")
    _shot(p, "run")
    p.click("a:text('all decisions')")
    p.select_option("select[name=status]", "call")
    p.fill("input[name=call_above]", "60000")  # FOX 78,600 (cftc, harmonized); not GOLF 52,700
    p.select_option("select[name=sort]", "-call")
    p.click("form.filters button[type=submit]")
    rows = p.locator("#table-decisions tbody tr")
    expect(rows).to_have_count(2)
    assert "status=call" in p.url and "call_above=60000" in p.url
    _shot(p, "decisions")
    rows.first.locator("a", has_text="ms:A08_FOX_FUT").click()
    expect(p.locator("h1")).to_contain_text("CALL")
    closed = p.locator("ul.tree details:not([open]) > summary", has_text="Class group")
    label = closed.first.locator("span.text").inner_text()
    closed.first.click()
    group = p.locator("ul.tree details", has=p.locator("> summary span.text", has_text=label))
    expect(group.first).to_have_attribute("open", "")
    expect(group.first.locator("li").first).to_be_visible()
    _shot(p, "decision")
    rule = group.first.locator("> summary a.rule")
    rule_id = rule.inner_text()
    rule.click()
    expect(p.locator(f"#rule-{rule_id}")).to_be_in_viewport()
    assert p.url.endswith(f"#rule-{rule_id}")
    _shot(p, "rulebook")
    p.go_back()
    p.click("a.account")
    expect(p.locator("h1")).to_contain_text("A08_FOX_FUT")
    _loaded(p, "div.plot img")
    _shot(p, "history")
    options = p.locator("select[name=a] option")
    texts = options.all_inner_texts()
    before = next(i for i, t in enumerate(texts) if " cftc " in f"{t} ")
    p.select_option("select[name=a]", index=before)
    after = [i for i, t in enumerate(texts) if " cftc " in f"{t} "][1]
    p.select_option("select[name=b]", index=after)
    p.click("form.compare button")
    moved = p.locator("#table-inputs")
    expect(moved).to_contain_text("ES_2609")
    expect(moved).to_contain_text("6300")
    expect(p.locator("#table-moved")).to_contain_text("call")
    p.locator("#difference").scroll_into_view_if_needed()
    _shot(p, "difference")
