"""Which file a rulebook id names: never one picked by accident (issue 10, item 2)."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.dsl import RulebookError, check_text, format_text, load_rulebook, shipped_dir
from marginlex.dsl.provenance import source_files, text_sha256

RUNNER = CliRunner()
LOCAL_SEC = (
    'rulebook sec "Not the shipped SEC"\n  cites "t"\n{clause}'
    'parameter pm_min_equity = 1 USD\n  cites "t"\n  accept MLX215 because "figures only"\n'
    'parameter pm_offset_broad = 50%\n  cites "t"\n  accept MLX215 because "figures only"\n'
)
VARIANT = "\n".join(
    [
        'rulebook variant "V"',
        '  cites "t"',
        "  extends sec",
        "override parameter pm_offset_broad = 80%",
        '  cites "t"',
        '  accept MLX215 because "the sibling base uses no offsets"',
        "",
    ]
)
SHIPPED_SEC = text_sha256(format_text((shipped_dir() / "sec.mlx").read_text()))


def _folder(tmp_path: Path, clause: str = "") -> Path:
    (tmp_path / "a_sec.mlx").write_text(LOCAL_SEC.format(clause=clause))
    (tmp_path / "variant.mlx").write_text(VARIANT)
    return tmp_path


def test_a_sibling_taking_a_shipped_id_is_refused_on_both_files(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    local, variant = folder / "a_sec.mlx", folder / "variant.mlx"
    found = check_text(local.read_text(), str(local))
    assert [(d.code.value, d.span.line) for d in found] == [("MLX205", 1)]
    found = check_text(variant.read_text(), str(variant))
    assert [(d.code.value, d.span.line, d.span.column) for d in found] == [("MLX204", 3, 11)]
    assert found[0].message == (
        f"rulebook id `sec` is claimed by 2 files: `{local}`, `shipped:sec.mlx`"
    )
    with pytest.raises(RulebookError) as info:
        load_rulebook(variant)
    assert [d.code.value for d in info.value.diagnostics] == ["MLX204"]


def test_replaces_shipped_makes_the_sibling_the_base(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "  replaces shipped sec\n")
    variant = load_rulebook(folder / "variant.mlx")
    # pm_min_equity is the sibling's 1 USD, not the shipped 100,000 USD.
    assert variant.parameters["pm_min_equity"].value.amount == 1.0
    files = source_files(variant)
    local_text = format_text((folder / "a_sec.mlx").read_text())
    assert (files[0].id, files[0].path, files[0].sha256) == (
        "sec",
        str(folder / "a_sec.mlx"),
        text_sha256(local_text),
    )
    assert files[1].path == str(folder / "variant.mlx")
    assert local_text.splitlines()[1] == "  replaces shipped sec"  # fmt keeps the clause


def test_two_siblings_with_one_id_are_each_an_error(tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / f"{name}.mlx").write_text(f'rulebook shared "{name}"\n  cites "t"\n')
    one = tmp_path / "one.mlx"
    found = check_text(one.read_text(), str(one))
    assert [d.code.value for d in found] == ["MLX204"]
    assert found[0].message == f"rulebook id `shared` is also claimed by `{tmp_path / 'two.mlx'}`"


def test_replaces_must_name_the_files_own_shipped_id(tmp_path: Path) -> None:
    mine = tmp_path / "mine.mlx"
    mine.write_text('rulebook mine "M"\n  cites "t"\n  replaces shipped sec\n')
    found = check_text(mine.read_text(), str(mine))
    assert [(d.code.value, d.span.line, d.span.column) for d in found] == [("MLX206", 3, 20)]
    assert found[0].message == (
        "rulebook `mine` cannot replace `sec`: a rulebook replaces only the shipped rulebook "
        "with its own id"
    )


def test_the_shipped_folder_checked_in_place_claims_nothing_twice() -> None:
    assert check_text((shipped_dir() / "sec.mlx").read_text(), str(shipped_dir() / "sec.mlx")) == []


def test_a_bare_id_beside_a_claiming_sibling_fails_like_extends(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    with pytest.raises(RulebookError) as info:
        load_rulebook("sec", near=[folder])
    (d,) = info.value.diagnostics
    assert d.headline() == (
        f"sec:1:1: MLX204 rulebook id `sec` is claimed by 2 files: `{folder / 'a_sec.mlx'}`, "
        "`shipped:sec.mlx`"
    )
    assert load_rulebook("sec").parameters["pm_min_equity"].value.amount == 100_000.0


def test_run_with_an_ambiguous_bare_id_fails(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    result = RUNNER.invoke(app, ["run", "-r", "sec", "-r", str(folder / "variant.mlx")])
    assert result.exit_code == 1
    assert "MLX204 rulebook id `sec` is claimed by 2 files" in result.output
    assert "decisions" not in result.output.lower()


def test_check_verbose_names_every_resolved_file(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "  replaces shipped sec\n")
    variant = folder / "variant.mlx"
    result = RUNNER.invoke(app, ["check", "--verbose", str(variant)])
    assert result.exit_code == 0, result.output
    local_sha = text_sha256(format_text((folder / "a_sec.mlx").read_text()))
    variant_sha = text_sha256(format_text(variant.read_text()))
    assert result.output.splitlines()[:3] == [
        f"{variant}: rulebook variant resolved from",
        f"  base    sec  {folder / 'a_sec.mlx'}  sha256 {local_sha}",
        f"  itself  variant  {variant}  sha256 {variant_sha}",
    ]


def test_diff_shows_which_file_each_id_came_from(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "  replaces shipped sec\n")
    result = RUNNER.invoke(app, ["diff", "sec", str(folder / "variant.mlx")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    local_sha = text_sha256(format_text((folder / "a_sec.mlx").read_text()))
    # `sec` given bare names the sibling too: the file that says `replaces shipped sec`.
    assert lines[1:3] == [
        "  old sec resolved from",
        f"    itself  sec  {folder / 'a_sec.mlx'}  sha256 {local_sha}",
    ]
    shipped = RUNNER.invoke(app, ["diff", "sec", "harmonized"])
    assert f"    itself  sec  shipped:sec.mlx  sha256 {SHIPPED_SEC}" in shipped.output


def test_a_shipped_base_built_on_a_replacement_reports_its_errors_here(tmp_path: Path) -> None:
    # harmonized overrides sec's rules; a local sec without them breaks it, and the errors
    # are in harmonized.mlx, a file no one checks: the variant must not check clean.
    (tmp_path / "a_sec.mlx").write_text(LOCAL_SEC.format(clause="  replaces shipped sec\n"))
    variant = tmp_path / "on_harmonized.mlx"
    variant.write_text('rulebook on_harmonized "V"\n  cites "t"\n  extends harmonized\n')
    found = check_text(variant.read_text(), str(variant))
    assert [(d.code.value, d.span.line, d.span.column) for d in found] == [("MLX202", 3, 11)]
    assert found[0].message == (
        "the shipped base `shipped:harmonized.mlx` has errors when built on the rulebooks "
        "beside this file"
    )
    assert found[0].hint is not None
    assert found[0].hint.startswith(
        "a file here says `replaces shipped`; fix it first: shipped:harmonized.mlx:"
    )
    assert "MLX212" in found[0].hint
