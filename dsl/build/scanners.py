"""The contextual lexer's scanners, each terminal's expression compiled once per process.

lark's contextual lexer keeps a lexer for each set of terminals that a parser state
accepts (87 of them meet a parse of ``sec.mlx``). On first use each compiles one
alternation of its terminals and one of the keywords that its ``NAME`` may turn out to be;
Python's ``re`` compiles in Python, so the first parse of a process compiled the same
terminals dozens of times (about 45 ms of CPU, most of a first parse). Here every
terminal's expression is compiled once and shared by all states: a state's scanner tries
its terminals one by one in lark's order, which is what lark's alternation does (the first
alternative that matches at the position wins), so every token is the same
(``tests/dsl/test_scanners.py`` parses every rulebook both ways).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

from lark import Lark, Token
from lark.lexer import BasicLexer, ContextualLexer, PatternStr, TerminalDef

Patterns = dict[tuple[str, int], re.Pattern[str]]


class SharedScanner:
    """What a lark ``Scanner`` answers, from patterns compiled once for every state."""

    def __init__(self, terminals: Sequence[TerminalDef], flags: int, patterns: Patterns) -> None:
        self.allowed_types = {t.name for t in terminals}
        self.order: list[tuple[str, re.Pattern[str]]] = []
        for terminal in terminals:
            regexp = terminal.pattern.to_regexp()
            key = (regexp, flags)
            if key not in patterns:
                patterns[key] = re.compile(regexp, flags)
            self.order.append((terminal.name, patterns[key]))

    def match(self, text: Any, pos: int) -> tuple[str, str] | None:
        """The first terminal matching at ``pos`` of a lark ``TextSlice``: (value, name)."""
        for name, pattern in self.order:
            found = pattern.match(text.text, pos, text.end)
            if found:
                return found.group(0), name
        return None

    def fullmatch(self, text: str) -> str | None:
        """The first terminal matching all of ``text``, by name."""
        for name, pattern in self.order:
            if pattern.fullmatch(text):
                return name
        return None


class _Unless:
    """A ``NAME`` that is exactly a keyword of the state becomes that keyword (lark's
    ``UnlessCallback``)."""

    def __init__(self, scanner: SharedScanner) -> None:
        self.scanner = scanner

    def __call__(self, token: Token) -> Token:
        keyword = self.scanner.fullmatch(token.value)
        if keyword is not None:
            token.type = keyword
        return token


class _Chain:
    """lark's ``CallChain``: the keyword callback, then the user's while the kind holds."""

    def __init__(
        self, first: Callable[[Token], Token], then: Callable[[Token], Token], kind: str
    ) -> None:
        self.first, self.then, self.kind = first, then, kind

    def __call__(self, token: Token) -> Token:
        done = self.first(token)
        return self.then(token) if done.type == self.kind else done


def _unless(
    terminals: Sequence[TerminalDef], flags: int, patterns: Patterns
) -> tuple[list[TerminalDef], dict[str, Callable[[Token], Token]]]:
    """lark's ``_create_unless``: keywords that an expression terminal matches are folded
    into a callback on that terminal, with shared patterns."""
    strings = [t for t in terminals if isinstance(t.pattern, PatternStr)]
    embedded: set[str] = set()
    callback: dict[str, Callable[[Token], Token]] = {}
    for expression in (t for t in terminals if not isinstance(t.pattern, PatternStr)):
        regexp = expression.pattern.to_regexp()
        unless = []
        for word in (s for s in strings if s.priority == expression.priority):
            value = word.pattern.value
            found = re.match(regexp, value, flags)
            if found and found.group(0) == value:
                unless.append(word)
                if set(word.pattern.flags) <= set(expression.pattern.flags):
                    embedded.add(word.name)
        if unless:
            callback[expression.name] = _Unless(SharedScanner(unless, flags, patterns))
    return [t for t in terminals if t.name not in embedded], callback


def _build(lexer: BasicLexer, patterns: Patterns) -> SharedScanner:
    """lark's ``BasicLexer._build_scanner``, on shared patterns."""
    terminals, lexer.callback = _unless(lexer.terminals, lexer.g_regex_flags, patterns)  # type: ignore[arg-type]
    for kind, function in lexer.user_callbacks.items():
        if kind in lexer.callback:
            lexer.callback[kind] = _Chain(lexer.callback[kind], function, kind)
        else:
            lexer.callback[kind] = function
    return SharedScanner(terminals, lexer.g_regex_flags, patterns)


def share_patterns(parser: Lark) -> int:
    """Make every state lexer of ``parser`` build its scanner on shared patterns.

    Returns how many state lexers now do (0 when the parser's lexer is not lark's
    contextual lexer on ``re``, which is then left as it is).
    """
    lexer = getattr(parser.parser, "lexer", None)
    contextual = getattr(lexer, "lexer", lexer)
    if not isinstance(contextual, ContextualLexer):
        return 0
    lexers = {id(x): x for x in [*contextual.lexers.values(), contextual.root_lexer]}
    basic = [x for x in lexers.values() if type(x) is BasicLexer and x.re is re]
    if len(basic) != len(lexers) or any(x.use_bytes for x in basic):
        return 0
    patterns: Patterns = {}
    for state_lexer in basic:
        state_lexer._build_scanner = functools.partial(_build, state_lexer, patterns)  # type: ignore[method-assign,assignment]
        state_lexer._scanner = None
    return len(basic)
