"""A real LSP client over pipes for the server tests: pygls's client spawns
``python -m marginlex lsp`` and speaks JSON-RPC to it through its stdin and stdout."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60.0


@dataclass
class Session:
    """A started server and what it has sent, per document: diagnostics, then
    ``marginlex/checked`` when the checker is done with a version."""

    client: LanguageClient
    events: dict[str, asyncio.Queue[lsp.PublishDiagnosticsParams | None]] = field(
        default_factory=dict
    )
    versions: dict[str, int] = field(default_factory=dict)

    def queue(self, uri: str) -> asyncio.Queue[lsp.PublishDiagnosticsParams | None]:
        return self.events.setdefault(uri, asyncio.Queue())

    async def diagnostics(self, uri: str) -> list[lsp.Diagnostic]:
        """The last diagnostics published for a document before the checker said it was
        done (the server publishes a first answer without the SMT solver, then all)."""
        last: lsp.PublishDiagnosticsParams | None = None
        while True:
            event = await asyncio.wait_for(self.queue(uri).get(), TIMEOUT)
            if event is None:
                assert last is not None, "checked before any diagnostics"
                return list(last.diagnostics)
            last = event

    async def open(self, path: Path, text: str | None = None) -> list[lsp.Diagnostic]:
        """Open a file (its text on disk unless given) and return its first diagnostics."""
        uri = path.resolve().as_uri()
        self.versions[uri] = 1
        item = lsp.TextDocumentItem(
            uri=uri,
            language_id="mlx",
            version=1,
            text=path.read_text("utf-8") if text is None else text,
        )
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=item))
        return await self.diagnostics(uri)

    async def change(self, path: Path, text: str) -> list[lsp.Diagnostic]:
        """Replace a document's whole text and return the diagnostics that follow."""
        uri = path.resolve().as_uri()
        self.versions[uri] += 1
        doc = lsp.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri])
        change = lsp.TextDocumentContentChangeWholeDocument(text=text)
        self.client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(text_document=doc, content_changes=[change])
        )
        return await self.diagnostics(uri)


@asynccontextmanager
async def session(folder: Path) -> AsyncIterator[Session]:
    """Start the server, initialize it for ``folder``, and shut it down at the end."""
    client = LanguageClient("marginlex-tests", "1")
    s = Session(client)

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def _published(params: lsp.PublishDiagnosticsParams) -> None:
        s.queue(params.uri).put_nowait(params)

    @client.feature("marginlex/checked")
    def _checked(params: Any) -> None:
        s.queue(params.uri).put_nowait(None)

    await client.start_io(sys.executable, "-m", "marginlex", "lsp", cwd=ROOT)
    await asyncio.wait_for(
        client.initialize_async(
            lsp.InitializeParams(
                capabilities=lsp.ClientCapabilities(), root_uri=folder.resolve().as_uri()
            )
        ),
        TIMEOUT,
    )
    client.initialized(lsp.InitializedParams())
    try:
        yield s
    finally:
        await asyncio.wait_for(client.shutdown_async(None), TIMEOUT)
        client.exit(None)
        await client.stop()


def doc(path: Path) -> lsp.TextDocumentIdentifier:
    """The identifier of a file's document."""
    return lsp.TextDocumentIdentifier(uri=path.resolve().as_uri())


def at(line: int, character: int) -> lsp.Position:
    """A 0-based LSP position."""
    return lsp.Position(line=line, character=character)
