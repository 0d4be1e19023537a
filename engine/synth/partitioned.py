"""Partitioned synthetic books, written partition by partition (``synth --partitions K``).

The firms, their house accounts and the instrument universe are drawn once (from the seed);
then each partition's customers, accounts, positions and collateral are drawn from their own
generator (the seed and the partition's number) and written before the next partition is
drawn, so a book of tens of millions of positions is written holding one partition at a
time. A partition's ids carry its number (``A0003-000017``, ``C0003-000009``,
``L0003-000042``), an owner's accounts and their pledges stay in one partition, and the house
accounts and the lots pledged to them (the planted breaches) are in partition 0: no margin
set spans two partitions. The same ``(n_accounts, seed, k)`` gives the same files; the book
is not the one ``synth_book(n_accounts, seed)`` draws (its draws are cut differently).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from marginlex.engine.book.load import write_book, write_tables
from marginlex.engine.book.partitioned import PARTITIONS, partition_name
from marginlex.engine.book.validate import BookMeta
from marginlex.engine.synth.generate import (
    DEFAULT_AS_OF,
    MIN_ACCOUNTS,
    _collateral,
    _positions,
    _wealth,
)
from marginlex.engine.synth.instruments import Universe, build_universe
from marginlex.engine.synth.parties import Firms, draw_customers, make_firms

Progress = Callable[[int, dict[str, int]], None]
"""Told after each partition is written: its number and its row counts."""


def partition_sizes(customers: int, k: int) -> list[int]:
    """Customer accounts per partition: as even as can be, the first ones one larger.

    >>> partition_sizes(10, 3)
    [4, 3, 3]
    """
    return [customers // k + (1 if j < customers % k else 0) for j in range(k)]


def write_partitioned_synth(
    n_accounts: int,
    seed: int,
    k: int,
    out: Path,
    *,
    fmt: str = "parquet",
    as_of: date = DEFAULT_AS_OF,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write a synthetic book of ``n_accounts`` accounts in ``k`` partitions under ``out``.

    Returns:
        The rows written per table.

    Raises:
        ValueError: fewer than :data:`MIN_ACCOUNTS` accounts per partition, or ``k`` < 1.
    """
    if k < 1 or n_accounts < MIN_ACCOUNTS * k:
        raise ValueError(
            f"a synthetic book of {k} partitions needs at least {MIN_ACCOUNTS} accounts a "
            f"partition ({MIN_ACCOUNTS * max(k, 1)}), got {n_accounts}"
        )
    rng = np.random.default_rng(seed)
    firms = make_firms(n_accounts, rng)
    uni = build_universe(n_accounts, as_of, rng)
    sizes = partition_sizes(n_accounts - len(firms.house), k)
    counts = dict.fromkeys(("accounts", "positions", "collateral"), 0)
    parties, relations = [firms.parties], [firms.relations]
    for j, size in enumerate(sizes):  # one partition in memory at a time
        drawn = _partition(j, size, seed, firms=firms, uni=uni, as_of=as_of)
        write_tables(drawn.tables, out / PARTITIONS / partition_name(j), fmt)
        parties.append(drawn.parties)
        relations.append(drawn.relations)
        rows = {stem: len(frame) for stem, frame in drawn.tables.items()}
        counts = {stem: counts[stem] + rows[stem] for stem in counts}
        if progress is not None:
            progress(j, rows)
    meta = BookMeta(
        as_of=as_of,
        currency="USD",
        name=f"synthetic book ({n_accounts} accounts, seed {seed}, {k} partitions)",
    )
    small = {
        "parties": pd.concat(parties, ignore_index=True),
        "relations": pd.concat(relations, ignore_index=True),
        "instruments": uni.frame,
    }
    write_book(meta, small, out, fmt)
    return {**{stem: len(frame) for stem, frame in small.items()}, **counts}


@dataclass(frozen=True)
class _Drawn:
    """One partition's draw: its three tables, and its customers and their relations."""

    tables: dict[str, pd.DataFrame]
    parties: pd.DataFrame
    relations: pd.DataFrame


def _partition(j: int, size: int, seed: int, *, firms: Firms, uni: Universe, as_of: date) -> _Drawn:
    """Partition ``j``: ``size`` customer accounts (and, in partition 0, the house's)."""
    rng = np.random.default_rng([seed, j])
    tag = f"{j:04d}-"
    people = draw_customers(size, firms, rng, tag)
    house = [firms.house] if j == 0 else []
    accounts = pd.concat([people.accounts, *house], ignore_index=True)
    wealth = _wealth(accounts, rng)
    positions = _positions(accounts, people.hedges, uni, wealth, rng)
    collateral = _collateral(accounts, wealth, firms, rng, as_of, tag=tag, breaches=j == 0)
    tables = {
        "accounts": accounts.drop(columns=["profile"]),
        "positions": positions,
        "collateral": collateral,
    }
    return _Drawn(tables, people.parties, people.relations)
