"""``marginlex check`` and ``marginlex fmt`` end to end."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.dsl import shipped_dir

RUNNER = CliRunner()


def test_check_shipped_rulebooks_is_clean() -> None:
    result = RUNNER.invoke(app, ["check", str(shipped_dir())])
    assert result.exit_code == 0, result.output
    assert "clean" in result.output


def test_misspelt_field_in_a_copy_points_at_it(tmp_path: Path) -> None:
    text = (shipped_dir() / "sec.mlx").read_text()
    assert "account.equity >= pm_min_equity\n" in text
    bad = tmp_path / "sec_copy.mlx"
    bad.write_text(
        text.replace("account.equity >= pm_min_equity\n", "account.equty >= pm_min_equity\n", 1)
    )
    line = next(i for i, row in enumerate(bad.read_text().splitlines(), 1) if "equty" in row)
    result = RUNNER.invoke(app, ["check", str(bad)])
    assert result.exit_code == 1
    out = result.output
    assert f"{bad}:{line}:23: MLX200 account has no field `equty`" in out
    assert "  |                       ^^^^^^^^^^^^^" in out
    assert "hint: did you mean `equity`?" in out


def test_check_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mlx"
    bad.write_text('rulebook bad "B" cites "c"\nparameter p = 5 USD\n')
    result = RUNNER.invoke(app, ["check", "--json", str(bad)])
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert [(d["code"], d["span"]["line"], d["span"]["column"]) for d in payload] == [
        ("MLX220", 2, 1)
    ]


def test_check_missing_path() -> None:
    result = RUNNER.invoke(app, ["check", "no/such/place"])
    assert result.exit_code == 1
    assert "MLX001" in result.output


def test_fmt_check_and_rewrite(tmp_path: Path) -> None:
    shutil.copy(shipped_dir() / "cftc.mlx", tmp_path / "cftc.mlx")
    assert RUNNER.invoke(app, ["fmt", "--check", str(tmp_path)]).exit_code == 0
    messy = tmp_path / "messy.mlx"
    messy.write_text('rulebook m "M"   parameter p = 5 USD cites "x"')
    assert RUNNER.invoke(app, ["fmt", "--check", str(tmp_path)]).exit_code == 1
    assert RUNNER.invoke(app, ["fmt", str(messy)]).exit_code == 0
    assert messy.read_text() == 'rulebook m "M"\n\nparameter p = 5 USD\n  cites "x"\n'
    assert RUNNER.invoke(app, ["fmt", "--check", str(tmp_path)]).exit_code == 0


def test_fmt_keeps_a_files_crlf_line_ends(tmp_path: Path) -> None:
    """A file saved on Windows was rewritten with LF: every line changed in git."""
    messy = tmp_path / "messy.mlx"
    messy.write_bytes(b'rulebook m "M"   parameter p = 5 USD cites "x"\r\n# note\r\n')
    assert RUNNER.invoke(app, ["fmt", str(messy)]).exit_code == 0
    assert messy.read_bytes() == (
        b'rulebook m "M"\r\n\r\nparameter p = 5 USD\r\n  cites "x"\r\n# note\r\n'
    )
    assert RUNNER.invoke(app, ["fmt", "--check", str(messy)]).exit_code == 0
    plain = tmp_path / "plain.mlx"
    plain.write_bytes(b'rulebook m "M"   parameter p = 5 USD cites "x"\n')
    assert RUNNER.invoke(app, ["fmt", str(plain)]).exit_code == 0
    assert b"\r" not in plain.read_bytes()


def test_unknown_asset_is_a_warning_and_not_clean(tmp_path: Path) -> None:
    book = tmp_path / "assets.mlx"
    book.write_text(
        'rulebook a "A" cites "c"\nhaircut h for collateral cites "x"\n  by asset\n    UST_NOT 1%\n'
    )
    result = RUNNER.invoke(app, ["check", str(book)])
    assert result.exit_code == 1
    assert "0 error(s), 1 warning(s)" in result.output
    assert "MLX302 warning: `UST_NOT`" in result.output
    assert "did you mean `UST_NOTE`?" in result.output


_WARNED = (
    'rulebook a "A" cites "c"\nhaircut h for collateral cites "x"\n  by asset\n    UST_NOT 1%\n'
)


def test_run_refuses_what_check_refuses_unless_warnings_allowed(tmp_path: Path) -> None:
    book = tmp_path / "assets.mlx"
    book.write_text(_WARNED)
    refused = RUNNER.invoke(app, ["run", "--rulebook", str(book)])
    assert refused.exit_code == 1
    assert "MLX302 warning: `UST_NOT`" in refused.output
    assert "refused: 1 warning(s), as `marginlex check` refuses them" in refused.output
    allowed = RUNNER.invoke(app, ["run", "--rulebook", str(book), "--allow-warnings"])
    assert "MLX302 warning: `UST_NOT`" in allowed.output
    assert "refused:" not in allowed.output


def test_compare_refuses_a_rulebook_with_warnings(tmp_path: Path) -> None:
    book = tmp_path / "assets.mlx"
    book.write_text(_WARNED)
    result = RUNNER.invoke(app, ["compare", "--rulebook", "sec", "--rulebook", str(book)])
    assert result.exit_code == 1
    assert "refused: 1 warning(s)" in result.output


def test_run_of_a_clean_rulebook_file_is_not_refused() -> None:
    result = RUNNER.invoke(app, ["run", "--rulebook", str(shipped_dir() / "cftc.mlx"), "--json"])
    assert result.exit_code == 0, result.output
    assert "refused:" not in result.output


def test_fmt_check_diff_prints_a_unified_diff_and_writes_nothing(tmp_path: Path) -> None:
    messy = tmp_path / "messy.mlx"
    original = 'rulebook m "M"   parameter p = 5 USD cites "x"\n'
    messy.write_text(original)
    result = RUNNER.invoke(app, ["fmt", "--check", "--diff", str(messy)])
    assert result.exit_code == 1
    assert result.stdout == (
        f"--- {messy}\n+++ {messy}\n@@ -1 +1,4 @@\n"
        '-rulebook m "M"   parameter p = 5 USD cites "x"\n'
        '+rulebook m "M"\n+\n+parameter p = 5 USD\n+  cites "x"\n'
    )
    assert messy.read_text() == original


def test_fmt_diff_alone_previews_the_change_and_writes_nothing(tmp_path: Path) -> None:
    messy = tmp_path / "messy.mlx"
    original = 'rulebook m "M"   parameter p = 5 USD cites "x"\n'
    messy.write_text(original)
    result = RUNNER.invoke(app, ["fmt", "--diff", str(messy)])
    assert result.exit_code == 0  # a preview: only --check fails on a change
    assert result.stdout.startswith(f"--- {messy}\n+++ {messy}\n@@ -1 +1,4 @@\n")
    assert f"{messy}: would be reformatted" in result.stderr
    assert messy.read_text() == original


def test_check_writes_its_report_to_stdout_so_that_it_pipes() -> None:
    bad = Path(__file__).parents[1] / "data" / "dsl" / "invalid" / "duplicate_id.mlx"
    result = CliRunner().invoke(app, ["check", str(bad)])
    assert result.exit_code == 1
    assert result.stderr == ""
    assert "MLX210 " in result.stdout
    assert result.stdout.rstrip().endswith("2 error(s), 0 warning(s) in 1 file(s)")


def test_a_missing_file_is_named_without_an_invented_location(tmp_path: Path) -> None:
    missing = tmp_path / "nosuch.mlx"
    result = CliRunner().invoke(app, ["check", str(missing)])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == f"{missing}: MLX001 no such file or folder"


@pytest.mark.parametrize("command", [["check"], ["fmt"], ["fmt", "--check"]])
def test_a_folder_without_rulebooks_is_an_error_not_clean(
    tmp_path: Path, command: list[str]
) -> None:
    # "0 rulebook file(s) checked: clean", exit 0: a mistyped folder passed a CI gate
    (tmp_path / "notes.txt").write_text("not a rulebook", encoding="utf-8")
    result = CliRunner().invoke(app, [*command, str(tmp_path)])
    assert result.exit_code == 1
    said = result.output.splitlines()
    assert said[0] == f"{tmp_path}: MLX001 no rulebook file (.mlx) in this folder or under it"
    assert said[1].strip() == (
        "= hint: give the folder that holds the rulebooks, or the files themselves"
    )


def _windows_copy(source: Path, target: Path, renamed: tuple[str, str]) -> None:
    """``source`` (its id renamed) as a Windows editor saves UTF-8: a byte-order mark, CRLF
    line endings."""
    text = source.read_text(encoding="utf-8").replace(*renamed).replace("\n", "\r\n")
    target.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))


def test_a_rulebook_and_its_tests_saved_with_a_byte_order_mark(tmp_path: Path) -> None:
    """A copy of a shipped variant and its test file, with a byte-order mark and CRLF
    endings: `check` is clean, `fmt --check` has nothing to change, `test` passes, and the
    rulebook is the same rulebook (same bundle, so the same sha256 in every trace) as the
    copy saved plainly."""
    from marginlex.audit.ledger.recorded_inputs import rulebook_bundle  # noqa: PLC0415
    from marginlex.dsl.loader import load_rulebook  # noqa: PLC0415

    shipped = shipped_dir() / "variants" / "harmonized_85pct_offsets"
    renamed = ("harmonized_85pct_offsets", "desk_85pct_offsets")
    saved, plain = tmp_path / "saved", tmp_path / "plain"
    saved.mkdir()
    plain.mkdir()
    for suffix in (".mlx", ".test.toml"):
        _windows_copy(Path(f"{shipped}{suffix}"), saved / f"desk_85pct_offsets{suffix}", renamed)
    text = Path(f"{shipped}.mlx").read_text(encoding="utf-8").replace(*renamed)
    (plain / "desk_85pct_offsets.mlx").write_text(text, encoding="utf-8")
    rulebook = saved / "desk_85pct_offsets.mlx"
    assert rulebook.read_bytes()[:3] == b"\xef\xbb\xbf"
    checked = RUNNER.invoke(app, ["check", str(rulebook)])
    assert checked.exit_code == 0, checked.output
    assert "clean" in checked.output
    formatted = RUNNER.invoke(app, ["fmt", "--check", str(rulebook)])
    assert formatted.exit_code == 0, formatted.output
    tested = RUNNER.invoke(app, ["test", str(saved)])
    assert tested.exit_code == 0, tested.output
    assert "1 passed" in tested.output or "passed" in tested.output
    expected = rulebook_bundle(load_rulebook(plain / "desk_85pct_offsets.mlx"))
    assert rulebook_bundle(load_rulebook(rulebook)) == expected


def test_fmt_says_which_file_it_cannot_read_or_write_and_formats_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that is not UTF-8 is MLX001, as `check` says it (it was a UnicodeDecodeError
    traceback); a file that cannot be written is one line; either way the other files are
    formatted and the exit code is 1."""
    latin = tmp_path / "latin.mlx"
    latin.write_bytes(b'rulebook latin "caf\xe9"\n  cites "c"\n')
    loose = tmp_path / "loose.mlx"
    loose.write_text('rulebook loose "L"\n   cites "c"\n\n\n', encoding="utf-8")
    done = RUNNER.invoke(app, ["fmt", str(latin), str(loose)])
    assert done.exit_code == 1
    said = f"{latin}: MLX001 cannot read the file: not UTF-8 text: byte 0xe9 at line 1, column 20"
    assert f"{said} (invalid continuation byte)" in done.output
    assert "hint: save the file as UTF-8" in done.output
    assert f"{loose}: reformatted" in done.output
    assert "Traceback" not in done.output
    loose.write_text('rulebook loose "L"\n   cites "c"\n\n\n', encoding="utf-8")
    from marginlex.dsl.format import files  # noqa: PLC0415 - the writer fmt calls

    def read_only(path: Path, text: str, **kwargs: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files, "replace_text", read_only)
    refused = RUNNER.invoke(app, ["fmt", str(loose)])
    assert refused.exit_code == 1
    assert f"error: cannot write {loose}: Permission denied" in refused.output


