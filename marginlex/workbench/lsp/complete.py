"""Completion, from the text before the cursor: the fields of the subject after
``account.`` (and ``owner.``, ``collateral.`` ...), the values of an enum field after
``=``/``in {``, units after a number, else parameter ids, subjects and the language's words.

Works on a half-typed line (which does not parse): the context is read from the line, the
names from the registry of fields and the last model that parsed.
"""

from __future__ import annotations

import re

from lsprotocol import types as lsp

from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.fields import FIELDS
from marginlex.dsl.parser import keywords, unit_words
from marginlex.workbench.lsp.analysis import Analysis

_SUBJECTS = "|".join(s.value for s in m.Subject)
_FIELD = re.compile(rf"(?<![\w.])({_SUBJECTS})\.(\w*)$")
_VALUE = re.compile(
    rf"(?<![\w.])({_SUBJECTS})\.(\w+)\s*(?:!?=|(?:not\s+)?in\s*\{{(?:\s*\w+\s*,)*)\s*(\w*)$"
)
_UNIT = re.compile(r"(?<![\w.,])\d[\d,]*(?:\.\d+)?\s+(\w*)$")
_WORD = re.compile(r"(\w*)$")


def completions(a: Analysis, before: str) -> list[lsp.CompletionItem]:
    """The items that may follow ``before`` (the line up to the cursor).

    >>> from marginlex.dsl import Library
    >>> from marginlex.workbench.lsp.analysis import analyse
    >>> a = analyse('rulebook r "R"', "r.mlx", Library(None))
    >>> [i.label for i in completions(a, "  require x: account.eq")][:1]
    ['equity']
    """
    if (found := _FIELD.search(before)) is not None:
        return _fields(m.Subject(found.group(1)), found.group(2))
    if (found := _VALUE.search(before)) is not None:
        return _values(m.Subject(found.group(1)), found.group(2), found.group(3))
    if (found := _UNIT.search(before)) is not None:
        return _matching(found.group(1), _units())
    prefix = _WORD.search(before)
    return _matching(prefix.group(1) if prefix else "", _names(a))


def _matching(prefix: str, items: list[lsp.CompletionItem]) -> list[lsp.CompletionItem]:
    return [i for i in items if i.label.startswith(prefix)]


def _fields(subject: m.Subject, prefix: str) -> list[lsp.CompletionItem]:
    return _matching(
        prefix,
        [
            lsp.CompletionItem(
                label=name,
                kind=lsp.CompletionItemKind.Field,
                detail=f"{subject.value}.{name}: {ty.kind.value}",
                documentation=ty.doc or None,
            )
            for name, ty in FIELDS[subject].items()
        ],
    )


def _values(subject: m.Subject, field: str, prefix: str) -> list[lsp.CompletionItem]:
    ty = FIELDS[subject].get(field)
    values = ty.values if ty is not None else ()
    items = [
        lsp.CompletionItem(
            label=v, kind=lsp.CompletionItemKind.EnumMember, detail=f"{subject.value}.{field}"
        )
        for v in values
    ]
    return _matching(prefix, items)


def _units() -> list[lsp.CompletionItem]:
    return [
        lsp.CompletionItem(label=u, kind=lsp.CompletionItemKind.Unit, detail="unit")
        for u in unit_words()
    ]


def _names(a: Analysis) -> list[lsp.CompletionItem]:
    params = a.resolved.parameters if a.resolved is not None else {}
    items = [
        lsp.CompletionItem(
            label=p.id,
            kind=lsp.CompletionItemKind.Constant,
            detail=f"parameter = {p.value.text} {p.value.unit.value}".rstrip(),
            documentation=p.citation.text if p.citation is not None else None,
        )
        for p in params.values()
    ]
    items += [
        lsp.CompletionItem(label=s.value, kind=lsp.CompletionItemKind.Variable, detail="subject")
        for s in m.Subject
    ]
    taken = {i.label for i in items}
    items += [
        lsp.CompletionItem(label=k, kind=lsp.CompletionItemKind.Keyword)
        for k in sorted(keywords())
        if k not in taken
    ]
    return items
