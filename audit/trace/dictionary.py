"""The Zstandard dictionary traces are compressed with: shipped, and stored in every ledger.

Traces are small documents (10-20 kB of canonical JSON) that repeat the same keys,
citations, rule ids and scenario labels. Compressed one by one without a dictionary, each
frame learns that vocabulary from scratch; with a dictionary trained on traces of the
shipped rulebooks, frames are about a third of the size and compression is faster.

The dictionary is a file in this package (``dictionary.zdict``), identified inside
every frame by :data:`DICTIONARY_ID`. A ledger stores each dictionary its traces use (the
``trace_dictionaries`` table), so a ledger never depends on the installed package to be
read, and an edited dictionary shows as traces that no longer match their hashes. A new
dictionary gets a new id; ledgers keep the ones they were written with.

Rebuild it (deterministic for a given engine and rulebooks) with::

    uv run --no-sync python -m marginlex.audit.ledger.train_dictionary --write
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

DICTIONARY_ID = 0x4D4C5801
"""``MLX`` and version 1: the id each frame compressed with this dictionary carries."""
DICTIONARY_PATH = Path(__file__).with_name("dictionary.zdict")
DICTIONARY_BYTES = 112_640


@cache
def shipped() -> bytes:
    """The shipped dictionary's bytes."""
    return DICTIONARY_PATH.read_bytes()
