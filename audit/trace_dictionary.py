"""The Zstandard dictionary traces are compressed with: shipped, and stored in every ledger.

Traces are small documents (10-20 kB of canonical JSON) that repeat the same keys,
citations, rule ids and scenario labels. Compressed one by one without a dictionary, each
frame learns that vocabulary from scratch; with a dictionary trained on traces of the
shipped rulebooks, frames are about a third of the size and compression is faster.

The dictionary is a file in this package (``trace_dictionary.zdict``), identified inside
every frame by :data:`DICTIONARY_ID`. A ledger stores each dictionary its traces use (the
``trace_dictionaries`` table), so a ledger never depends on the installed package to be
read, and an edited dictionary shows as traces that no longer match their hashes. A new
dictionary gets a new id; ledgers keep the ones they were written with.

Rebuild it (deterministic for a given engine and rulebooks) with::

    uv run --no-sync python -m marginlex.audit.trace_dictionary --write
"""

from __future__ import annotations

import argparse
import tempfile
from functools import cache
from pathlib import Path

DICTIONARY_ID = 0x4D4C5801
"""``MLX`` and version 1: the id each frame compressed with this dictionary carries."""
DICTIONARY_PATH = Path(__file__).with_name("trace_dictionary.zdict")
DICTIONARY_BYTES = 112_640
SAMPLE_ACCOUNTS = 3_000


@cache
def shipped() -> bytes:
    """The shipped dictionary's bytes."""
    return DICTIONARY_PATH.read_bytes()


def _samples() -> list[bytes | bytearray | memoryview[int]]:
    """Traces of a synthetic book under the shipped rulebooks and variants."""
    # Imported here: the engine is only needed to rebuild the dictionary.
    from marginlex.audit.from_evaluation import trace_columns  # noqa: PLC0415
    from marginlex.audit.record import rulebook_ref  # noqa: PLC0415
    from marginlex.audit.recorded_inputs import rulebook_bundle  # noqa: PLC0415
    from marginlex.dsl.loader import load_rulebook  # noqa: PLC0415
    from marginlex.engine.book import load_book, write_book  # noqa: PLC0415
    from marginlex.engine.graph import AccountGraph  # noqa: PLC0415
    from marginlex.engine.run import run_rulebook  # noqa: PLC0415
    from marginlex.engine.synth import synth_book  # noqa: PLC0415

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
