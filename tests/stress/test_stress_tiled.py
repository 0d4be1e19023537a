"""The tiled stack equals the stack built from its rows, frame by frame and column by column.

:func:`prepare_tiled` tiles what does not depend on prices from the unshocked book;
:func:`prepare_stack` derives everything again on the stacked rows. Their books, account
and lot graph columns, row contexts and links must be equal to the last bit, on the demo
book and on synthetic books (whose futures add variation settlement lots to each copy).
"""

from __future__ import annotations

import doctest
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from marginlex.engine.book import columns
from marginlex.engine.book.load import Book, load_book, load_demo_book, write_book
from marginlex.engine.book.schema import FILES
from marginlex.engine.stress import batch, tiled
from marginlex.engine.stress.batch import Stacked, prepare_stack
from marginlex.engine.stress.reprice import VM_PREFIX, shocked_frames
from marginlex.engine.stress.shocks import Scenario, parse_shock, parse_vol
from marginlex.engine.stress.tiled import base_of, prepare_tiled, tiled_rows
from marginlex.engine.synth.generate import synth_book

SCENARIOS = (
    Scenario(name="crash", shocks=(parse_shock("class_group=SPX:-20%"), parse_vol("+10pts"))),
    Scenario(name="rally", shocks=(parse_shock("class_group=SPX:+10%"),)),
    Scenario(name="rates", shocks=(parse_shock("product=ust_*:+150bp"),)),
)


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Book:
    meta, frames = synth_book(300, 5)
    return load_book(write_book(meta, frames, tmp_path_factory.mktemp("tiled")))


@pytest.fixture(scope="module", params=["demo", "synth"])
def book(request: pytest.FixtureRequest, synth: Book) -> Book:
    return load_demo_book() if request.param == "demo" else synth


def _assert_same(a: Stacked, b: Stacked) -> None:
    for spec in FILES:
        pd.testing.assert_frame_equal(a.book.frame(spec.stem), b.book.frame(spec.stem))
    pd.testing.assert_frame_equal(a.graph.account_columns(), b.graph.account_columns())
    pd.testing.assert_frame_equal(a.graph.lot_columns(), b.graph.lot_columns())
    for name in ("accounts", "instruments", "positions", "lots"):
        x, y = getattr(a.contexts, name), getattr(b.contexts, name)
        assert (x.n, set(x.own)) == (y.n, set(y.own))
        for subject, frame in x.own.items():
            pd.testing.assert_frame_equal(frame, y.own[subject])
        assert len(x.links) == len(y.links)
        for p, q in zip(x.links, y.links, strict=True):
            np.testing.assert_array_equal(p.index, q.index)
    assert a.contexts.accounts.products is not None and b.contexts.accounts.products is not None
    pd.testing.assert_frame_equal(
        a.contexts.accounts.products.reset_index(drop=True),
        b.contexts.accounts.products.reset_index(drop=True),
    )


@pytest.mark.parametrize("copies", [1, 3, 12])
def test_tiled_stack_equals_the_built_one(book: Book, copies: int) -> None:
    """One, a few and more than ten copies (tags ``~s10~``, ``~s11~`` sort before ``~s1~``)."""
    shocked = [shocked_frames(book, SCENARIOS[k % len(SCENARIOS)]) for k in range(copies - 1)]
    frames = [book.contract_frames(), *shocked]
    tiled = prepare_tiled(base_of(book), frames, book.as_of)
    _assert_same(prepare_stack(book, frames, book.as_of), tiled)
    assert tiled.n == copies


def test_synthetic_copies_carry_settlement_lots(synth: Book) -> None:
    """The case tiling must not miss: copies whose collateral rows differ from the book's."""
    lots = shocked_frames(synth, SCENARIOS[0])["collateral"]
    assert lots["lot_id"].str.startswith(VM_PREFIX).any()
    assert len(lots) > len(synth.collateral)


def test_tiled_rows_offsets_each_copy_and_keeps_missing() -> None:
    assert tiled_rows(np.array([2, -1]), 3, 5).tolist() == [2, -1, 7, -1, 12, -1]
    assert tiled_rows(np.array([], dtype=np.int64), 4, 5).tolist() == []


@pytest.mark.parametrize("module", [tiled, batch, columns], ids=lambda m: m.__name__)
def test_doctests(module: ModuleType) -> None:
    """The examples in the docstrings (tag order, tiled rows, Arrow prefixes) hold."""
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
