"""``check``'s whole answers are kept between processes (issue 16, part 3).

A kept answer is exactly what checking the file gives, for every valid and invalid file of
the test data and every shipped rulebook; a changed file, a changed or new sibling, a
damaged answer or a cache turned off is checked again.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from marginlex.dsl.cache import CACHE_ENV
from marginlex.dsl.check import runner
from marginlex.dsl.check.runner import FileReport, check_paths
from marginlex.dsl.claims import shipped_dir

DATA = Path(__file__).parents[1] / "data" / "dsl"
FOLDERS = [DATA / "valid", DATA / "invalid", shipped_dir()]
SEC = 'rulebook mine "Mine"\n  cites "t"\n  extends sec\n'


class Counting:
    """``runner._check_file``, counting the files it really checked."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self._check = runner._check_file
        monkeypatch.setattr(runner, "_check_file", self)

    def __call__(self, *args: object) -> FileReport:
        self.calls += 1
        return self._check(*args)  # type: ignore[arg-type]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


def _found(reports: list[FileReport]) -> list[tuple[str, str, tuple[object, ...]]]:
    return [(r.path, r.source, r.diagnostics) for r in reports]


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_a_kept_answer_is_the_checked_answer(
    folder: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = Counting(monkeypatch)
    first = check_paths([str(folder)])
    files = checked.calls
    again = check_paths([str(folder)])
    assert files == len(first) >= 3
    assert checked.calls == files  # every file answered from the cache the second time
    assert _found(again) == _found(first)
    assert any(r.diagnostics for r in first) == (folder.name == "invalid")
    assert len(list(cache.glob("check-*.json"))) == files


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "books"
    folder.mkdir()
    (folder / "mine.mlx").write_text(SEC)
    return folder


def test_a_changed_file_or_sibling_is_checked_again(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path)
    mine = str(folder / "mine.mlx")
    checked = Counting(monkeypatch)
    assert check_paths([mine])[0].diagnostics == ()
    (folder / "mine.mlx").write_text(SEC + "  parameter p = 5 USDD\n")
    assert [d.code.value for d in check_paths([mine])[0].diagnostics] == ["MLX100"]
    (folder / "mine.mlx").write_text(SEC)
    (folder / "other.mlx").write_text('rulebook mine "Other"\n  cites "t"\n')
    clash = check_paths([mine])[0].diagnostics  # a sibling now claims the same id
    assert [d.code.value for d in clash] == ["MLX204"]
    assert checked.calls == 3
    (folder / "other.mlx").unlink()
    assert check_paths([mine])[0].diagnostics == ()  # the first answer again, kept
    assert checked.calls == 3


def test_the_path_as_given_and_the_working_folder_are_part_of_the_key(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path)
    (folder / "mine.mlx").write_text(SEC + "  parameter p = 5 USDD\n")
    checked = Counting(monkeypatch)
    monkeypatch.chdir(tmp_path)
    near = check_paths(["books/mine.mlx"])[0].diagnostics
    far = check_paths([str(folder / "mine.mlx")])[0].diagnostics
    assert (near[0].span.file, far[0].span.file) == ("books/mine.mlx", str(folder / "mine.mlx"))
    monkeypatch.chdir(folder)
    assert check_paths(["mine.mlx"])[0].diagnostics[0].span.file == "mine.mlx"
    assert checked.calls == 3


def test_a_damaged_answer_verbose_or_no_cache_is_checked(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = str(_folder(tmp_path) / "mine.mlx")
    checked = Counting(monkeypatch)
    first = check_paths([mine])
    next(cache.glob("check-*.json")).write_text('[{"code": "MLX206"}]')
    assert _found(check_paths([mine])) == _found(first)
    assert checked.calls == 2
    assert [s.id for s in check_paths([mine], verbose=True)[0].sources] == ["sec", "mine"]
    assert checked.calls == 3
    monkeypatch.setenv(CACHE_ENV, "")
    shutil.rmtree(cache)
    check_paths([mine])
    check_paths([mine])
    assert checked.calls == 5
    assert not cache.exists()
