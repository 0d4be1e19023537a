"""Signed checkpoints catch what the chain cannot: a wiped ledger, a cut tail, a re-hashed
chain, a replaced run (issue 15, part 1), on SQLite and on the suite's PostgreSQL server.

Each tampering leaves the chain intact (``verify`` alone says OK); the checkpoint file kept
outside the ledger names it, with the line of the checkpoint that catches it.
"""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_helpers import BOOK_BLOB, RULEBOOK_TEXT, rederive, rehash_from, run_for, variant
from sqlalchemy import text
from typer.testing import CliRunner, Result

from marginlex.audit.ledger.checkpoints import sign_head
from marginlex.audit.ledger.keys import load_private_key, new_key_pair
from marginlex.audit.ledger.store import Ledger
from marginlex.audit.trace.model import DecisionTrace
from marginlex.cli import app

SIGNED = r"\(#{seq} [0-9a-f]{{12}}…, run {run}, signed \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00\)"


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return new_key_pair(tmp_path / "keys")


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    store = Ledger.open(ledger_url)
    yield store
    store.close()


@pytest.fixture
def signed(
    ledger: Ledger, pm_trace: DecisionTrace, keys: tuple[Path, Path], tmp_path: Path
) -> Path:
    """Run A (#1-#3) and run B (#4-#6), each followed by a signed checkpoint: the file."""
    path = tmp_path / "checkpoints.jsonl"
    key = load_private_key(keys[0])
    for name in ("a", "b"):
        traces = [variant(pm_trace, f"{name}{i}") for i in range(1, 4)]
        run_id = ledger.record_run(
            run_for(pm_trace, f"run-{name}"), traces, [RULEBOOK_TEXT], BOOK_BLOB
        )
        sign_head(ledger, key, path, run_id)
    return path


def _sql(ledger: Ledger, *statements: str) -> None:
    """An insider's statements, then the derived rows rebuilt to match (:func:`rederive`)."""
    with ledger.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
        rederive(conn)


def _verify(ledger_url: str, checkpoints: Path, public: Path) -> Result:
    args = ["verify", "--ledger", ledger_url, "--checkpoints", str(checkpoints)]
    return CliRunner().invoke(app, [*args, "--public-key", str(public)])


def _failures(result: Result) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("CHECKPOINT FAILED")]


def test_an_untouched_ledger_passes_every_checkpoint(
    ledger: Ledger, ledger_url: str, signed: Path, keys: tuple[Path, Path]
) -> None:
    result = _verify(ledger_url, signed, keys[1])
    assert result.exit_code == 0, result.stdout
    assert result.stdout.splitlines()[-1] == (
        f"checkpoints: 2 in {signed}, every signature holds and the ledger still holds every "
        "checkpointed head"
    )
    lines = [json.loads(line) for line in signed.read_text().splitlines()]
    assert [(c["checkpoint"]["head_seq"], c["checkpoint"]["run_id"]) for c in lines] == [
        (3, "run-a"),
        (6, "run-b"),
    ]
    assert lines[1]["checkpoint"]["head_hash"] == ledger.head()[1]


TAMPERINGS = {
    # every row of decisions and runs deleted: the chain of 0 entries is "intact"
    "wiped": (
        ("DELETE FROM decisions", "DELETE FROM runs"),
        [
            ("1", "wiped", 3, "run-a", "the ledger holds no entries, but it held #3: it was wiped"),
            ("2", "wiped", 6, "run-b", "the ledger holds no entries, but it held #6: it was wiped"),
        ],
    ),
    # run B's last two entries removed, its run record edited to match
    "cut": (
        (
            "DELETE FROM decisions WHERE seq > 4",
            "UPDATE runs SET decisions = 1, ok = 1, last_seq = 4 WHERE run_id = 'run-b'",
        ),
        [("2", "cut", 6, "run-b", "the ledger ends at #4, but it held #6: its tail was cut")],
    ),
}


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_deleting_rows_is_named_by_the_checkpoint_that_catches_it(
    ledger: Ledger, ledger_url: str, signed: Path, keys: tuple[Path, Path], tampering: str
) -> None:
    statements, expected = TAMPERINGS[tampering]
    _sql(ledger, *statements)
    result = _verify(ledger_url, signed, keys[1])
    assert result.exit_code == 1
    assert result.stdout.startswith("OK: ")  # the chain alone sees nothing wrong
    failures = _failures(result)
    assert len(failures) == len(expected), result.stdout
    for line, (number, kind, seq, run, message) in zip(failures, expected, strict=True):
        pattern = (
            f"CHECKPOINT FAILED checkpoints.jsonl:{number}: {kind}: "
            f"{SIGNED.format(seq=seq, run=run)} {re.escape(message)}"
        )
        assert re.fullmatch(pattern, line), line


