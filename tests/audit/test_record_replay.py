"""``marginlex run --ledger`` records a whole run; ``verify --replay`` re-makes it exactly.

A forged ledger (a trace figure changed and the chain re-hashed from there, so that the
chain still verifies) is caught only by replay, which names the decision.
"""

from __future__ import annotations

import dataclasses
import json
import re
import zlib
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from marginlex.audit.canonical import sha256_hex
from marginlex.audit.ledger.chain import (
    GENESIS,
    PreparedDecision,
    decompress_trace,
    entry_hash,
    entry_header,
)
from marginlex.audit.ledger.entry_read import DecisionNotFoundError
from marginlex.audit.ledger.store import Ledger
from marginlex.cli import app


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def demo_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    code, out, err = _run("run", "--ledger", str(path))
    assert code == 0, err
    assert re.search(r"recorded run r-[0-9a-f]{16}: 36 decisions \(3 rulebooks\) in ", out)
    return path


def test_run_records_every_decision_and_replays_identically(demo_ledger: Path) -> None:
    ledger = Ledger.open(str(demo_ledger), create=False)
    (run,) = ledger.runs()
    assert [r.id for r in run.record.rulebooks] == ["sec", "cftc", "harmonized"]
    assert run.counts.decisions == 36 and run.counts.breach == 6 and run.counts.call == 6
    for ref in run.record.rulebooks:
        assert sha256_hex(ledger.rulebook_text(ref.sha256) or "") == ref.sha256
    ledger.close()
    code, out, _ = _run("verify", "--replay", "--ledger", str(demo_ledger))
    assert code == 0
    assert out.splitlines()[-1] == "replayed 36 decisions: every one identical, byte for byte"


def test_explain_accepts_the_id_that_run_json_prints(demo_ledger: Path) -> None:
    # `marginlex run --json` prints "cftc:ms:A08_FOX_FUT"; the ledger id is content-addressed
    # ("d-ms:A08_FOX_FUT-<hash>"). Both name the same recording.
    code, by_run_id, err = _run(
        "explain", "cftc:ms:A08_FOX_FUT", "--format", "json", "--ledger", str(demo_ledger)
    )
    assert code == 0, err
    trace = json.loads(by_run_id)
    assert trace["margin_set"]["id"] == "ms:A08_FOX_FUT"
    assert trace["rulebook"]["id"] == "cftc"
    code, by_ledger_id, _ = _run(
        "explain", trace["decision_id"], "--format", "json", "--ledger", str(demo_ledger)
    )
    assert code == 0 and by_ledger_id == by_run_id
    code, _, err = _run("explain", "cftc:ms:NO_SUCH_SET", "--ledger", str(demo_ledger))
    assert code == 1 and "no decision 'cftc:ms:NO_SUCH_SET'" in err


def test_a_decision_id_that_names_no_entry_offers_the_ids_meant(demo_ledger: Path) -> None:
    """`explain A01_ALICE_PM` or `sec:ms:A01_ALICE` (the account id, or the set id cut short)
    said only "no decision"; the ids of the sets holding it are offered, by both readers
    (the light one `explain` uses on SQLite, and SQLAlchemy's). `_` and `%` in the id are
    matched as themselves, not as LIKE wildcards."""
    meant = "did you mean harmonized:ms:A01_ALICE_PM or sec:ms:A01_ALICE_PM?"
    for given in ("A01_ALICE_PM", "sec:ms:A01_ALICE", "a01_alice"):
        code, _, err = _run("explain", given, "--ledger", str(demo_ledger))
        assert code == 1 and meant in " ".join(err.split()), (given, err)
        ledger = Ledger.open(str(demo_ledger), create=False)
        try:
            with pytest.raises(DecisionNotFoundError, match=re.escape(meant)):
                ledger.get_decision(given)
        finally:
            ledger.close()
    for given in ("A01%ALICE", "A0__ALICE", "zzz"):
        code, _, err = _run("explain", given, "--ledger", str(demo_ledger))
        assert code == 1 and "did you mean" not in err, (given, err)


