"""The pygls server: one handler per request, each a few lines over the modules beside it.

Every open document is analysed on open and on each change (:func:`.analysis.analyse`), and
its diagnostics published; the other requests read the last analysis.
"""

from __future__ import annotations

import asyncio

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from marginlex.dsl import RulebookError, format_text
from marginlex.engine.version import ENGINE_VERSION
from marginlex.workbench.lsp.analysis import Analysis, Libraries, analyse, complete
from marginlex.workbench.lsp.complete import completions
from marginlex.workbench.lsp.fixes import fixes_for
from marginlex.workbench.lsp.hover import hover_text
from marginlex.workbench.lsp.navigate import definition, find_references, outline
from marginlex.workbench.lsp.positions import from_position, to_diagnostic, to_range
from marginlex.workbench.lsp.target import Target, target_at

CHECKED = "marginlex/checked"
"""Sent after the last diagnostics of a document version: ``{"uri": ..., "version": ...}``."""


class RulebookServer(LanguageServer):
    """A language server holding the analysis of every open rulebook."""

    def __init__(self) -> None:
        super().__init__(
            "marginlex", ENGINE_VERSION, text_document_sync_kind=lsp.TextDocumentSyncKind.Full
        )
        self.analyses: dict[str, Analysis] = {}
        self.libraries = Libraries()

    def publish(self, uri: str, found: Analysis, version: int | None) -> None:
        """Keep an analysis of a document and publish its diagnostics."""
        self.analyses[uri] = found
        diagnostics = [to_diagnostic(d, found.lines) for d in found.diagnostics]
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version)
        )

    async def check(self, uri: str) -> None:
        """Check a document's text in two steps: every pass but the SMT solver's, published
        at once; then, unless a newer text has come in meanwhile, every pass (what
        ``marginlex check`` says), published again. ``marginlex/checked`` tells the client
        that the checker is done with this version."""
        doc = self.workspace.get_text_document(uri)
        version, path = doc.version, to_fs_path(uri) or uri
        library = self.libraries.of(path)
        quick = analyse(_text(doc.source), path, library, self.analyses.get(uri), solver=False)
        self.publish(uri, quick, version)
        if quick.parsed:
            await asyncio.sleep(0)  # a change already waiting supersedes this text
            if self.workspace.get_text_document(uri).version != version:
                return
            self.publish(uri, complete(quick, library), version)
        self.protocol.notify(CHECKED, {"uri": uri, "version": version})

    def target(self, uri: str, pos: lsp.Position) -> tuple[Analysis, Target] | None:
        """The analysis of a document and what is at a position in it."""
        a = self.analyses.get(uri)
        if a is None:
            return None
        found = target_at(a, *from_position(a.lines, pos))
        return (a, found) if found is not None else None


def _text(source: str) -> str:
    r"""An editor's text with its line ends as ``marginlex check`` reads a file's: ``\r\n``
    and a lone ``\r`` (LSP counts both as one line end) are ``\n``, so lines and columns stay
    those the editor counts (a file of ``\r`` line ends was one comment line here, and
    "the file ends where `rulebook` was expected", where check found it clean).

    >>> _text("a\r\nb\rc\n")
    'a\nb\nc\n'
    """
    return source.replace("\r\n", "\n").replace("\r", "\n")


