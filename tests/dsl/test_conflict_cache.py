"""The conflict pass's answers are kept between processes (issue 16, part 3).

A kept answer is the diagnostics the solver gives, exactly; a different file, a damaged
answer or a cache turned off is proved again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from marginlex.dsl.cache import CACHE_ENV
from marginlex.dsl.check.conflict_cache import answer_key, remembered
from marginlex.dsl.check.conflict_pass import conflict_diagnostics
from marginlex.dsl.diagnostics import Diagnostic
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.parser import parse
from marginlex.dsl.resolve import ResolvedRulebook, resolve

OVERLAP = """rulebook r "R"
scope a cites "x" decides account where account.regime = SEC
scope b cites "x" decides account where account.kind = margin"""


class Counting:
    """The solver's pass, counting how often it was asked."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, book: m.Rulebook, resolved: ResolvedRulebook) -> list[Diagnostic]:
        self.calls += 1
        return conflict_diagnostics(book, resolved)


def _question(text: str = OVERLAP) -> tuple[m.Rulebook, ResolvedRulebook]:
    book = parse(text, "r.mlx")
    return book, resolve(book, lambda _: None)[0]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    return tmp_path


def test_a_kept_answer_is_the_solvers_answer(cache: Path) -> None:
    prove = Counting()
    first = remembered(*_question(), prove)
    again = remembered(*_question(), prove)
    assert prove.calls == 1
    assert again == first == conflict_diagnostics(*_question())
    assert [(d.code.value, d.span.line) for d in again] == [("MLX600", 3)]
    assert len(list(cache.glob("conflicts-*.json"))) == 1


def test_a_changed_file_is_proved_again(cache: Path) -> None:
    prove = Counting()
    remembered(*_question(), prove)
    moved = OVERLAP.replace("scope b", "\nscope b")  # the same rules, one line lower
    found = remembered(*_question(moved), prove)
    assert prove.calls == 2
    assert [(d.code.value, d.span.line) for d in found] == [("MLX600", 4)]
    assert answer_key(*_question(moved)) != answer_key(*_question())


def test_a_damaged_answer_is_proved_again(cache: Path) -> None:
    prove = Counting()
    first = remembered(*_question(), prove)
    next(cache.glob("conflicts-*.json")).write_text('[{"code": "MLX600"}]')
    assert remembered(*_question(), prove) == first
    assert prove.calls == 2


def test_without_a_cache_every_check_proves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, "")
    prove = Counting()
    remembered(*_question(), prove)
    remembered(*_question(), prove)
    assert prove.calls == 2
