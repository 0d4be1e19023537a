"""``run --since`` carries a decision forward only when the code that would decide it today is
the code that decided it: each run records the sha256 of the sources that decide
(``runs.engine_code_sha256``, revision 0011), and a run whose fingerprint differs from
today's, or that recorded none, has every set decided anew. The engine version alone is the
package's (0.1.0) and stays put when a kernel is fixed."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from marginlex.audit.ledger.store import Ledger
from marginlex.cli import app
from marginlex.engine import version as engine_code
from marginlex.engine.version import CODE_SOURCES, code_sha256, engine_code_sha256

OLD_LEDGER = Path(__file__).parents[1] / "data" / "audit" / "ledger_1_0_demo.db"
PACKAGE = Path(engine_code.__file__).parent.parent
# The demo book under the three rulebooks: 13 SEC sets, 6 CFTC, 17 harmonized (36 decisions).
DEMO_DECISIONS = 36
OTHER_CODE = "c0de" * 16


def _cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _run(ledger: Path, *more: str) -> Result:
    result = _cli("run", "--ledger", str(ledger), *more)
    assert result.exit_code == 0, result.output
    return result


def _run_ids(ledger: Path) -> list[str]:
    with sqlite3.connect(ledger) as conn:
        return [r for (r,) in conn.execute("SELECT run_id FROM runs ORDER BY first_seq")]


def _anew_and_carried(ledger: Path, run_id: str) -> tuple[int, int]:
    query = (
        "SELECT count(*) - count(carried_from), count(carried_from) FROM decisions WHERE run_id = ?"
    )
    with sqlite3.connect(ledger) as conn:
        anew, carried = conn.execute(query, (run_id,)).fetchone()
    return int(anew), int(carried)


def _verified(ledger: Path) -> str:
    result = _cli("verify", "--ledger", str(ledger))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_run_records_the_fingerprint_and_the_same_code_carries_every_set(
    tmp_path: Path,
) -> None:
    ledger = tmp_path / "l.db"
    _run(ledger)
    (first,) = _run_ids(ledger)
    with sqlite3.connect(ledger) as conn:
        (stored,) = conn.execute("SELECT engine_code_sha256 FROM runs").fetchone()
    assert stored == engine_code_sha256()
    again = _run(ledger, "--since", first)
    second = _run_ids(ledger)[1]
    # nothing changed, the same code: all 36 carried, none decided anew, no reason given
    assert _anew_and_carried(ledger, second) == (0, DEMO_DECISIONS)
    assert "decided anew" not in again.stderr
    assert _verified(ledger).startswith(f"OK: {2 * DEMO_DECISIONS} entries in 2 runs")


def test_other_engine_code_re_decides_every_set_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = tmp_path / "l.db"
    _run(ledger)
    (first,) = _run_ids(ledger)
    today = engine_code_sha256()
    # a kernel fixed since: the engine version is still 0.1.0, the sources are not the same
    monkeypatch.setattr(engine_code, "engine_code_sha256", lambda: OTHER_CODE)
    again = _run(ledger, "--since", first)
    second = _run_ids(ledger)[1]
    # the same book: a run of the same code carried all 36; this one decides all 36 anew
    assert _anew_and_carried(ledger, second) == (DEMO_DECISIONS, 0)
    stderr = " ".join(again.stderr.split())
    assert f"since run {first}: {DEMO_DECISIONS} decisions re-decided, 0 carried forward" in stderr
    assert (
        f"since run {first}: every set of sec, cftc, harmonized decided anew: the engine code "
        f"differs from run {first}'s (sources sha256 {OTHER_CODE[:12]}, that run's "
        f"{today[:12]})"
    ) in stderr
    with sqlite3.connect(ledger) as conn:
        codes = [c for (c,) in conn.execute("SELECT engine_code_sha256 FROM runs")]
    assert sorted(codes) == sorted([today, OTHER_CODE])
    assert _verified(ledger).startswith(f"OK: {2 * DEMO_DECISIONS} entries in 2 runs")


def test_a_run_recorded_before_the_fingerprint_re_decides_every_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A ledger of the release before revision 0011: its run has no fingerprint (the record
    # hashes without it) and runs has no column for it.
    ledger = tmp_path / "l.db"
    with monkeypatch.context() as patched:
        patched.setattr(engine_code, "engine_code_sha256", lambda: None)
        _run(ledger)
    with sqlite3.connect(ledger) as conn:
        conn.execute("ALTER TABLE runs DROP COLUMN engine_code_sha256")
        conn.execute("UPDATE alembic_version SET version_num = '0010_run_book_digests'")
    (first,) = _run_ids(ledger)
    assert _verified(ledger).startswith(f"OK: {DEMO_DECISIONS} entries in 1 run")
    again = _run(ledger, "--since", first)
    second = _run_ids(ledger)[1]
    assert _anew_and_carried(ledger, second) == (DEMO_DECISIONS, 0)
    assert (
        f"decided anew: run {first} recorded no fingerprint of the engine code that decided "
        "it (it was recorded before revision 0011_run_code_fingerprints)"
    ) in " ".join(again.stderr.split())
    # the earlier run still hashes as it did; the new one records today's fingerprint
    assert _verified(ledger).startswith(f"OK: {2 * DEMO_DECISIONS} entries in 2 runs")
    with sqlite3.connect(ledger) as conn:
        codes = [c for (c,) in conn.execute("SELECT engine_code_sha256 FROM runs ORDER BY rowid")]
    assert codes == [None, engine_code_sha256()]


def test_the_shipped_old_ledger_verifies_and_its_run_carries_nothing(tmp_path: Path) -> None:
    ledger = Path(shutil.copyfile(OLD_LEDGER, tmp_path / "old.db"))
    (first,) = _run_ids(ledger)
    assert _verified(ledger).startswith("OK: 28 entries in 1 run")
    _run(ledger, "--since", first)
    second = _run_ids(ledger)[1]
    anew, carried = _anew_and_carried(ledger, second)
    assert (anew, carried) == (DEMO_DECISIONS, 0)
    assert _verified(ledger).startswith(f"OK: {28 + DEMO_DECISIONS} entries in 2 runs")
    store = Ledger.open(str(ledger), create=False)
    try:
        records = {r.record.run_id: r.record for r in store.runs()}
    finally:
        store.close()
    assert records[first].engine_code_sha256 is None
    assert records[second].engine_code_sha256 == engine_code_sha256()


def _copy_sources(to: Path) -> None:
    for pattern in CODE_SOURCES:
        for path in PACKAGE.glob(pattern):
            if "__pycache__" in path.parts:
                continue
            target = to / path.relative_to(PACKAGE)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())


def test_the_fingerprint_moves_with_one_byte_of_the_code_that_decides(tmp_path: Path) -> None:
    _copy_sources(tmp_path)
    assert code_sha256(tmp_path) == engine_code_sha256()
    # what does not decide: the ledger's own code, a compiled file, a note beside the code
    (tmp_path / "audit" / "ledger").mkdir(parents=True)
    (tmp_path / "audit" / "ledger" / "store.py").write_text("# the ledger\n")
    (tmp_path / "engine" / "__pycache__").mkdir(exist_ok=True)
    (tmp_path / "engine" / "__pycache__" / "x.py").write_text("cached = 1\n")
    (tmp_path / "engine" / "NOTES.txt").write_text("a note\n")
    assert code_sha256(tmp_path) == engine_code_sha256()
    for source in ("engine/evaluation.py", "dsl/grammar.lark", "audit/trace/model.py"):
        changed = tmp_path / source
        body = changed.read_bytes()
        changed.write_bytes(body[:-1] + bytes([body[-1] ^ 1]))  # one byte of the file
        assert code_sha256(tmp_path) != engine_code_sha256(), source
        changed.write_bytes(body)
    assert code_sha256(tmp_path) == engine_code_sha256()
    # a source renamed with the same bytes is other code too (the path is hashed)
    (tmp_path / "engine" / "version.py").rename(tmp_path / "engine" / "version2.py")
    assert code_sha256(tmp_path) != engine_code_sha256()


def test_light_commands_do_not_read_the_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = tmp_path / "l.db"
    _run(ledger)

    def refused() -> str:
        raise AssertionError("the sources were read")

    monkeypatch.setattr(engine_code, "engine_code_sha256", refused)
    for args in (
        ["explain", "sec:ms:A01_ALICE_PM", "--ledger", str(ledger)],
        ["verify", "--ledger", str(ledger)],
        ["ledger", "runs", "--ledger", str(ledger)],
        ["check", str(PACKAGE / "rulebooks" / "sec.mlx")],
    ):
        result = _cli(*args)
        assert result.exit_code == 0, (args, result.output)
