"""The compliance officer's workbench: rulebooks rendered as documents, the language server.

Takes the one rulebook model of :mod:`marginlex.dsl` (no second parser, no second checker) and
hands on readable pages (``marginlex render``), a Pygments lexer and an LSP server
(``marginlex lsp``). It must not be imported by ``dsl``, ``engine`` or ``audit``.
"""
