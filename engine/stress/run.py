"""``stress``: a book under named scenarios, every rulebook, one batch per rulebook.

The unshocked book and each scenario's shocked copy are stacked and evaluated together
(:mod:`marginlex.engine.stress.batch`), in batches of at most ``batch_positions`` positions
so that memory stays bounded on a large book; each batch is stacked once, with its account
graph and row contexts (tiled from the book's price-independent parts,
:mod:`marginlex.engine.stress.tiled`), and evaluated under every rulebook; then each
scenario is compared with the unshocked book (:mod:`marginlex.engine.stress.impact`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
from pydantic import BaseModel, ConfigDict

from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.stress.batch import (
    Frames,
    batches,
    decide_batch,
    decide_stacked,
)
from marginlex.engine.stress.impact import Impact, Totals, impact, totals
from marginlex.engine.stress.reprice import shocked_frames
from marginlex.engine.stress.shocks import Scenario
from marginlex.engine.stress.tiled import base_of, prepare_tiled

BATCH_POSITIONS = 2_000_000


class Baseline(BaseModel):
    """One rulebook on the unshocked book."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rulebook_id: str
    title: str
    version: str
    totals: Totals


class StressResult(BaseModel):
    """Every scenario under every rulebook, against the unshocked book."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    book_name: str
    book_sha256: str
    as_of: dt.date
    scenarios: tuple[Scenario, ...]
    baselines: tuple[Baseline, ...]
    impacts: tuple[Impact, ...]

    def impact(self, scenario: str, rulebook_id: str) -> Impact:
        """The impact of one scenario under one rulebook."""
        return next(
            i for i in self.impacts if i.scenario == scenario and i.rulebook_id == rulebook_id
        )


def decide_all(
    rulebook: ResolvedRulebook, books: Sequence[Book], as_of: dt.date, limit: int
) -> list[pd.DataFrame]:
    """Each book's decisions under one rulebook, stacked in batches of bounded size."""
    out: list[pd.DataFrame] = []
    for part in batches([len(b.positions) for b in books], limit):  # one batch, usually
        out.extend(decide_batch(rulebook, [books[k] for k in part], as_of))
    return out


def decide_each(
    book: Book, rulebooks: Sequence[ResolvedRulebook], frames: Sequence[Frames], limit: int
) -> list[list[pd.DataFrame]]:
    """Per rulebook, each frame set's decisions (``frames[0]``: the book itself).

    Each batch of at most ``limit`` positions is stacked once, with its graph and
    contexts (tiled from the book's, :mod:`marginlex.engine.stress.tiled`), and decided
    under every rulebook before the next batch is built. Every frame set must be
    ``book``'s own or a shocked copy of it (:func:`shocked_frames`).
    """
    plans = [compile_plan(r, book.as_of) for r in rulebooks]
    out: list[list[pd.DataFrame]] = [[] for _ in rulebooks]
    sizes = [len(f["positions"]) for f in frames]
    base = base_of(book)  # what every stack tiles, built once
    for part in batches(sizes, limit):  # one batch, usually
        stacked = prepare_tiled(base, [frames[k] for k in part], book.as_of)
        for got, plan in zip(out, plans, strict=True):
            got.extend(decide_stacked(plan, stacked))
        del stacked  # one stack in memory at a time
    return out


def stress(
    book: Book,
    rulebooks: Sequence[ResolvedRulebook],
    scenarios: Sequence[Scenario],
    *,
    batch_positions: int = BATCH_POSITIONS,
) -> StressResult:
    """Re-decide every margin set of ``book`` under each scenario and each rulebook.

    Raises:
        marginlex.engine.stress.shocks.ShockError: a shock matches nothing in the book.
        ValueError: two scenarios share a name.

    >>> from marginlex.dsl.loader import load_rulebook
    >>> from marginlex.engine.book.load import load_demo_book
    >>> from marginlex.engine.stress.shocks import parse_shock
    >>> crash = Scenario(name="crash", shocks=(parse_shock("class_group=SPX:-20%"),))
    >>> result = stress(load_demo_book(), [load_rulebook("sec")], [crash])
    >>> result.impact("crash", "sec").totals.calls >= result.baselines[0].totals.calls
    True
    """
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ValueError(f"scenario names repeat: {', '.join(names)}")
    frames = [book.contract_frames(), *(shocked_frames(book, s) for s in scenarios)]
    decided = decide_each(book, rulebooks, frames, batch_positions)
    baselines: list[Baseline] = []
    impacts: list[Impact] = []
    for rulebook, ones in zip(rulebooks, decided, strict=True):  # a few rulebooks
        meta = rulebook.header
        baselines.append(
            Baseline(
                rulebook_id=rulebook.id,
                title=meta.title,
                version=meta.version or "",
                totals=totals(ones[0]),
            )
        )
        impacts.extend(
            impact(s.name, rulebook.id, ones[0], d)
            for s, d in zip(scenarios, ones[1:], strict=True)
        )
    return StressResult(
        book_name=book.name,
        book_sha256=book.sha256,
        as_of=book.as_of,
        scenarios=tuple(scenarios),
        baselines=tuple(baselines),
        impacts=tuple(impacts),
    )
