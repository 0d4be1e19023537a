"""``marginlex lsp``: the language server, for any editor that speaks LSP."""

from __future__ import annotations

import typer

from marginlex.cli.help_text import examples


def lsp(
    stdio: bool = typer.Option(
        True, "--stdio", help="Talk over stdin and stdout (the only transport; editors pass it)."
    ),
) -> None:
    """Run the language server over stdio: diagnostics as you type (the same as `check`),
    quick fixes, hover, go to definition across `extends`, references, outline, completion
    and formatting (the same as `fmt`).

    Editors start it themselves; see "Set up your editor" in the tutorial.
    """
    from marginlex.workbench.lsp.server import serve  # noqa: PLC0415

    del stdio  # stdio is the transport whatever is passed
    serve()


def register(app: typer.Typer) -> None:
    """Add ``lsp`` to the app."""
    app.command(epilog=examples("marginlex lsp --stdio"))(lsp)
