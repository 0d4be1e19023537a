"""Arguments that are not UTF-8: Python hands their bytes on as lone surrogates (``\\udcff``).
``validate`` of such a folder and ``run --ledger`` with such a ledger path or operator
stopped with a UnicodeEncodeError traceback, the latter leaving an empty ledger file made;
``ledger --account`` and ``explain`` said the ledger "cannot be read ... (a value in it was
edited by hand, or it is not a marginlex ledger)". Each is now one usage error (exit 2)
naming the argument, before anything is read or made."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from marginlex.cli import main


def _main(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "argv", ["marginlex", *argv])
    with pytest.raises(SystemExit) as done:
        main()
    return int(done.value.code or 0)


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["validate", "/tmp/bo\udcffk"], "the argument '/tmp/bo\\xffk'"),
        (["ledger", "--ledger", "LEDGER", "--account", "A\udcfe1"], "the argument 'A\\xfe1'"),
        (
            ["run", "--ledger", "LEDGER", "-r", "sec", "--operator", "op\udcff"],
            "the argument 'op\\xff'",
        ),
        (["run", "--ledger", "LEDGER\udcff", "-r", "sec"], "the argument '"),
    ],
)
def test_an_argument_that_is_not_utf8_is_a_usage_error_and_makes_nothing(
    argv: list[str],
    shown: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ledger = tmp_path / "l.db"
    argv = [a.replace("LEDGER", str(ledger)) for a in argv]
    assert _main(argv, monkeypatch) == 2
    said = capsys.readouterr().err
    assert said.startswith(f"error: {shown}")
    assert "is not UTF-8 text (the byte 0x" in said
    assert "Traceback" not in said
    assert list(tmp_path.iterdir()) == []


def test_a_ledger_variable_that_is_not_utf8_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MARGINLEX_OPERATOR", "op\udcfe")
    assert _main(["run", "-r", "sec", "--ledger", str(tmp_path / "l.db")], monkeypatch) == 2
    assert capsys.readouterr().err.startswith(
        "error: $MARGINLEX_OPERATOR 'op\\xfe' is not UTF-8 text (the byte 0xfe)"
    )
    assert list(tmp_path.iterdir()) == []
