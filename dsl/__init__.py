"""marginlex.dsl: the rulebook language (grammar, parser, model, checks, formatter).

Only this package imports lark, and z3 (:mod:`.smt`, loaded only when a rulebook has a
condition to analyse); everything downstream sees typed model nodes.

Stages, one function each:

- :func:`parse` text -> :class:`~marginlex.dsl.model.rulebook.Rulebook` (syntax tree built
  into the model)
- :func:`resolve` Rulebook -> :class:`ResolvedRulebook` (``extends``/``override``/``remove``)
- :func:`check_text` / :func:`check_paths` -> diagnostics
- :func:`format_text` -> canonical text
- :func:`load_rulebook` path or id -> a resolved, checked rulebook (raises on errors)
"""

from marginlex.dsl.check.passes import check_resolved
from marginlex.dsl.check.runner import check_paths, check_text
from marginlex.dsl.diagnostics import Code, Diagnostic, RulebookError, Severity
from marginlex.dsl.format.formatter import format_rulebook, format_text
from marginlex.dsl.loader import Library, load_file, load_rulebook, shipped_dir
from marginlex.dsl.parser import parse
from marginlex.dsl.resolve import ResolvedRulebook, resolve

__all__ = [
    "Code",
    "Diagnostic",
    "Library",
    "ResolvedRulebook",
    "RulebookError",
    "Severity",
    "check_paths",
    "check_resolved",
    "check_text",
    "format_rulebook",
    "format_text",
    "load_file",
    "load_rulebook",
    "parse",
    "resolve",
    "shipped_dir",
]
