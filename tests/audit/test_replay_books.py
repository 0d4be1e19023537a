"""Every valid book replays identically (issue 10, item 1).

A book is hashed, recorded and replayed in one canonical form, its defaults filled in
(``fill_defaults``), so the sha256 is the same whichever way a valid book arrives: CSV with
blank optional cells, CSV with them written out, or Parquet; and the recorded copy of the
book loads back to the sha256 that every recorded decision id was made from. Before the
fix, a synthetic book (all class groups and multipliers blank) hashed one way when run and
another way when replayed, and ``verify --replay`` lost every decision.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from marginlex.audit.ledger.record import record_run
from marginlex.audit.ledger.recorded_inputs import book_blob, book_from_blob
from marginlex.audit.ledger.store import Ledger
from marginlex.cli import app
from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import (
    Book,
    canonical_order,
    content_sha256,
    load_book,
    write_book,
)
from marginlex.engine.book.schema import FILES
from marginlex.engine.book.validate import read_and_validate
from marginlex.engine.evaluate import evaluate
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.synth.generate import DEFAULT_AS_OF, synth_book

DEMO = Path(__file__).parents[2] / "engine" / "book" / "demo_book"
DEMO_SHA256 = "9d428fe47c598ab9bd21b45394c80052481dfec7054fd464e49da06aba763c5e"
IDENTICAL = re.compile(r"replayed (\d+) decisions: every one identical, byte for byte")


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _blank_defaults(book: Book, rng: np.random.Generator, share: float) -> dict[str, pd.DataFrame]:
    """The book's contract frames with a random share of default-valued cells left blank."""
    frames = book.contract_frames()
    ins = frames["instruments"].copy()
    default_group = ins["underlying"].fillna(ins["instrument_id"])
    for col, is_default in (
        ("class_group", ins["class_group"] == default_group),
        ("multiplier", ins["multiplier"] == 1.0),
    ):
        blank = is_default.to_numpy() & (rng.random(len(ins)) < share)
        ins[col] = ins[col].where(~blank)
    return {**frames, "instruments": ins}


def _assert_same_content(a: Book, b: Book) -> None:
    assert a.sha256 == b.sha256
    for name, frame in a.contract_frames().items():
        pd.testing.assert_frame_equal(frame, b.contract_frames()[name], check_categorical=False)


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    accounts=st.integers(20, 60),
    share=st.sampled_from([0.0, 0.5, 1.0]),
    fmt=st.sampled_from(["csv", "parquet"]),
)
def test_a_synthetic_book_hashes_the_same_however_it_arrives(
    tmp_path_factory: pytest.TempPathFactory, seed: int, accounts: int, share: float, fmt: str
) -> None:
    meta, frames = synth_book(accounts, seed, DEFAULT_AS_OF)
    as_synthesized = load_book(write_book(meta, frames, tmp_path_factory.mktemp("s"), "csv"))
    blanked = _blank_defaults(as_synthesized, np.random.default_rng(seed), share)
    arrived = load_book(write_book(meta, blanked, tmp_path_factory.mktemp("b"), fmt))
    _assert_same_content(arrived, as_synthesized)
    # The recorded copy loads back to the same book: the same sha256, the same values.
    _assert_same_content(book_from_blob(book_blob(arrived)), arrived)


def test_blank_and_written_out_defaults_are_one_book(tmp_path: Path) -> None:
    shutil.copytree(DEMO, tmp_path / "demo")
    path = tmp_path / "demo" / "instruments.csv"
    text = path.read_text(encoding="utf-8")
    # XYZ's multiplier 1 and class group XYZ (itself) are both the defaults.
    path.write_text(text.replace("XYZ,stock,,XYZ,,1,", "XYZ,stock,,,,,"), encoding="utf-8")
    blank = load_book(tmp_path / "demo")
    xyz = blank.instruments.set_index("instrument_id").loc["XYZ"]
    assert (xyz["class_group"], xyz["multiplier"]) == ("XYZ", 1.0)
    assert blank.sha256 == load_book(DEMO).sha256 == DEMO_SHA256


