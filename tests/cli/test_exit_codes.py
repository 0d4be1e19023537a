"""Exit code 2 for a usage error, 1 for a failure, in every command.

The walk covers every command the app registers (a new command without a row here fails
the first test): each with an option that does not exist and with a value it refuses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from marginlex.cli import app

runner = CliRunner()

BAD_VALUE: dict[str, tuple[list[str], str]] = {
    "check": (["check"], "Missing argument 'paths'"),
    "compare": (["compare", "-r", "sec"], "give at least two rulebooks"),
    "diff": (["diff", "sec"], "Missing argument 'b'"),
    "explain": (["explain", "sec:ms:A01", "--format", "pdf"], "'pdf' is not one of"),
    "fmt": (["fmt"], "Missing argument 'paths'"),
    "keys": (["keys", "nosuch"], "No such command 'nosuch'"),
    "keys new": (["keys", "new"], "Missing argument 'folder'"),
    "ledger": (["ledger", "--status", "maybe"], "'maybe' is not one of"),
    "ledger checkpoint": (["ledger", "checkpoint"], "Missing option '--sign'"),
    "ledger init": (["ledger", "init"], "Missing argument 'location'"),
    "ledger upgrade": (["ledger", "upgrade", "--ledger"], "Option '--ledger' requires an argument"),
    "ledger runs": (["ledger", "runs", "--since", "yesterday"], "Invalid value for '--since'"),
    "lsp": (["lsp", "--stdio=yes"], "does not take a value"),
    "render": (["render", "sec", "--format", "pdf"], "'pdf' is not one of"),
    "run": (["run", "--as-of", "2026-13-01"], "--as-of '2026-13-01' is not a date"),
    "serve": (["serve", "--port", "http"], "Invalid value for '--port'"),
    "stress": (["stress", "--shock", "class_grop=SPX:-20%"], "unknown selector 'class_grop'"),
    "synth": (
        ["synth", "--accounts", "5", "--seed", "1", "--out", "x"],
        "Invalid value for '--accounts'",
    ),
    "test": (["test", "--fail-under", "lots"], "Invalid value for '--fail-under'"),
    "validate": (["validate"], "Missing argument 'book'"),
    "verify": (["verify", "--replay", "extra"], "unexpected extra argument(s) (extra)"),
}


def _commands(group: Any, prefix: str = "") -> list[str]:
    """Every command's name, sub-commands as `group sub` (typer ships its own click)."""
    names: list[str] = []
    for name, command in group.commands.items():
        names.append(f"{prefix}{name}")
        if hasattr(command, "commands"):
            names += _commands(command, f"{prefix}{name} ")
    return names


COMMANDS = sorted(_commands(typer.main.get_command(app)))


def test_every_command_has_a_bad_value_case() -> None:
    assert sorted(BAD_VALUE) == COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unknown_option_exits_2(command: str) -> None:
    result = runner.invoke(app, [*command.split(), "--no-such-option"])
    assert result.exit_code == 2, result.output
    assert "No such option: --no-such-option" in result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_value_exits_2_and_says_why(command: str) -> None:
    argv, said = BAD_VALUE[command]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.stderr.split()), result.stderr


def test_a_failure_exits_1_not_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mlx"
    bad.write_text("rulebook nonsense\n", encoding="utf-8")
    assert runner.invoke(app, ["check", str(bad)]).exit_code == 1
    assert runner.invoke(app, ["validate", str(tmp_path)]).exit_code == 1
    assert runner.invoke(app, ["run", "-r", str(bad)]).exit_code == 1


def test_run_refuses_a_rulebook_named_twice_before_any_work(tmp_path: Path) -> None:
    """By id twice, or by id and by path: exit 2 and no ledger, where it used to evaluate
    both and then fail to record ("decision ... appears twice in the run")."""
    from marginlex.dsl.loader import shipped_dir  # noqa: PLC0415

    ledger = tmp_path / "l.db"
    for twice in (["sec", "sec"], ["sec", str(shipped_dir() / "sec.mlx")]):
        args = ["run", "--ledger", str(ledger)]
        for name in twice:
            args += ["--rulebook", name]
        done = CliRunner().invoke(app, args)
        assert done.exit_code == 2, done.output
        assert "error: rulebook `sec` is given more than once" in " ".join(done.output.split())
        assert not ledger.exists()


@pytest.mark.parametrize("port", ["65536", "99999"])
def test_serve_refuses_a_port_no_socket_can_have(port: str) -> None:
    # 99999 reached socket.bind: an OverflowError traceback
    done = CliRunner().invoke(app, ["serve", "--ledger", "x.db", "--port", port])
    assert done.exit_code == 2
    assert "Invalid value for '--port'" in done.output


def test_serve_on_a_port_in_use_or_a_host_that_does_not_resolve_says_so_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn printed nothing of it: "serving on ..." was said, then its log line, exit 3."""
    import socket  # noqa: PLC0415

    monkeypatch.chdir(tmp_path)  # the ledger x.db is never made

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = CliRunner().invoke(app, ["serve", "--ledger", "x.db", "--port", str(port)])
    assert done.exit_code == 1
    assert done.stderr == (
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use (another program "
        "holds it: give --port another number)\n"
    )
    assert "serving on" not in done.stdout
    args = ["serve", "--ledger", "x.db", "--host", "no-such-host.invalid", "--token", "t"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 1
    assert done.stderr.startswith("error: cannot listen on no-such-host.invalid:8000: ")
    assert not (tmp_path / "x.db").exists()


def _with_ledger_option() -> list[str]:
    """Every command that takes --ledger."""
    root = typer.main.get_command(app)
    found = []
    for name in COMMANDS:
        command: Any = root
        for part in name.split():
            command = command.commands[part]
        if any("--ledger" in getattr(p, "opts", ()) for p in command.params):
            found.append(name)
    return found


@pytest.mark.parametrize("command", _with_ledger_option())
def test_an_empty_ledger_is_a_usage_error(command: str, tmp_path: Path) -> None:
    """`run --ledger ""` recorded nothing, said nothing and exited 0; `verify --ledger ""`
    read the default ledger."""
    result = runner.invoke(app, [*command.split(), "--ledger", ""], env={"MARGINLEX_LEDGER": ""})
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.replace("│", " ").split())  # the error box's sides
    assert "Invalid value for '--ledger'" in said and "the ledger is empty" in said, said


def test_the_commands_taking_a_ledger_are_found() -> None:
    assert {"run", "verify", "ledger", "ledger runs", "serve"} <= set(_with_ledger_option())


@pytest.mark.parametrize("given", ["", " "])
def test_an_empty_as_of_is_refused_not_read_as_the_books_date(given: str) -> None:
    """`--as-of ""` (a variable that was not set) ran silently on the book's date."""
    done = CliRunner().invoke(app, ["run", "-r", "sec", "--as-of", given])
    assert done.exit_code == 2, done.output
    assert done.stdout == ""
    assert done.stderr.splitlines()[0] == (
        "error: --as-of is empty: write a date, YYYY-MM-DD, or leave the option out to use "
        "the book's as_of"
    )


def test_run_help_says_since_prints_only_the_parts_of_the_book_that_changed() -> None:
    """The help said json and csv hold "every decision", then "only the decisions
    re-decided"; with --since the sets evaluated are printed, those of the parts of the book
    holding a change, an unchanged set beside a changed one in its component among them
    (docs/running.md)."""
    said = " ".join(CliRunner().invoke(app, ["run", "--help"]).stdout.replace("│", " ").split())
    assert "with --since, only the sets evaluated, those of the parts of the book that" in said
    assert "the sets of the parts of the book that hold a change are printed" in said
