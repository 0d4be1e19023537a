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

Each name is imported on first use (PEP 562), so that importing one light module of the
package (``marginlex.dsl.cache``, ``marginlex.dsl.diagnostics``) does not build every model
and check pass: ``marginlex --help`` needs only the cache folder.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from marginlex.dsl.check.passes import check_resolved
    from marginlex.dsl.check.runner import check_paths, check_text
    from marginlex.dsl.diagnostics import Code, Diagnostic, RulebookError, Severity
    from marginlex.dsl.format.formatter import format_rulebook, format_text
    from marginlex.dsl.loader import Library, load_file, load_rulebook, shipped_dir
    from marginlex.dsl.parser import parse
    from marginlex.dsl.resolve import ResolvedRulebook, resolve

_HOMES = {
    "check_resolved": "marginlex.dsl.check.passes",
    "check_paths": "marginlex.dsl.check.runner",
    "check_text": "marginlex.dsl.check.runner",
    "Code": "marginlex.dsl.diagnostics",
    "Diagnostic": "marginlex.dsl.diagnostics",
    "RulebookError": "marginlex.dsl.diagnostics",
    "Severity": "marginlex.dsl.diagnostics",
    "format_rulebook": "marginlex.dsl.format.formatter",
    "format_text": "marginlex.dsl.format.formatter",
    "Library": "marginlex.dsl.loader",
    "load_file": "marginlex.dsl.loader",
    "load_rulebook": "marginlex.dsl.loader",
    "shipped_dir": "marginlex.dsl.loader",
    "parse": "marginlex.dsl.parser",
    "ResolvedRulebook": "marginlex.dsl.resolve",
    "resolve": "marginlex.dsl.resolve",
}


class _Stages(ModuleType):
    """This package: a submodule imported later does not hide the stage of the same name.

    Importing ``marginlex.dsl.resolve`` (the subpackage) sets the package's ``resolve`` to
    the subpackage; the name is the :func:`resolve` stage, as when it was imported eagerly.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _HOMES and isinstance(value, ModuleType) and value.__name__ == _HOMES[name]:
            return
        super().__setattr__(name, value)


def __getattr__(name: str) -> Any:
    """A stage's name, imported from its module on first use.

    >>> __getattr__("parse").__module__
    'marginlex.dsl.parser'
    """
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


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

sys.modules[__name__].__class__ = _Stages
