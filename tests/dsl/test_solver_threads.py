"""Checks in several threads at once (two workbench requests served together): z3's default
context is not thread-safe, and two analyses at once crashed the process in libz3."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from marginlex.dsl.check.runner import check_text


def _text(i: int) -> str:
    """A rulebook whose two scopes overlap (a solver finding, MLX600) by a bound of its own,
    so that no two threads ask the same question."""
    return (
        f'rulebook r{i} "thread {i}"\n  cites "test"\n'
        f'scope a cites "x" decides account where account.equity > {i} USD\n'
        f'scope b cites "x" decides account where account.equity < {i + 1000} USD\n'
    )


def _codes(i: int) -> list[str]:
    return [d.code.value for d in check_text(_text(i))]


def test_solver_checks_in_threads_agree_with_one_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MARGINLEX_CACHE_DIR", str(tmp_path))  # every question proved afresh
    alone = {i: _codes(i) for i in range(16, 20)}
    assert all(codes == ["MLX600"] for codes in alone.values())
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = dict(zip(range(32), pool.map(_codes, range(32)), strict=True))
    assert all(codes == ["MLX600"] for codes in together.values()), together
