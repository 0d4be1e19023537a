"""The VS Code extension (``editors/vscode/``): valid JSON, a TextMate grammar whose words
cover the language's, and a client that starts the command the CLI has."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from marginlex.cli import GROUPS
from marginlex.dsl import shipped_dir
from marginlex.dsl.parser import keywords, unit_words

EXTENSION = Path(__file__).parents[2] / "editors" / "vscode"
GRAMMAR = EXTENSION / "syntaxes" / "mlx.tmLanguage.json"


def _json(name: str) -> Any:
    return json.loads((EXTENSION / name).read_text("utf-8"))


def _patterns(grammar: dict[str, Any]) -> list[dict[str, Any]]:
    """Every pattern of the grammar's repository, with the top-level order."""
    order = [p["include"].removeprefix("#") for p in grammar["patterns"]]
    return [grammar["repository"][name] for name in order]


def _scope(text: str, grammar: dict[str, Any]) -> str | None:
    """The scope the first top-level pattern that matches the whole of ``text`` gives it (an
    approximation of the TextMate engine, enough for single words)."""
    for p in _patterns(grammar):
        if "match" in p and re.fullmatch(p["match"], text):
            captures = p.get("captures", {})
            return str(p.get("name") or captures.get("1", {}).get("name"))
    return None


def test_every_json_file_of_the_extension_parses() -> None:
    for path in sorted(EXTENSION.rglob("*.json")):
        json.loads(path.read_text("utf-8"))  # raises on a bad file, naming it


def test_every_regex_of_the_grammar_compiles() -> None:
    grammar = _json("syntaxes/mlx.tmLanguage.json")
    for name, p in grammar["repository"].items():
        for key in ("match", "begin", "end"):
            if key in p:
                assert re.compile(p[key]).pattern == p[key], name


@pytest.mark.parametrize("word", sorted(keywords()))
def test_every_word_of_the_language_is_highlighted_as_a_word_of_it(word: str) -> None:
    """The grammar's keywords (read from ``grammar.lark``) are each given a language scope,
    never the plain-name scope: a new keyword in the grammar fails here until it is added."""
    scope = _scope(word, _json("syntaxes/mlx.tmLanguage.json"))
    assert scope is not None and scope != "variable.other.name.mlx", (word, scope)


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        ("# a comment", "comment.line.number-sign.mlx"),
        ("2026-01-01", "constant.numeric.date.mlx"),
        ("100,000 USD", "constant.numeric.mlx"),
        ("MLX603", "constant.other.diagnostic-code.mlx"),
        ("haircut treasuries", "storage.type.statement.mlx"),
        ("account.equity", "variable.language.subject.mlx"),
        ("pm_min_equity", "variable.other.name.mlx"),
        (">=", "keyword.operator.comparison.mlx"),
    ],
)
def test_sample_tokens_get_their_scope(text: str, scope: str) -> None:
    assert _scope(text, _json("syntaxes/mlx.tmLanguage.json")) == scope


def test_units_are_scoped_after_a_number() -> None:
    grammar = _json("syntaxes/mlx.tmLanguage.json")
    rx = re.compile(grammar["repository"]["quantity"]["match"])
    for unit in unit_words():
        found = rx.fullmatch(f"15 {unit}") or rx.fullmatch(f"15{unit}")
        assert found is not None and found.group(2) == unit, unit


def test_every_comment_and_string_of_the_shipped_rulebooks_is_matched() -> None:
    grammar = _json("syntaxes/mlx.tmLanguage.json")
    comment = re.compile(grammar["repository"]["comment"]["match"])
    for path in sorted(shipped_dir().rglob("*.mlx")):
        for line in path.read_text("utf-8").splitlines():
            if line.startswith("#"):
                assert comment.fullmatch(line), (path.name, line)


def test_package_wires_the_language_grammar_and_the_server_command() -> None:
    package = _json("package.json")
    (language,) = package["contributes"]["languages"]
    (grammar,) = package["contributes"]["grammars"]
    assert language["id"] == grammar["language"] == "mlx"
    assert language["extensions"] == [".mlx"]
    assert (EXTENSION / language["configuration"]).is_file()
    assert (EXTENSION / grammar["path"]).resolve() == GRAMMAR.resolve()
    assert _json("syntaxes/mlx.tmLanguage.json")["scopeName"] == grammar["scopeName"]
    assert (EXTENSION / package["main"]).is_file()
    settings = package["contributes"]["configuration"]["properties"]
    assert settings["marginlex.server.command"]["default"] == "marginlex"
    (command,) = settings["marginlex.server.args"]["default"]
    assert any(command in commands for commands in GROUPS.values())
    assert "vscode-languageclient" in package["dependencies"]
    client = (EXTENSION / "extension.js").read_text("utf-8")
    assert re.search(r'config\.get\("server\.command"', client)
    assert "vscode-languageclient/node" in client
    assert (EXTENSION / "README.md").is_file()