def test_json_run_reports_the_recording_on_stderr(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    code, out, err = _run("run", "--rulebook", "sec", "--json", "--ledger", str(path))
    assert code == 0 and json.loads(out)["sec"]["summary"]["margin_sets"] == 13
    assert "13 decisions (1 rulebook)" in err


def test_failed_evaluation_records_nothing(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    code, _, err = _run("run", "--rulebook", "sec", "--rulebook", "nope", "--ledger", str(path))
    assert code == 1 and "no rulebook file or id `nope`" in err
    assert not path.exists()


def test_env_variable_names_the_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "env.db"
    monkeypatch.setenv("MARGINLEX_LEDGER", str(path))
    code, out, _ = _run("run", "--rulebook", "cftc")
    assert code == 0 and "6 decisions" in out and path.exists()


def test_unshipped_variant_replays_from_its_recorded_text(tmp_path: Path) -> None:
    variant = tmp_path / "lower_min.mlx"
    variant.write_text(
        'rulebook lower_min "SEC with a lower minimum equity"\n'
        '  version "test"\n  cites "test variant"\n  extends sec\n\n'
        "override parameter pm_min_equity = 50,000 USD\n"
        '  cites "test variant"\n',
        encoding="utf-8",
    )
    path = tmp_path / "v.db"
    code, _, err = _run("run", "--rulebook", str(variant), "--ledger", str(path))
    assert code == 0, err
    variant.unlink()  # replay must not need the file
    code, out, err = _run("verify", "--replay", "--ledger", str(path))
    assert code == 0, err
    assert "replayed 13 decisions: every one identical" in out


def _forge(path: Path, seq: int) -> str:
    """Raise one recorded trace's equity by 1,000 and re-hash the chain from there on."""
    ledger = Ledger.open(str(path), create=False)
    with ledger.engine.begin() as conn:
        run_sha = {r.run_id: r.run_sha256 for r in conn.exec_driver_sql("SELECT * FROM runs")}
        rows = list(
            conn.exec_driver_sql(f"SELECT * FROM decisions WHERE seq >= {seq} ORDER BY seq")
        )
        prev = rows[0].prev_hash
        for row in rows:
            fields = dict(row._mapping)
            if row.seq == seq:
                trace = json.loads(decompress_trace(row.trace_z))
                equity = float(trace["figures"]["equity"]) + 1000
                trace["figures"]["equity"] = f"{equity:.2f}"
                body = json.dumps(
                    trace, sort_keys=True, separators=(",", ":"), ensure_ascii=False
                ).encode()
                # Rewritten as zlib, the format of ledgers written before Zstandard: still read.
                fields |= {"trace_z": zlib.compress(body), "trace_sha256": sha256_hex(body)}
                forged = row.decision_id
            fields["prev_hash"] = prev
            header = entry_header(SimpleNamespace(**fields), row.run_id, run_sha[row.run_id])
            fields["entry_hash"] = prev = entry_hash(prev, header, row.seq)
            conn.exec_driver_sql(
                "UPDATE decisions SET trace_z = ?, trace_sha256 = ?, prev_hash = ?, "
                "entry_hash = ? WHERE seq = ?",
                (
                    fields["trace_z"],
                    fields["trace_sha256"],
                    fields["prev_hash"],
                    fields["entry_hash"],
                    row.seq,
                ),
            )
    ledger.close()
    return forged


def test_forged_but_chain_consistent_ledger_is_caught_by_replay(tmp_path: Path) -> None:
    path = tmp_path / "forged.db"
    assert _run("run", "--ledger", str(path))[0] == 0
    forged = _forge(path, seq=4)
    code, out, _ = _run("verify", "--ledger", str(path))
    assert code == 0 and out.startswith("OK: 36 entries")  # the chain alone cannot tell
    code, out, _ = _run("verify", "--replay", "--ledger", str(path))
    assert code == 1
    assert "replayed 36 decisions: 1 differ" in out
    assert f"DIFFERS entry #4 {forged} " in out
    assert "$.figures.equity: recorded" in out


def test_an_edited_set_input_hash_is_caught_by_replay(tmp_path: Path) -> None:
    # inputs_sha256 is not chained (a derived column), but a later run --since trusts it to
    # carry a decision forward: an insider who set it to tomorrow's hash would have a stale
    # decision carried. verify --replay recomputes it from the recorded book.
    path = tmp_path / "edited.db"
    assert _run("run", "--ledger", str(path))[0] == 0
    ledger = Ledger.open(str(path))
    with ledger.engine.begin() as conn:
        row = conn.execute(text("SELECT decision_id, inputs_sha256 FROM decisions WHERE seq = 5"))
        decision_id, honest = row.one()
        conn.execute(text("UPDATE decisions SET inputs_sha256 = :h WHERE seq = 5"), {"h": "0" * 32})
    ledger.close()
    assert re.fullmatch(r"[0-9a-f]{32}", honest)
    code, out, _ = _run("verify", "--ledger", str(path))
    assert code == 0 and out.startswith("OK: 36 entries")  # the chain does not hold it
    code, out, _ = _run("verify", "--replay", "--ledger", str(path))
    assert code == 1 and "replayed 36 decisions: 1 differ" in out
    assert (
        f"DIFFERS entry #5 {decision_id} " in out
        and f"inputs_sha256: recorded {'0' * 32}, replayed {honest} (the set's input hash, "
        "which a later run --since compares)"
        in " ".join(out.split())
    )


def test_a_failing_trace_worker_records_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from marginlex.audit.ledger import record  # noqa: PLC0415 - the module whose workers are patched

    built = record._Chunk.__call__

    def fails_on_cftc(chunk: record._Chunk) -> list[PreparedDecision]:
        if chunk.ref.id == "cftc" and chunk.start == 4:
            raise ValueError("lot L-77 has no haircut row")  # raised in the forked worker
        return built(chunk)

    monkeypatch.setattr(record, "PARALLEL_SETS", 4)
    monkeypatch.setattr(record, "MIN_FORK_SETS", 0)  # the demo's chunks go to workers
    monkeypatch.setattr(record._Chunk, "__call__", fails_on_cftc)
    path = tmp_path / "ledger.db"
    code, out, err = _run("run", "--ledger", str(path))
    assert code == 1
    assert err.startswith("error: nothing recorded: a trace worker failed:\nTraceback")
    assert "ValueError: lot L-77 has no haircut row" in err
    assert "recorded run" not in out
    ledger = Ledger.open(str(path), create=False)
    assert ledger.runs() == [] and ledger.head() == (0, GENESIS)
    ledger.close()


def test_workers_record_the_same_ledger_rows_as_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from marginlex.audit.ledger import record  # noqa: PLC0415 - the module whose chunk size is patched

    def selected(path: Path, sql: str) -> list[tuple[object, ...]]:
        ledger = Ledger.open(str(path), create=False)
        with ledger.engine.connect() as conn:
            found = [tuple(row) for row in conn.execute(text(sql))]
        ledger.close()
        return found

    def rows(path: Path) -> list[tuple[object, ...]]:
        return selected(
            path,
            "SELECT decision_id, rulebook_id, account_ids, status, call, requirement, "
            "trace_sha256 FROM decisions ORDER BY seq",
        )

    def stored_book(path: Path) -> list[tuple[object, ...]]:
        """The book's blob and digest, which a worker makes beside the first evaluation."""
        return selected(
            path,
            "SELECT b.sha256, b.blob_sha256, b.blob, d.body FROM books b "
            "JOIN book_digests d ON d.book_sha256 = b.sha256",
        )

    assert _run("run", "--ledger", str(tmp_path / "one.db"))[0] == 0
    monkeypatch.setattr(record, "PARALLEL_SETS", 3)  # 5 + 2 + 6 chunks
    monkeypatch.setattr(record, "MIN_FORK_SETS", 0)
    assert _run("run", "--ledger", str(tmp_path / "forked.db"))[0] == 0
    assert rows(tmp_path / "forked.db") == rows(tmp_path / "one.db")
    assert len(rows(tmp_path / "one.db")) == 36
    assert stored_book(tmp_path / "forked.db") == stored_book(tmp_path / "one.db")
    assert len(stored_book(tmp_path / "one.db")) == 1


@pytest.mark.parametrize("forked", [False, True])
def test_a_serializer_that_disagrees_with_the_model_records_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    from marginlex.audit.ledger import record  # noqa: PLC0415 - the module whose serializer is patched

    built = record.trace_columns

    def spaced(*args: object, **kwargs: object) -> record.TraceColumns:
        columns = built(*args, **kwargs)  # type: ignore[arg-type]
        first = columns.json[0].replace('"figures":{', '"figures": {', 1)
        return dataclasses.replace(columns, json=[first, *columns.json[1:]])

    monkeypatch.setattr(record, "trace_columns", spaced)
    if forked:
        monkeypatch.setattr(record, "MIN_FORK_SETS", 0)
    path = tmp_path / "ledger.db"
    code, out, err = _run("run", "--rulebook", "cftc", "--ledger", str(path))
    assert code == 1 and "recorded run" not in out
    assert "trace d-ms:A05_DELTA_FUT-" in err and "serializer and model bytes differ" in err
    assert err.startswith(
        "error: nothing recorded: a trace worker failed:" if forked else "error: nothing recorded"
    )
    ledger = Ledger.open(str(path), create=False)
    assert ledger.runs() == [] and ledger.head() == (0, GENESIS)
    ledger.close()


@pytest.mark.parametrize("forked", [False, True])
def test_a_book_that_cannot_be_stored_records_nothing_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    """The book's blob is made in a worker beside the first evaluation (or in process for a
    small book): a full temporary folder there is one line, not a trace worker's traceback."""
    from marginlex.audit.ledger import record  # noqa: PLC0415 - the module whose blob fails

    def full(_book: object) -> bytes:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(record, "book_blob", full)
    if forked:
        monkeypatch.setattr(record, "MIN_FORK_SETS", 0)
    path = tmp_path / "ledger.db"
    code, out, err = _run("run", "--ledger", str(path))
    assert code == 1 and "recorded run" not in out
    assert err == (
        "error: nothing recorded: the book could not be stored with the run: "
        "OSError: [Errno 28] No space left on device\n"
    )
    assert not path.exists()
