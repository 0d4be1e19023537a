"""Fixtures of the distributed run: a two-worker in-process Dask cluster, shared by the
module's tests (threads, not processes: the machine is shared), and the books it runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from marginlex.dsl.loader import load_rulebook
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book, load_book, load_demo_book, write_book
from marginlex.engine.distributed.cluster import ClusterSpec, open_client
from marginlex.engine.synth.generate import synth_book

SYNTH_ACCOUNTS = 500


@pytest.fixture(scope="session")
def client() -> Iterator[Any]:
    with open_client(ClusterSpec.parse("local:2"), processes=False) as c:
        yield c


@pytest.fixture(scope="session")
def rulebooks() -> list[ResolvedRulebook]:
    return [load_rulebook(name) for name in ("sec", "cftc", "harmonized")]


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Book:
    meta, frames = synth_book(SYNTH_ACCOUNTS, 7)
    folder: Path = tmp_path_factory.mktemp("synth")
    return load_book(write_book(meta, frames, folder))


@pytest.fixture(scope="session", params=["demo", "synth"])
def book(request: pytest.FixtureRequest, synth: Book) -> Book:
    return load_demo_book() if request.param == "demo" else synth