def test_a_rulebook_saved_as_utf16_is_named_so(tmp_path: Path) -> None:
    """Windows Notepad's "Unicode" is UTF-16: the check said "byte 0xff at line 1, column 1"
    with a hint about Latin-1, which is not what happened."""
    path = tmp_path / "notepad.mlx"
    shipped = Path(__file__).parents[2] / "rulebooks" / "variants" / "harmonized_85pct_offsets.mlx"
    path.write_text(shipped.read_text(encoding="utf-8"), encoding="utf-16")
    checked = RUNNER.invoke(app, ["check", str(path)])
    assert checked.exit_code == 1
    assert f"{path}: MLX001 cannot read the file: the file is UTF-16 text, not UTF-8\n" in (
        checked.output
    )
    assert (
        "hint: save the file as UTF-8 (in Notepad: Save As, Encoding UTF-8; Windows calls "
        "UTF-16 'Unicode')"
    ) in checked.output
    assert "0xff" not in checked.output and "Latin-1" not in checked.output


def test_fmt_cut_short_by_a_full_disk_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    """The rewrite is cut short (a file-size limit stands in for a full disk): the rulebook
    keeps every byte it had, no temporary file is left, and fmt says why (it used to
    truncate the file and leave the first 100 KB of the new text)."""
    head = 'rulebook probe "Probe"\njurisdiction SEC\nversion "1"\neffective from 2026-01-01\n'
    body = "".join(
        f'parameter p{i} = {i} USD\ncites "x"\nstatus illustrative\n\n' for i in range(3000)
    )
    path = tmp_path / "probe.mlx"
    path.write_text(head + 'cites "x"\n\n' + body, encoding="utf-8")  # 172 KB, 178 KB formatted
    before = path.read_bytes()
    limit = 100_000
    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        "from marginlex.cli import main\n"
        f"sys.argv = ['marginlex', 'fmt', {str(path)!r}]\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: cannot write {path}: File too large")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["probe.mlx"]