def test_a_rehashed_chain_is_caught_by_every_later_checkpoint(
    ledger: Ledger, ledger_url: str, signed: Path, keys: tuple[Path, Path]
) -> None:
    rehash_from(ledger, 2, requirement=1)  # entry #2's requirement cut to 1.00, re-chained
    result = _verify(ledger_url, signed, keys[1])
    assert result.exit_code == 1 and result.stdout.startswith("OK: ")
    failures = _failures(result)
    assert [f.split(": ")[1] for f in failures] == ["rehashed", "rehashed"]
    assert re.fullmatch(
        "CHECKPOINT FAILED checkpoints.jsonl:2: rehashed: "
        + SIGNED.format(seq=6, run="run-b")
        + r" entry #6 now has hash [0-9a-f]{12}…, not the signed [0-9a-f]{12}…: entries up to "
        "it were changed and the chain re-hashed",
        failures[1],
    ), failures[1]


def test_a_replaced_run_is_named(
    ledger: Ledger,
    ledger_url: str,
    signed: Path,
    keys: tuple[Path, Path],
    pm_trace: DecisionTrace,
) -> None:
    _sql(
        ledger,
        "DELETE FROM decisions WHERE run_id = 'run-b'",
        "DELETE FROM runs WHERE run_id = 'run-b'",
    )
    other = [variant(pm_trace, f"c{i}", excess="-10.00") for i in range(1, 4)]
    ledger.record_run(run_for(pm_trace, "run-c"), other, [RULEBOOK_TEXT], BOOK_BLOB)
    result = _verify(ledger_url, signed, keys[1])
    assert result.exit_code == 1 and result.stdout.startswith("OK: 6 entries in 2 runs")
    (failure,) = _failures(result)
    assert re.fullmatch(
        "CHECKPOINT FAILED checkpoints.jsonl:2: run_replaced: "
        + SIGNED.format(seq=6, run="run-b")
        + " run run-b is no longer in the ledger; entry #6 now belongs to run run-c: the run "
        "was replaced",
        failure,
    ), failure


@pytest.mark.parametrize(
    ("edit", "kind", "message"),
    [
        (
            lambda doc: doc["checkpoint"].update(head_seq=2),
            "forged",
            "the signature does not hold: the checkpoint was forged or edited",
        ),
        (
            lambda doc: doc["checkpoint"].update(run_id="run-x"),
            "forged",
            "the signature does not hold: the checkpoint was forged or edited",
        ),
        (
            lambda doc: doc.update(signature="A" * 86 + "=="),
            "forged",
            "the signature does not hold: the checkpoint was forged or edited",
        ),
        (
            lambda doc: doc["checkpoint"].update(key_id="0" * 16),
            "other_key",
            "signed by key 0000000000000000, not by the public key given",
        ),
    ],
)
def test_an_edited_checkpoint_line_fails_its_signature(
    ledger_url: str, signed: Path, keys: tuple[Path, Path], edit: object, kind: str, message: str
) -> None:
    lines = signed.read_text().splitlines()
    doc = json.loads(lines[0])
    edit(doc)  # type: ignore[operator]
    signed.write_text("\n".join([json.dumps(doc), lines[1]]) + "\n")
    result = _verify(ledger_url, signed, keys[1])
    assert result.exit_code == 1
    (failure,) = _failures(result)
    assert failure.startswith(f"CHECKPOINT FAILED checkpoints.jsonl:1: {kind}: (#")
    assert message in failure