server = RulebookServer()


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
async def did_open(ls: RulebookServer, params: lsp.DidOpenTextDocumentParams) -> None:
    await ls.check(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
async def did_change(ls: RulebookServer, params: lsp.DidChangeTextDocumentParams) -> None:
    await ls.check(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
async def did_save(ls: RulebookServer, params: lsp.DidSaveTextDocumentParams) -> None:
    # a saved file may be a base or a sibling of other open files: read the folder again
    ls.libraries.forget(to_fs_path(params.text_document.uri) or "")
    for uri in list(ls.analyses):
        await ls.check(uri)


@server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
async def files_changed(ls: RulebookServer, params: lsp.DidChangeWatchedFilesParams) -> None:
    # a rulebook file created, changed or deleted outside the editor (git checkout, ...)
    for change in params.changes:
        ls.libraries.forget(to_fs_path(change.uri) or "")
    for uri in list(ls.analyses):
        await ls.check(uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: RulebookServer, params: lsp.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.analyses.pop(uri, None)
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
def hover(ls: RulebookServer, params: lsp.HoverParams) -> lsp.Hover | None:
    found = ls.target(params.text_document.uri, params.position)
    if found is None:
        return None
    a, target = found
    text = hover_text(a, target)
    if text is None:
        return None
    content = lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text)
    return lsp.Hover(contents=content, range=to_range(target.node.span, a.lines))


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
def goto_definition(ls: RulebookServer, params: lsp.DefinitionParams) -> list[lsp.Location]:
    found = ls.target(params.text_document.uri, params.position)
    return definition(*found) if found is not None else []


@server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
def references(ls: RulebookServer, params: lsp.ReferenceParams) -> list[lsp.Location]:
    found = ls.target(params.text_document.uri, params.position)
    if found is None:
        return []
    return find_references(*found, declaration=params.context.include_declaration)


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def document_symbols(
    ls: RulebookServer, params: lsp.DocumentSymbolParams
) -> list[lsp.DocumentSymbol]:
    a = ls.analyses.get(params.text_document.uri)
    return outline(a) if a is not None and a.parsed else []


@server.feature(
    lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[".", " ", "{"])
)
def completion(ls: RulebookServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    a = ls.analyses.get(params.text_document.uri)
    if a is None:
        return lsp.CompletionList(is_incomplete=False, items=[])
    doc = ls.workspace.get_text_document(params.text_document.uri)
    lines = _text(doc.source).split("\n")
    line, column = from_position(lines, params.position)
    before = lines[line - 1][: column - 1] if line <= len(lines) else ""
    return lsp.CompletionList(is_incomplete=False, items=completions(a, before))


@server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: RulebookServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit]:
    if params.text_document.uri not in ls.workspace.text_documents:
        # Not opened: the workspace would read the address's path from disk (an http://
        # address named a local file and failed with an internal error); nothing to edit.
        return []
    doc = ls.workspace.get_text_document(params.text_document.uri)
    try:
        text = format_text(_text(doc.source), to_fs_path(doc.uri) or doc.uri)
    except RulebookError:
        return []  # a text that does not parse is left as it is; its diagnostic says why
    if text == doc.source:
        return []
    lines = doc.source.split("\n")
    end = lsp.Position(line=len(lines), character=0)
    return [
        lsp.TextEdit(
            range=lsp.Range(start=lsp.Position(line=0, character=0), end=end), new_text=text
        )
    ]


@server.feature(
    lsp.TEXT_DOCUMENT_CODE_ACTION,
    lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]),
)
def code_actions(ls: RulebookServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    uri = params.text_document.uri
    a = ls.analyses.get(uri)
    if a is None:
        return []
    actions = []
    for d in a.diagnostics:
        shown = to_diagnostic(d, a.lines)
        if not _overlaps(shown.range, params.range):
            continue
        for fix in fixes_for(d, a.lines):
            edit = lsp.TextEdit(range=to_range(fix.span, a.lines, widen=False), new_text=fix.text)
            actions.append(
                lsp.CodeAction(
                    title=fix.title,
                    kind=lsp.CodeActionKind.QuickFix,
                    diagnostics=[shown],
                    edit=lsp.WorkspaceEdit(changes={uri: [edit]}),
                    is_preferred=fix.preferred,
                )
            )
    return actions


def _overlaps(a: lsp.Range, b: lsp.Range) -> bool:
    def key(p: lsp.Position) -> tuple[int, int]:
        return (p.line, p.character)

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def serve() -> None:
    """Run the server over stdin and stdout until the editor closes it."""
    server.start_io()