def test_fmt_keeps_a_symlink_and_the_file_mode(tmp_path: Path) -> None:
    real = tmp_path / "real.mlx"
    real.write_text('rulebook loose "L"\n   cites "c"\n\n\n', encoding="utf-8")
    real.chmod(0o640)
    link = tmp_path / "link.mlx"
    link.symlink_to(real)
    done = RUNNER.invoke(app, ["fmt", str(link)])
    assert done.exit_code == 0, done.output
    assert link.is_symlink() and link.resolve() == real
    assert real.read_text(encoding="utf-8") == 'rulebook loose "L"\n  cites "c"\n'
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.mlx", "real.mlx"]


def test_a_rulebook_that_is_no_regular_file_is_refused_unread(tmp_path: Path) -> None:
    """A link named .mlx to /dev/zero was read until memory ran out (12 GB in 20 s)."""
    link = tmp_path / "zero.mlx"
    link.symlink_to("/dev/zero")
    said = f"{link}: MLX001 cannot read the file: not a regular file (a folder, a device or a pipe)"
    for args in (["check", str(link)], ["fmt", str(link)], ["run", "-r", str(link)]):
        done = RUNNER.invoke(app, args)
        assert done.exit_code == 1, (args, done.output)
        assert said in done.output, (args, done.output)


