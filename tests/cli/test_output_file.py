"""A FILE a command is asked to write (``--junit``, ``--report``, ``-o``) that cannot be
written is refused before any work, in one line, exit 1; a write that fails all the same
is said in one line too. Never a traceback."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marginlex.cli import app

COMMANDS = {
    "test --junit": (["test"], "--junit"),
    "render -o": (["render", "sec"], "-o"),
    "explain -o": (["explain", "A01_ALICE_PM", "--rulebook", "sec"], "-o"),
    "compare --report": (["compare", "-r", "sec", "-r", "cftc"], "--report"),
    "compare --study": (["compare", "-r", "sec", "-r", "cftc"], "--study"),
    "stress --report": (["stress", "--shock", "class_group=SPX:-20%"], "--report"),
}


def _said(output: str) -> str:
    return " ".join(output.split())


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_file_in_a_missing_folder_is_refused_first(tmp_path: Path, name: str) -> None:
    args, option = COMMANDS[name]
    target = tmp_path / "no_such_folder" / "out.file"
    done = CliRunner().invoke(app, [*args, option, str(target)])
    assert done.exit_code == 1, done.output
    assert (
        f"error: cannot write {option} {target}: its folder {target.parent} does not exist"
        in _said(done.output)
    )
    assert "Traceback" not in done.output
    assert "PASS" not in done.output  # refused before any test ran


@pytest.mark.parametrize("name", ["render -o", "stress --report"])
def test_a_folder_or_a_file_for_a_folder_is_refused(tmp_path: Path, name: str) -> None:
    args, option = COMMANDS[name]
    a_file = tmp_path / "a_file"
    a_file.write_text("x", encoding="utf-8")
    for target, why in ((tmp_path, "it is a folder"), (a_file / "x", f"{a_file} is not a folder")):
        done = CliRunner().invoke(app, [*args, option, str(target)])
        assert done.exit_code == 1, done.output
        assert f"error: cannot write {option} {target}: {why}" in _said(done.output)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="Linux's /dev/full")
def test_a_write_that_fails_all_the_same_is_one_line() -> None:
    # /dev/full passes the check (a writable file) and refuses every write: disk full
    done = CliRunner().invoke(app, ["render", "sec", "--format", "md", "-o", "/dev/full"])
    assert done.exit_code == 1
    assert "error: cannot write -o /dev/full: No space left on device" in _said(done.output)
    assert "Traceback" not in done.output
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)  # written to, never replaced by a file


@pytest.mark.parametrize("option", ["-o", "--out", "--output"])
def test_explain_and_render_write_a_file_with_the_same_option(tmp_path: Path, option: str) -> None:
    """``--out`` (``-o``) names the file every page-writing command writes; explain's
    earlier ``--output`` still works."""
    for args in (["explain", "A01_ALICE_PM", "--rulebook", "sec"], ["render", "sec"]):
        target = tmp_path / f"{args[0]}{option}.txt"
        if option == "--output" and args[0] == "render":
            continue  # render never had it
        done = CliRunner().invoke(app, [*args, option, str(target)])
        assert done.exit_code == 0, done.output
        assert target.read_text(encoding="utf-8").strip()


def test_a_page_cut_short_by_a_full_disk_leaves_the_earlier_file_whole(tmp_path: Path) -> None:
    """``render -o`` over an earlier page, its write cut short (a file-size limit stands in for
    a full disk): the earlier page stays as it was and no part of the new one is left (the
    write truncated the earlier page, then stopped). The limit is half the page's size: a
    fixed 4,000 bytes fell below the rulebook tests' book fragment once sec's tests grew."""
    import resource  # noqa: PLC0415
    import shutil  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    def render(page: Path, limit: int) -> subprocess.CompletedProcess[str]:
        script = (
            "import resource, signal, sys\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
            "from marginlex.cli import main\n"
            f"sys.argv = ['marginlex', 'render', 'sec', '-o', {str(page)!r}]\n"
            "main()\n"
        )
        argv = [sys.executable, "-c", script]
        return subprocess.run(argv, capture_output=True, text=True, check=False)

    whole = tmp_path / "whole" / "sec.html"
    whole.parent.mkdir()
    assert render(whole, resource.RLIM_INFINITY).returncode == 0
    # half the page: above the rulebook tests' book fragment, which render writes first
    limit = whole.stat().st_size // 2
    shutil.rmtree(whole.parent)
    page = tmp_path / "sec.html"
    page.write_text("the earlier page\n", encoding="utf-8")
    done = render(page, limit)
    assert done.returncode == 1, done.stderr
    assert f"error: cannot write -o {page}: File too large" in _said(done.stderr)
    assert page.read_text(encoding="utf-8") == "the earlier page\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sec.html"]


def test_a_full_disk_under_the_rulebook_tests_is_an_error_naming_the_test_file() -> None:
    """``render`` and ``test`` run a test file by writing its book fragment to a temporary
    folder: a full disk there (a file-size limit of 1,000 bytes stands in) raised pandas'
    ``OSError: File too large`` through ``render``, a traceback. It is now the test file's
    error, which ``render`` lists on the page among the files it could not run."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    shipped = Path(__file__).parents[2] / "rulebooks" / "tests" / "sec.test.toml"
    script = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))\n"
        "from marginlex.engine.variants.rulebook_tests import RulebookTestError, run_file\n"
        "try:\n"
        f"    run_file(Path({str(shipped)!r}))\n"
        "except RulebookTestError as exc:\n"
        "    print(exc)\n"
    )
    argv = [sys.executable, "-c", script]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        f"{shipped}: cannot write its book fragment to a temporary folder ("
    ), done.stdout
    assert done.stdout.rstrip().endswith(".csv): File too large")


