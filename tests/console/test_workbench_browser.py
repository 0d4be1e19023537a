"""The compliance officer's walk through the workbench in a real Chromium (Playwright).

Open the workbench on a new variant of ``sec`` → write an override with a typo → the
diagnostic appears beside the text (checked as typed, by ``workbench.js``) → fix it → the
text is clean → preview on the demo book: A12_JULIET_PM moves by the raised money-market
haircut → "Save as" → ``marginlex check`` finds the saved file clean. Skipped without
Chromium, as ``test_browser.py`` is (a failure when ``$CI`` is set).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from console_books import Recorded
from test_browser import ARGS, _browser_or_skip, _shot
from test_workbench import TYPO, VARIANT
from typer.testing import CliRunner

from marginlex.cli import app as cli_app
from marginlex.console.app import create_app


@pytest.fixture
def served(recorded: Recorded, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The console, with a rulebook folder to save into, on a free loopback port."""
    folder = tmp_path / "rulebooks"
    folder.mkdir()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(recorded.location, rulebooks=folder)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", folder
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_officer_previews_and_saves_a_variant(served: tuple[str, Path]) -> None:
    executable = _browser_or_skip()
    sync_api = pytest.importorskip("playwright.sync_api")
    base, folder = served
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        # Each check of the typed text (z3 included) and the preview run on the server's
        # thread in this process, beside another pytest worker: under that load a check
        # once took longer than Playwright's default 5 s. Waiting longer is not slower
        # when the page is quick (each expectation returns as soon as it holds).
        sync_api.expect.set_options(timeout=30_000)
        try:
            _walk(page, base, sync_api.expect)
        finally:
            browser.close()
        assert errors == []  # no CSP violation, no failed asset
    saved = folder / "mmf_ten.mlx"
    result = CliRunner().invoke(cli_app, ["check", str(saved)])
    assert result.exit_code == 0, result.output
    assert "1 rulebook file(s) checked: clean" in result.output


def _walk(p: Any, base: str, expect: Any) -> None:
    p.goto(f"{base}/runs")
    p.click("nav.top a[href='/workbench']")
    expect(p.locator("h1")).to_have_text("Workbench: preview a change")
    text = p.locator("#text")
    assert "  extends sec\n" in text.input_value()
    text.fill(TYPO)  # the override, with `assett` for `asset`
    diagnostics = p.locator("#diagnostics li")
    expect(diagnostics).to_have_count(1)
    expect(diagnostics.first).to_contain_text("line 9:9 MLX200 collateral has no field `assett`")
    expect(diagnostics.first).to_contain_text(" hint: did you mean `asset`?")
    expect(p.locator("#check-status")).to_have_attribute("aria-live", "polite")
    _shot(p, "workbench-diagnostic")
    selected = (
        "() => document.getSelection().toString() || "
        "document.getElementById('text').value.substring("
        "document.getElementById('text').selectionStart, "
        "document.getElementById('text').selectionEnd)"
    )
    diagnostics.first.click()  # selects the line in the text
    assert p.evaluate(selected).startswith("  where")
    p.evaluate("() => document.getElementById('text').setSelectionRange(0, 0)")
    diagnostics.first.focus()  # and from the keyboard: the item takes focus, Enter selects
    p.keyboard.press("Enter")
    assert p.evaluate(selected).startswith("  where")
    text.fill(VARIANT)  # fixed; the override raises the money-market haircut to 10%
    expect(p.locator("#check-status")).to_have_text("clean")
    expect(diagnostics).to_have_count(0)
    p.click("#preview")
    expect(p.locator("#report")).to_be_visible()
    movers = p.locator("#table-movers tbody tr")
    expect(movers).to_have_count(1)
    expect(movers.first).to_contain_text("A12_JULIET_PM")
    expect(movers.first).to_contain_text("-16000.00")
    expect(p.locator("#table-attribution")).to_contain_text("sec_other_assets")
    p.locator("#report").scroll_into_view_if_needed()
    _shot(p, "workbench-preview")
    p.fill("input[name=name]", "mmf_ten")
    p.click("#save")
    expect(p.locator("#saved")).to_contain_text("mmf_ten.mlx")