def test_a_rulebook_far_past_the_size_limit_is_mlx002_unread(tmp_path: Path) -> None:
    from marginlex.dsl.claims import UNREAD_OVER  # noqa: PLC0415
    from marginlex.dsl.limits import MAX_RULEBOOK_BYTES  # noqa: PLC0415

    assert UNREAD_OVER == 4 * MAX_RULEBOOK_BYTES
    big = tmp_path / "big.mlx"
    big.write_bytes(b"# " + b"x" * 2_500_000 + b"\n")
    done = RUNNER.invoke(app, ["check", str(big)])
    assert done.exit_code == 1
    assert "MLX002 the rulebook is 2,500,003 bytes, over the limit of 500,000 bytes" in done.output


def test_fmt_of_a_file_it_cannot_read_says_so_as_check_does(tmp_path: Path) -> None:
    # fmt showed an empty source line "    1 | " and a caret under it
    pipe = tmp_path / "pipe.mlx"
    os.mkfifo(pipe)  # a read would wait for a writer that never comes
    said = RUNNER.invoke(app, ["fmt", str(pipe)])
    checked = RUNNER.invoke(app, ["check", str(pipe)])
    assert said.exit_code == 1
    assert said.stderr.splitlines() == [
        f"{pipe}: MLX001 cannot read the file: not a regular file (a folder, a device or a pipe)",
        "      = hint: give the path of a rulebook file (.mlx), or of the folder that holds it",
    ]
    assert said.stderr.splitlines() == checked.stdout.splitlines()[:2]