def _sha(path: Path) -> str:
    import hashlib  # noqa: PLC0415

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("given", ["--ledger", "$MARGINLEX_LEDGER"])
def test_explain_never_writes_its_page_over_the_ledger_it_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    """``explain ID --ledger l.db -o l.db`` wrote the page over the ledger (exit 0, "wrote
    l.db"): every recorded decision lost, and the next command said the file is not a
    database."""
    ledger = tmp_path / "l.db"
    recorded = CliRunner().invoke(app, ["run", "-r", "cftc", "--ledger", str(ledger)])
    assert recorded.exit_code == 0, recorded.output
    before = _sha(ledger)
    monkeypatch.chdir(tmp_path)
    if given == "--ledger":
        where = ["--ledger", "l.db"]
    else:  # the ledger no option names: the variable's
        monkeypatch.setenv("MARGINLEX_LEDGER", str(ledger))
        where = []
    args = ["explain", "cftc:ms:A08_FOX_FUT", *where, "--format", "html", "-o", "./l.db"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 1, done.output
    assert (
        "error: cannot write -o l.db: it is the ledger this command reads: writing it would "
        "replace it"
    ) in _said(done.output)
    assert _sha(ledger) == before
    verified = CliRunner().invoke(app, ["verify", "--ledger", str(ledger)])
    assert verified.exit_code == 0 and verified.stdout.startswith("OK: 6 entries in 1 run")


def test_render_stress_compare_and_test_never_write_over_what_they_read(tmp_path: Path) -> None:
    """``render RULEBOOK.mlx -o RULEBOOK.mlx`` wrote the page over the rulebook,
    ``stress``/``compare --report BOOK/positions.csv`` the report over the book's positions,
    and ``test FOLDER --junit FOLDER/x.test.toml`` the results over the test file."""
    from cli_books import renamed_demo  # noqa: PLC0415

    variant = Path(__file__).parents[2] / "rulebooks" / "variants" / "harmonized_85pct_offsets.mlx"
    rulebook = tmp_path / "my_offsets.mlx"  # a firm's own variant, under its own id
    text = variant.read_text(encoding="utf-8")
    rulebook.write_text(text.replace("rulebook harmonized_85pct_offsets ", "rulebook my_offsets "))
    book = renamed_demo(tmp_path / "book", {})
    positions = book / "positions.csv"
    cases = [
        (["render", str(rulebook), "-o", str(rulebook)], rulebook, "-o", "the rulebook"),
        (
            ["stress", str(book), "--shock", "class_group=SPX:-20%", "--report", str(positions)],
            positions,
            "--report",
            f"a file of the book this command reads ({book})",
        ),
        (
            ["compare", str(book), "-r", "sec", "-r", "cftc", "--report", str(positions)],
            positions,
            "--report",
            f"a file of the book this command reads ({book})",
        ),
    ]
    tests = tmp_path / "tests"
    tests.mkdir()
    shipped = Path(__file__).parents[2] / "rulebooks" / "tests" / "cftc.test.toml"
    suite = tests / "cftc.test.toml"
    suite.write_bytes(shipped.read_bytes())
    cases.append(  # it wrote the JUnit XML over the test file it had just run
        (["test", str(tests), "--junit", str(suite)], suite, "--junit", "a file the tests read")
    )
    for args, target, option, what in cases:
        before = _sha(target)
        done = CliRunner().invoke(app, args)
        assert done.exit_code == 1, (args, done.output)
        said = _said(done.output)
        assert f"error: cannot write {option} {target}: it is {what}" in said, said
        assert _sha(target) == before
    # beside them, a page is written as before
    page = tmp_path / "page.html"
    done = CliRunner().invoke(app, ["render", str(rulebook), "-o", str(page)])
    assert done.exit_code == 0, done.output
    assert page.stat().st_size > 0
