"""Properties of the evaluator (hypothesis, a modest number of examples)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from _evaluate_books import demo_folder, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marginlex.engine.book.load import load_book, write_book
from marginlex.engine.synth.generate import synth_book

RULEBOOKS = ("sec", "cftc", "harmonized")
FIGURES = [
    "margin_set_id",
    "eligible",
    "failed_requirements",
    "maintenance",
    "initial",
    "value",
    "excess",
    "call",
    "status",
    "segregation_violations",
]
DEMO_ACCOUNTS = sorted(pd.read_csv(demo_folder() / "accounts.csv")["account_id"])
SETTINGS = settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _copy_demo() -> Path:
    folder = Path(tempfile.mkdtemp()) / "book"
    shutil.copytree(demo_folder(), folder)
    return folder


@SETTINGS
@given(
    account=st.sampled_from(DEMO_ACCOUNTS),
    asset=st.sampled_from(["USD", "UST_BILL", "BTC", "SOL", "MMF"]),
    amount=st.floats(min_value=1.0, max_value=5e6),
)
def test_adding_collateral_never_raises_a_call(account: str, asset: str, amount: float) -> None:
    folder = _copy_demo()
    before = {r: run(load_book(folder), r).decisions.set_index("margin_set_id") for r in RULEBOOKS}
    maturity = "2026-12-31" if asset == "UST_BILL" else ""
    with (folder / "collateral.csv").open("a") as f:
        f.write(f"LX,{account},{asset},{amount:.2f},{maturity},\n")
    book = load_book(folder)
    for rulebook in RULEBOOKS:
        after = run(book, rulebook).decisions.set_index("margin_set_id")
        assert (after["call"] <= before[rulebook]["call"] + 1e-9).all(), rulebook


@SETTINGS
@given(seed=st.integers(min_value=0, max_value=10_000))
def test_requirements_are_never_negative(seed: int) -> None:
    meta, frames = synth_book(40, seed)
    folder = write_book(meta, frames, Path(tempfile.mkdtemp()) / "book")
    book = load_book(folder)
    for rulebook in RULEBOOKS:
        ev = run(book, rulebook)
        d = ev.decisions
        assert (d["maintenance"] >= 0).all()
        assert (d["initial"].dropna() >= d["maintenance"][d["initial"].notna()]).all()
        assert (ev.frames["class_groups"]["requirement"] >= 0).all()
        assert np.allclose(d["excess"], d["value"] - d["maintenance"], atol=0.005)


@SETTINGS
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_row_order_of_the_files_changes_no_decision(seed: int) -> None:
    folder = _copy_demo()
    expected = {r: run(load_book(folder), r).decisions[FIGURES] for r in RULEBOOKS}
    rng = np.random.default_rng(seed)
    for csv in folder.glob("*.csv"):
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
        frame.iloc[rng.permutation(len(frame))].to_csv(csv, index=False)
    book = load_book(folder)
    for rulebook in RULEBOOKS:
        pd.testing.assert_frame_equal(run(book, rulebook).decisions[FIGURES], expected[rulebook])