def test_a_line_that_is_no_checkpoint_and_a_foreign_key_are_named(
    ledger_url: str, signed: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    with signed.open("a") as out:
        out.write("{not json\n")
    _, foreign = new_key_pair(tmp_path / "other")
    result = _verify(ledger_url, signed, foreign)
    failures = _failures(result)
    assert [f.split(": ")[1] for f in failures] == ["other_key", "other_key", "unreadable"]
    assert failures[2].startswith("CHECKPOINT FAILED checkpoints.jsonl:3: unreadable: not a")


@pytest.mark.parametrize("ledger_url", ["sqlite"], indirect=True)
def test_run_sign_and_ledger_checkpoint_at_the_command_line(
    tmp_path: Path, keys: tuple[Path, Path], ledger_url: str
) -> None:
    private, public = keys
    assert private.stat().st_mode & 0o777 == 0o600
    runner = CliRunner()
    recorded = runner.invoke(app, ["run", "--ledger", ledger_url, "--sign", str(private)])
    assert recorded.exit_code == 0, recorded.stderr
    beside = Path(ledger_url + ".checkpoints.jsonl")
    assert "signed checkpoint of #36 " in recorded.stderr and str(beside) in recorded.stderr
    now = runner.invoke(
        app, ["ledger", "checkpoint", "--ledger", ledger_url, "--sign", str(private)]
    )
    assert now.exit_code == 0, now.stderr
    cps = [json.loads(line)["checkpoint"] for line in beside.read_text().splitlines()]
    assert [(c["head_seq"], c["run_id"] is None) for c in cps] == [(36, False), (36, True)]
    assert json.loads(now.stdout)["checkpoint"] == cps[1]
    # the private key never enters the ledger; the ledger keeps its own copy of each line
    key_body = b"".join(private.read_bytes().splitlines()[1:-1])
    assert key_body not in Path(ledger_url).read_bytes()
    own = runner.invoke(app, ["verify", "--ledger", ledger_url, "--public-key", str(public)])
    assert (
        own.exit_code == 0 and "checkpoints: 2 in the ledger's own checkpoints table" in own.stdout
    )


def test_a_readable_key_and_signing_without_a_ledger_are_refused(
    tmp_path: Path, keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MARGINLEX_LEDGER", raising=False)
    private, _ = keys
    runner = CliRunner()
    result = runner.invoke(app, ["run", "--sign", str(private)])
    assert result.exit_code == 1
    assert result.stderr == "error: --sign needs --ledger: only a recorded run is checkpointed\n"
    private.chmod(0o644)
    result = runner.invoke(app, ["run", "--ledger", str(tmp_path / "l.db"), "--sign", str(private)])
    assert result.exit_code == 1 and not (tmp_path / "l.db").exists()
    assert f"the signing key is readable by others (mode 644): chmod 600 {private}" in result.stderr
    again = runner.invoke(app, ["keys", "new", str(private.parent)])
    assert again.exit_code == 1 and "exists: keys are never overwritten" in again.stderr


def test_the_two_halves_of_a_key_pair_swapped_are_named(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    """`--sign KEY.pub` was asked to `chmod 600` a public key; `--public-key KEY.key` was
    "not a PEM public key": each now says which half it is and which file is meant."""
    private, public = keys
    runner = CliRunner()
    ledger = tmp_path / "l.db"
    result = runner.invoke(app, ["run", "--ledger", str(ledger), "--sign", str(public)])
    assert result.exit_code == 1 and not ledger.exists()
    assert (
        f"{public} is the public key: --sign takes the private key ({private}?), and "
        "--public-key this one"
    ) in " ".join(result.stderr.split())
    assert (
        runner.invoke(app, ["run", "--ledger", str(ledger), "--sign", str(private)]).exit_code == 0
    )
    checks = ["--checkpoints", str(private.parent / "checkpoints.jsonl")]
    result = runner.invoke(
        app, ["verify", "--ledger", str(ledger), *checks, "--public-key", str(private)]
    )
    assert result.exit_code != 0
    assert (
        f"{private} is the private signing key: --public-key takes the public key ({public}?); "
        "keep this one to yourself"
    ) in " ".join(result.stderr.split())


def test_an_encrypted_signing_key_is_opened_with_its_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key kept encrypted at rest (`keys new --passphrase`, or openssl's `-aes256`) was
    refused as "not a PEM private key: Password was not given but private key is
    encrypted"; it now opens with $MARGINLEX_KEY_PASSPHRASE or the passphrase typed."""
    monkeypatch.delenv("MARGINLEX_KEY_PASSPHRASE", raising=False)
    runner, folder, ledger = CliRunner(), tmp_path / "keys", tmp_path / "l.db"
    refused = runner.invoke(app, ["keys", "new", str(folder), "--passphrase"])
    assert refused.exit_code == 1 and not folder.exists()
    assert refused.stderr == (
        "error: --passphrase: nothing to type it on; set MARGINLEX_KEY_PASSPHRASE\n"
    )
    monkeypatch.setattr("marginlex.cli.trust_commands.can_type", lambda: True)
    made = runner.invoke(app, ["keys", "new", str(folder), "--passphrase"], input="pw1\npw1\n")
    assert made.exit_code == 0, made.output
    private = folder / "marginlex-signing.key"
    assert private.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert "(private, mode 600, encrypted with the passphrase: never share it)" in made.stdout
    sign = ["run", "--ledger", str(ledger), "--sign", str(private)]
    typed_wrong = runner.invoke(app, sign, input="nope\n")
    assert typed_wrong.exit_code == 1 and not ledger.exists()
    assert typed_wrong.stderr.startswith(f"passphrase of {private}:")  # asked on stderr
    assert typed_wrong.stderr.endswith(f"error: the passphrase does not open {private}\n")
    typed = runner.invoke(app, [*sign, "--format", "json"], input="pw1\n")
    assert typed.exit_code == 0, typed.stderr
    assert "signed checkpoint of #36" in typed.stderr
    # asked on stderr (the test runner's stand-in for the terminal echoes a blank, which a
    # real terminal does not write to standard output): the JSON is whole
    assert "passphrase" not in typed.stdout and json.loads(typed.stdout)["sec"]["decisions"]
    assert f"passphrase of {private}:" in typed.stderr
    monkeypatch.setattr("marginlex.cli.trust_commands.can_type", lambda: False)
    unattended = runner.invoke(app, sign)
    assert unattended.exit_code == 1
    assert " ".join(unattended.stderr.split()) == (
        f"error: {private} is encrypted with a passphrase: set MARGINLEX_KEY_PASSPHRASE, or "
        "run where it can be typed"
    )
    monkeypatch.setenv("MARGINLEX_KEY_PASSPHRASE", "pw1")
    scheduled = runner.invoke(
        app, ["ledger", "checkpoint", "--ledger", str(ledger), "--sign", str(private)]
    )
    assert scheduled.exit_code == 0, scheduled.stderr
    checked = runner.invoke(
        app,
        [
            "verify",
            "--ledger",
            str(ledger),
            "--checkpoints",
            f"{ledger}.checkpoints.jsonl",
            "--public-key",
            str(folder / "marginlex-signing.pub"),
        ],
    )
    assert checked.exit_code == 0, checked.output
    assert "checkpoints: 2 in " in checked.stdout


def test_a_checkpoint_file_that_cannot_be_written_is_refused_before_the_run(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    # The run was recorded, then "no checkpoint written": a run the user asked signed, unsigned
    private, _ = keys
    ledger = tmp_path / "l.db"
    runner = CliRunner()
    for command in (["run"], ["ledger", "checkpoint"]):
        missing = tmp_path / "no-such-folder" / "cp.jsonl"
        args = [*command, "--ledger", str(ledger), "--sign", str(private)]
        result = runner.invoke(app, [*args, "--checkpoints", str(missing)])
        assert result.exit_code == 1, command
        assert result.stderr == (
            f"error: cannot append to the checkpoint file {missing}: "
            f"its folder {missing.parent} does not exist\n"
        )
        assert not ledger.exists() or command == ["ledger", "checkpoint"]
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    into_folder = runner.invoke(
        app, ["run", "--ledger", str(ledger), "--sign", str(private), "--checkpoints", str(folder)]
    )
    assert into_folder.exit_code == 0, into_folder.stderr
    assert len((folder / "checkpoints.jsonl").read_text().splitlines()) == 1


def test_an_unreadable_public_key_or_checkpoint_file_is_said_before_the_walk(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    # The chain was walked (minutes on a large ledger) and "OK" printed, then the key refused
    private, public = keys
    ledger = str(tmp_path / "l.db")
    runner = CliRunner()
    assert runner.invoke(app, ["run", "--ledger", ledger, "--sign", str(private)]).exit_code == 0
    missing = tmp_path / "none.jsonl"
    for args, said in (
        (["--public-key", str(private)], f"error: {private} is the private signing key"),
        (
            ["--public-key", str(public), "--checkpoints", str(missing)],
            f"error: cannot read the checkpoint file {missing}: No such file or directory",
        ),
    ):
        result = runner.invoke(app, ["verify", "--ledger", ledger, *args])
        assert result.exit_code == 1, args
        assert result.stdout == ""  # nothing walked, no "OK: ..." before the refusal
        assert " ".join(result.stderr.split()).startswith(said), result.stderr


def test_a_key_pair_cut_short_by_a_full_disk_leaves_no_half_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from marginlex.audit.ledger import keys  # noqa: PLC0415 - the module whose flush fails

    flushed: list[int] = []

    def full_on_the_second(fd: int) -> None:  # the private key lands, the public one does not
        flushed.append(fd)
        if len(flushed) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(keys.os, "fsync", full_on_the_second)
    with pytest.raises(keys.KeyFileError) as refused:
        keys.new_key_pair(tmp_path / "k")
    assert str(refused.value) == (
        f"cannot write the key pair into {tmp_path / 'k'}: No space left on device"
    )
    assert list((tmp_path / "k").iterdir()) == []  # it used to keep the key and an empty .pub
    monkeypatch.undo()
    private, public = keys.new_key_pair(tmp_path / "k")  # a second try is not refused
    assert keys.load_private_key(private) and public.read_bytes().startswith(b"-----BEGIN")