def _demo_variant(tmp_path: Path, case: str) -> Path:
    """The demo book with blank optional cells, or with one of the format's valid corners."""
    folder = Path(shutil.copytree(DEMO, tmp_path / case))
    if case == "demo_blank_defaults":
        ins = pd.read_csv(folder / "instruments.csv", dtype=str, keep_default_na=False)
        ins.loc[ins["multiplier"] == "1", "multiplier"] = ""
        own = ins["class_group"] == ins["underlying"].where(
            ins["underlying"] != "", ins["instrument_id"]
        )
        ins.loc[own, "class_group"] = ""
        ins.to_csv(folder / "instruments.csv", index=False, lineterminator="\n")
    elif case == "demo_empty_collateral":
        header = (folder / "collateral.csv").read_text(encoding="utf-8").splitlines()[0]
        (folder / "collateral.csv").write_text(header + "\n", encoding="utf-8")
    elif case == "demo_no_relations":
        (folder / "relations.csv").unlink()
    return folder


def _synth(tmp_path: Path, seed: int, accounts: int, fmt: str) -> Path:
    meta, frames = synth_book(accounts, seed, DEFAULT_AS_OF)
    return write_book(meta, frames, tmp_path / f"s{accounts}_{seed}", fmt)


BOOK_CASES = [
    pytest.param(lambda p: _synth(p, 3, 50, "csv"), id="synth-50-seed3-csv"),
    pytest.param(lambda p: _synth(p, 8, 20, "parquet"), id="synth-20-seed8-parquet"),
    pytest.param(lambda p: _demo_variant(p, "demo_blank_defaults"), id="demo-blank-defaults"),
    pytest.param(lambda p: _demo_variant(p, "demo_empty_collateral"), id="empty-collateral"),
    pytest.param(lambda p: _demo_variant(p, "demo_no_relations"), id="no-relations"),
]


@pytest.mark.parametrize("make", BOOK_CASES)
def test_run_then_verify_replay_is_identical(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    book, ledger = make(tmp_path), tmp_path / "l.db"
    code, out, err = _cli("run", str(book), "--ledger", str(ledger))
    assert code == 0, err
    run_line = re.search(r"recorded run r-[0-9a-f]+: (\d+) decisions", out)
    assert run_line is not None, out
    recorded = int(run_line.group(1))
    code, out, err = _cli("verify", "--replay", "--ledger", str(ledger))
    assert code == 0, out + err
    found = IDENTICAL.fullmatch(out.splitlines()[-1])
    assert found is not None, out
    assert int(found.group(1)) == recorded > 0


def _pre_fix_sha256(folder: Path) -> str:
    """The sha256 a marginlex before the fix gave a book: of its frames before defaults."""
    parsed, _ = read_and_validate(folder)
    assert parsed.meta is not None
    frames = {s.stem: canonical_order(s, parsed.frames.get(s.stem)) for s in FILES}
    return content_sha256(parsed.meta, frames)


def test_a_ledger_recorded_before_the_fix_replays_under_its_recorded_sha256(
    tmp_path: Path,
) -> None:
    folder = _demo_variant(tmp_path, "demo_blank_defaults")
    book = load_book(folder)
    old_sha = _pre_fix_sha256(folder)
    assert old_sha != book.sha256 == DEMO_SHA256  # blank defaults hashed differently before
    # Record as the old engine did: the same (filled) content under the old sha256.
    old_book = book.model_copy(update={"sha256": old_sha})
    rulebook = load_rulebook("sec")
    plan = compile_plan(rulebook, book.as_of)
    ev = evaluate(plan, old_book, book.as_of, AccountGraph(old_book))
    ledger = tmp_path / "old.db"
    recorded = record_run(str(ledger), [ev], [rulebook], old_book)
    store = Ledger.open(str(ledger), create=False)
    assert [r.record.book_sha256 for r in store.runs()] == [old_sha]
    store.close()
    code, out, err = _cli("verify", "--replay", "--ledger", str(ledger))
    assert code == 0, out + err
    assert out.splitlines()[-1] == (
        f"replayed {recorded.decisions} decisions: every one identical, byte for byte"
    )
