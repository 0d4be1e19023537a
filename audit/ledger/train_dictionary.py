"""Rebuild the shipped Zstandard trace dictionary from traces of a synthetic book.

Training needs the engine and the recorder, so it lives here rather than beside the
dictionary it writes (:mod:`marginlex.audit.trace.dictionary`)::

    uv run --no-sync python -m marginlex.audit.ledger.train_dictionary --write
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from marginlex.audit.ledger.record import rulebook_ref
from marginlex.audit.ledger.recorded_inputs import rulebook_bundle
from marginlex.audit.trace.dictionary import DICTIONARY_BYTES, DICTIONARY_ID, DICTIONARY_PATH
from marginlex.audit.trace.from_evaluation import trace_columns
from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import load_book, write_book
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.run import run_rulebook
from marginlex.engine.synth.generate import synth_book

SAMPLE_ACCOUNTS = 3_000


def _samples() -> list[bytes | bytearray | memoryview[int]]:
    """Traces of a synthetic book under the shipped rulebooks and variants."""

    meta, frames = synth_book(SAMPLE_ACCOUNTS, 7)
    book = load_book(write_book(meta, frames, Path(tempfile.mkdtemp()) / "book", "parquet"))
    graph = AccountGraph(book)
    samples: list[bytes | bytearray | memoryview[int]] = []
    for name in ("sec", "cftc", "harmonized"):  # the shipped rulebooks
        rulebook = load_rulebook(name)
        ev = run_rulebook(rulebook, book, None, graph)
        ref = rulebook_ref(rulebook, ev, rulebook_bundle(rulebook))
        samples += [t.encode("utf-8") for t in trace_columns(ev, book, ref, "sample").json]
    return samples


def build() -> bytes:
    """Train the dictionary on traces of a synthetic book (about half a minute)."""
    import zstandard  # noqa: PLC0415

    trained = zstandard.train_dictionary(
        DICTIONARY_BYTES, _samples(), dict_id=DICTIONARY_ID, level=1, threads=1
    )
    return trained.as_bytes()


def main() -> None:
    """``--write``: rebuild the shipped dictionary file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {DICTIONARY_PATH.name}")
    args = parser.parse_args()
    data = build()
    if args.write:
        DICTIONARY_PATH.write_bytes(data)
    print(
        f"dictionary {DICTIONARY_ID:#x}: {len(data):,} bytes" + (" written" if args.write else "")
    )


if __name__ == "__main__":
    main()
