"""Each recorded decision names the files its rulebook was resolved from (trace schema 1.1),
replays byte for byte, and ledgers written before 1.1 still verify and replay."""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marginlex.audit.ledger import record
from marginlex.audit.ledger.store import Ledger
from marginlex.audit.trace.model import SCHEMA_VERSION, DecisionTrace, RulebookRef
from marginlex.cli import app
from marginlex.dsl import format_text, shipped_dir
from marginlex.dsl.provenance import text_sha256

LOCAL_SEC = (shipped_dir() / "sec.mlx").read_text(encoding="utf-8")
VARIANT = (
    'rulebook lower_min "SEC copy with a lower minimum equity"\n'
    '  version "test"\n  cites "test variant"\n  extends sec\n\n'
    "override parameter pm_min_equity = 50,000 USD\n"
    '  cites "test variant"\n'
)


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _firm(tmp_path: Path) -> tuple[Path, Path]:
    """A folder with a local copy of sec that says `replaces shipped sec`, and a variant."""
    folder = tmp_path / "firm"
    folder.mkdir()
    local = LOCAL_SEC.replace(
        "  jurisdiction SEC\n", "  replaces shipped sec\n  jurisdiction SEC\n"
    )
    (folder / "local_sec.mlx").write_text(local, encoding="utf-8")
    (folder / "lower_min.mlx").write_text(VARIANT, encoding="utf-8")
    return folder / "local_sec.mlx", folder / "lower_min.mlx"


def _traces(path: Path) -> list[DecisionTrace]:
    ledger = Ledger.open(str(path), create=False)
    try:
        return [ledger.get_decision(row.decision_id).trace for row in ledger.query()]
    finally:
        ledger.close()


def test_a_run_records_each_resolved_file_and_replays_identically(tmp_path: Path) -> None:
    local, variant = _firm(tmp_path)
    path = tmp_path / "firm.db"
    code, _, err = _run("run", "-r", str(variant), "-r", "cftc", "--ledger", str(path))
    assert code == 0, err
    ledger = Ledger.open(str(path), create=False)
    (run,) = ledger.runs()
    ledger.close()
    lower, cftc = run.record.rulebooks
    local_sha = text_sha256(format_text(local.read_text()))
    assert [(s.id, s.path, s.sha256) for s in lower.sources] == [
        ("sec", str(local), local_sha),
        ("lower_min", str(variant), text_sha256(format_text(variant.read_text()))),
    ]
    assert [(s.id, s.path) for s in cftc.sources] == [("cftc", "shipped:cftc.mlx")]
    traces = _traces(path)
    assert {t.schema_version for t in traces} == {SCHEMA_VERSION}
    assert {t.rulebook.sources for t in traces} == {lower.sources, cftc.sources}
    local.unlink()
    variant.unlink()  # replay needs neither file, nor the shipped sec
    code, out, err = _run("verify", "--replay", "--ledger", str(path))
    assert code == 0, err
    assert out.splitlines()[-1].endswith("every one identical, byte for byte")


def test_explain_shows_each_file_under_the_rulebook(tmp_path: Path) -> None:
    local, variant = _firm(tmp_path)
    path = tmp_path / "firm.db"
    assert _run("run", "-r", str(variant), "--ledger", str(path))[0] == 0
    trace = _traces(path)[0]
    code, out, _ = _run("explain", trace.decision_id, "--ledger", str(path))
    assert code == 0
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("├── Rulebook "))
    sha = text_sha256(format_text(local.read_text()))
    assert lines[at + 1].startswith(f"│   ├── base sec: {local}, sha256 {sha}")
    assert lines[at + 2].startswith(f"│   └── file lower_min: {variant}, sha256 ")


def _as_1_0(rulebook, ev, bundle) -> RulebookRef:  # type: ignore[no-untyped-def]
    return _real_ref(rulebook, ev, bundle).model_copy(update={"sources": ()})


_real_ref = record.rulebook_ref


def test_a_1_0_recording_still_verifies_and_replays_as_1_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What an engine before trace schema 1.1 recorded: references without sources.
    path = tmp_path / "old.db"
    with monkeypatch.context() as patch:
        patch.setattr(record, "rulebook_ref", _as_1_0)
        patch.setattr(record, "trace_columns", partial(record.trace_columns, schema_version="1.0"))
        assert _run("run", "-r", "sec", "--ledger", str(path))[0] == 0
    ledger = Ledger.open(str(path), create=False)
    with ledger.engine.begin() as conn:
        (stored,) = [r.rulebooks for r in conn.exec_driver_sql("SELECT rulebooks FROM runs")]
    ledger.close()
    assert "sources" not in json.loads(stored)[0]
    traces = _traces(path)
    assert {t.schema_version for t in traces} == {"1.0"}
    assert all("sources" not in json.loads(t.canonical())["rulebook"] for t in traces)
    code, out, err = _run("verify", "--replay", "--ledger", str(path))
    assert code == 0, err
    assert out.splitlines()[-1].endswith("every one identical, byte for byte")


def test_a_ledger_recorded_by_the_previous_release_still_replays(tmp_path: Path) -> None:
    # The demo book recorded by marginlex before this schema (trace 1.0, rulebooks without an
    # accept clause or header-citation rule, the book before its three-hop accounts): the
    # chain verifies and every decision replays byte for byte from its recorded inputs.
    path = tmp_path / "old.db"
    shutil.copyfile(Path(__file__).parents[1] / "data" / "audit" / "ledger_1_0_demo.db", path)
    code, out, err = _run("verify", "--replay", "--ledger", str(path))
    assert code == 0, out + err
    assert out.splitlines()[-1] == "replayed 28 decisions: every one identical, byte for byte"
