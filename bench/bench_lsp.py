"""Time from a ``didChange`` to its ``publishDiagnostics`` in ``marginlex lsp`` (target:
under 150 ms on a 200-line rulebook).

Run: ``uv run --no-sync python bench/bench_lsp.py [CHANGES]``. Starts the server over pipes
with pygls's client, opens a 200-line rulebook (the SEC rulebook's statements under another
id, and parameters to make up the lines), then sends CHANGES whole-text changes, each a new
text (a figure changed) that alternately has a typo and not. Prints the median and p95 of
the time to the first diagnostics (every pass but the SMT solver's) and to
``marginlex/checked`` (every pass, what ``marginlex check`` says), and the server's CPU time
per change (the machine may be shared: CPU time is what the server itself spent).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

from marginlex.dsl import shipped_dir

LINES = 200


def rulebook(lines: int = LINES) -> str:
    """The SEC rulebook under the id ``bench_sec``, padded with parameters to ``lines``."""
    text = (shipped_dir() / "sec.mlx").read_text("utf-8")
    text = text.replace("rulebook sec ", "rulebook bench_sec ", 1)
    extra = []
    while len((text + "".join(extra)).splitlines()) < lines:
        n = len(extra)
        extra.append(f'\nparameter bench_{n} = {n + 1} USD\n  cites "bench"\n')
    return text + "".join(extra)


async def main(changes: int) -> None:
    folder = Path(tempfile.mkdtemp())
    path = folder / "bench_sec.mlx"
    good = rulebook()
    path.write_text(good, "utf-8")
    uri = path.as_uri()
    client = LanguageClient("bench", "1")
    events: asyncio.Queue[lsp.PublishDiagnosticsParams | None] = asyncio.Queue()

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def _published(params: lsp.PublishDiagnosticsParams) -> None:
        events.put_nowait(params)

    @client.feature("marginlex/checked")
    def _checked(params: Any) -> None:
        events.put_nowait(None)

    await client.start_io(sys.executable, "-m", "marginlex", "lsp")
    pid = client._server.pid  # type: ignore[union-attr]  # its CPU time
    await client.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities()))
    client.initialized(lsp.InitializedParams())
    item = lsp.TextDocumentItem(uri=uri, language_id="mlx", version=1, text=good)
    start = time.perf_counter()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=item))
    first, _ = await settle(events)
    print(
        f"rulebook: {len(good.splitlines())} lines; open -> checked (cold: bases parsed, "
        f"z3 loaded): {1000 * (time.perf_counter() - start):.0f} ms"
    )
    quick, full = [], []
    cpu_before = cpu_seconds(pid)
    for version in range(2, changes + 2):
        text = good.replace("bench_0 = 1 USD", f"bench_0 = {version} USD")
        typo = version % 2 == 0
        if typo:
            text = text.replace("account.equity >=", "account.eqity >=", 1)
        doc = lsp.VersionedTextDocumentIdentifier(uri=uri, version=version)
        change = lsp.TextDocumentContentChangeWholeDocument(text=text)
        start = time.perf_counter()
        client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(text_document=doc, content_changes=[change])
        )
        first, last = await settle(events)
        quick.append(first - start)
        full.append(last - start)
    cpu = (cpu_seconds(pid) - cpu_before) / changes
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    print(f"over {changes} changes (target: first diagnostics < 150 ms):")
    print(f"  didChange -> first publishDiagnostics: {summary(quick)}")
    print(f"  didChange -> marginlex/checked:        {summary(full)}")
    print(f"  server CPU per change: {1000 * cpu:.0f} ms")


async def settle(
    events: asyncio.Queue[lsp.PublishDiagnosticsParams | None],
) -> tuple[float, float]:
    """The times of the first diagnostics and of ``marginlex/checked``."""
    first = None
    while await events.get() is not None:
        first = first or time.perf_counter()
    return first or time.perf_counter(), time.perf_counter()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(seconds: list[float]) -> str:
    ms = sorted(1000 * t for t in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"median {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms"


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 40))
