"""Several books of one date evaluated as one: the stacked book.

Every id of book ``k`` (parties, accounts, instruments, lots, and the columns that refer to
them) is prefixed ``~s<k>~``, and the books are concatenated into one. No margin set,
relation or pledge reaches from one stacked book into another (every reference carries its
own prefix), so one evaluation of the stacked book makes exactly the decisions each book
would get alone, in one pass of whole-column steps instead of one pass per book
(``tests/stress/test_stress_batch.py`` checks it). Class groups are not prefixed: they group
positions inside a margin set, which never spans two books.

``stress`` builds its stacks by tiling what the unshocked book already knows
(:mod:`marginlex.engine.stress.tiled`); :func:`prepare_stack`, which derives everything
again over the stacked rows, is the plain build it must equal (and serves any books).

What does not depend on the rulebook is built once per stack and shared by every
rulebook (:class:`Stacked`): the stacked frames and their derived columns, the account
graph (relations, memberships, pledge reach, per-account columns) and the row contexts
(joins of positions to instruments and accounts, residual maturities). Shocked copies come
in as bare contract frames (:func:`marginlex.engine.stress.reprice.shocked_frames`): they
are derived once, in the stack, and never hashed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.columns import prefixed
from marginlex.engine.book.derive import derive
from marginlex.engine.book.load import Book
from marginlex.engine.book.schema import FILES
from marginlex.engine.evaluate import evaluate
from marginlex.engine.graph.account_graph import STACKED_TAG, AccountGraph
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.plan.context import Contexts, build_contexts
from marginlex.engine.plan.steps import Plan

Frames = Mapping[str, pd.DataFrame]
"""A book's contract frames by file stem, in canonical order (:meth:`Book.contract_frames`)."""

ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "parties": ("party_id",),
    "accounts": ("account_id", "owner_id", "carrier_id"),
    "relations": ("src", "dst"),
    "instruments": ("instrument_id", "underlying"),
    "positions": ("account_id", "instrument_id"),
    "collateral": ("lot_id", "account_id", "pledged_to"),
}
"""The columns that hold an id (or a reference to one), per file."""

_TAG = STACKED_TAG.removeprefix("^")
_TEXT_COLUMNS = (
    "decision_id",
    "margin_set_id",
    "account_ids",
    "takes_in_from",
    "segregation_violations",
)


def tag(k: int) -> str:
    """The id prefix of stacked book ``k``.

    >>> tag(3)
    '~s3~'
    """
    return f"~s{k}~"


def _prefixed(frame: pd.DataFrame, columns: tuple[str, ...], prefix: str) -> pd.DataFrame:
    return frame.assign(**{col: prefixed(frame[col], prefix) for col in columns})


def stack_books(books: Sequence[Book]) -> Book:
    """One book holding every book of ``books`` (one as-of date), ids prefixed by :func:`tag`."""
    first = books[0]
    if any(b.as_of != first.as_of for b in books):
        raise ValueError("stacked books must share one as-of date")
    return stack_frames(first, [b.contract_frames() for b in books])


def stack_frames(first: Book, books: Sequence[Frames]) -> Book:
    """One book (the date, currency and name of ``first``) holding each frame set of
    ``books``, ids prefixed by :func:`tag`, derived columns computed once over the stack."""
    # Each frame set is in canonical order and every file sorts first by an id, which its
    # tag prefixes; no tag is a prefix of another, so the stack is in canonical order when
    # the sets come in the order of their tags (~s0~, ~s10~, ~s11~, ~s1~, ~s2~, ...): no sort.
    frames = concat_prefixed(books)
    return first.model_copy(update={"sha256": "", "warnings": (), **derive(frames)})


def stack_order(n: int) -> list[int]:
    """The order of ``n`` books in their stack: the order of their tags.

    >>> stack_order(12)
    [0, 10, 11, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """
    return sorted(range(n), key=tag)


def concat_prefixed(books: Sequence[Frames]) -> dict[str, pd.DataFrame]:
    """Each file's frames of ``books``, ids prefixed by :func:`tag`, concatenated in
    :func:`stack_order` (not derived)."""
    frames: dict[str, pd.DataFrame] = {}
    for spec in FILES:
        parts = [
            _prefixed(books[k][spec.stem], ID_COLUMNS[spec.stem], tag(k))
            for k in stack_order(len(books))
        ]
        frames[spec.stem] = pd.concat(parts, ignore_index=True)
    return frames


@dataclass(frozen=True)
class Stacked:
    """A stacked book and what every rulebook's evaluation of it shares.

    Attributes:
        book: the stacked book (:func:`stack_frames`).
        graph: its account graph, built once.
        contexts: its row contexts as of ``as_of``, built once (each evaluation resets
            their ``eligible`` columns, so rulebooks may share them).
        n: how many books are stacked.
    """

    book: Book
    graph: AccountGraph
    contexts: Contexts
    as_of: dt.date
    n: int


def prepare_stack(first: Book, books: Sequence[Frames], as_of: dt.date) -> Stacked:
    """Stack ``books`` (see :func:`stack_frames`) and build their shared graph and contexts."""
    stacked = stack_frames(first, books)
    graph = AccountGraph(stacked)
    return Stacked(stacked, graph, build_contexts(stacked, as_of, graph), as_of, len(books))


def decide_stacked(plan: Plan, stacked: Stacked) -> list[pd.DataFrame]:
    """Each stacked book's decisions frame under one compiled rulebook."""
    evaluation = evaluate(  # decisions only: no trace frames are made
        plan, stacked.book, stacked.as_of, stacked.graph, contexts=stacked.contexts, trace=False
    )
    return split_decisions(evaluation.decisions, stacked.n)


def split_decisions(decisions: pd.DataFrame, n: int) -> list[pd.DataFrame]:
    """The decisions of a stacked book, one frame per book, prefixes removed."""
    which = decisions["margin_set_id"].str.extract(r"^ms:~s(\d+)~", expand=False)
    book_no = which.astype("int64").to_numpy()
    clean = decisions.assign(
        **{c: decisions[c].astype("str").str.replace(_TAG, "", regex=True) for c in _TEXT_COLUMNS}
    )
    return [clean[book_no == k].reset_index(drop=True) for k in range(n)]


def decide_batch(
    rulebook: ResolvedRulebook, books: Sequence[Book], as_of: dt.date
) -> list[pd.DataFrame]:
    """Each book's decisions frame under one rulebook, from one evaluation of the stack."""
    if any(b.as_of != books[0].as_of for b in books):
        raise ValueError("stacked books must share one as-of date")
    stacked = prepare_stack(books[0], [b.contract_frames() for b in books], as_of)
    return decide_stacked(compile_plan(rulebook, as_of), stacked)


def batches(sizes: Sequence[int], limit: int) -> list[range]:
    """Consecutive runs of books whose positions add up to at most ``limit`` (one book at least).

    >>> batches([5, 5, 5], 10)
    [range(0, 2), range(2, 3)]
    """
    out: list[range] = []
    start, total = 0, 0
    for k, size in enumerate(np.asarray(sizes, dtype=np.int64).tolist()):  # a few books
        if k > start and total + size > limit:
            out.append(range(start, k))
            start, total = k, 0
        total += size
    out.append(range(start, len(sizes)))
    return out
