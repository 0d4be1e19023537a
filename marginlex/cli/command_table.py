"""The root help's command listing as a static table: the root help imports no command module.

Each command's line is the first paragraph of its help, as typer lists it. The listing is
drawn from this table instead of from the commands themselves, so that the root help needs
neither the command modules nor what they import; ``tests/cli/test_root_help.py`` checks
that the table names the real commands, in the real order, with their real first
paragraphs (a new or renamed command, or a changed docstring, fails there until the table
says the same).
"""

from __future__ import annotations

LISTING: dict[str, str] = {
    "check": "Check rulebooks: syntax, names, units, tables, citations, extends and overrides.",
    "fmt": "Rewrite rulebooks in place in canonical layout (comments kept). Idempotent.",
    "validate": (
        "Validate a book folder; list every problem as `file:row: column: what is wrong`."
    ),
    "synth": "Write a deterministic synthetic book (about 10 positions and 2 lots per account).",
    "run": "Decide every margin set of a book under one or more rulebooks.",
    "explain": "Explain one decision, top-down, with the rule and citation behind every line.",
    "verify": (
        "Re-walk the hash chain; name the first entry changed, removed or reordered (exit 1)."
    ),
    "compare": "Compare rulebooks on one book: per account and per set, with attribution.",
    "diff": "The rules and parameters that differ between two rulebooks, after `extends`.",
    "test": (
        "Run rulebook tests (*.test.toml), report rule and row coverage, and with --mutate "
        "the mutants no test catches. Exit 1 on a failure."
    ),
    "render": (
        "Render a rulebook as a readable document: header, statements under their sections "
        "with citation, evidence, dates, conditions and tables, parameters and where they "
        "are used, the rulebook tests covering each statement, and for a variant its diff "
        "against its base. Each statement has the anchor `#rule-<id>`."
    ),
    "stress": "Re-price a book under market shocks and re-decide every margin set.",
    "lsp": (
        "Run the language server over stdio: diagnostics as you type (the same as `check`), "
        "quick fixes, hover, go to definition across `extends`, references, outline, "
        "completion and formatting (the same as `fmt`)."
    ),
    "serve": (
        "Serve the auditor's console: runs, decisions, explanations, history, rulebooks, "
        "verify, and the workbench (edit a variant, check it, preview it against its base "
        "on a book)."
    ),
    "ledger": "List and filter recorded decisions as a table, CSV or JSON.",
    "keys": "Signing keys.",
}
"""Command name -> the line the root help lists it with, in the root help's order."""
