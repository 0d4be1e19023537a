"""Benchmark: ``compare`` of three rulebooks on a 100k-account book, with attribution.

Generates (or reuses, with ``--book``) a synthetic book, then times in this one process:

- ``load``: :func:`load_book` of the written book;
- ``compare``: :func:`marginlex.engine.variants.compare.compare` of the three rulebooks (evaluating
  each on the whole book, pairing per account and per set, and attributing every changed
  account's delta rule by rule on the sub-book of the accounts that moved);
- ``json``: rendering the JSON of the comparison.

Default rulebooks: the harmonized proposal and its two shipped variants (a reviewer's usual
question: "what does each proposed change do to our book?"). Target: compare < 60 s.

Run: ``uv run --no-sync python bench/bench_compare.py [--accounts N] [--book DIR]
[--rulebook ID ...] [--no-attribution]``
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import load_book, write_book
from marginlex.engine.synth.generate import synth_book
from marginlex.engine.variants.compare import compare
from marginlex.engine.variants.compare_json import compare_json

DEFAULT = ("harmonized", "harmonized_85pct_offsets", "harmonized_no_digital_collateral")


def _timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    took = time.perf_counter() - start
    print(f"{label:<12} {took:8.2f} s")
    return out, took


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--book", type=Path, default=None, help="reuse a written book folder")
    parser.add_argument("--rulebook", "-r", action="append", default=None)
    parser.add_argument("--no-attribution", action="store_true")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    ids = tuple(args.rulebook or DEFAULT)
    rulebooks = [load_rulebook(i) for i in ids]
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.book
        if folder is None:
            folder = Path(tmp) / "book"
            meta, frames = synth_book(args.accounts, args.seed)
            write_book(meta, frames, folder, "parquet")
        book, _ = _timed("load", load_book, folder)
        print(
            f"book: {len(book.accounts):,} accounts, {len(book.positions):,} positions, "
            f"{len(book.collateral):,} lots; rulebooks: {', '.join(ids)}"
        )
        result, took = _timed(
            "compare",
            compare,
            rulebooks,
            book,
            with_attribution=not args.no_attribution,
            workers=args.workers,
        )
        _, _ = _timed("json", lambda: json.dumps(compare_json(result)))
    for c in result.comparisons:
        a = c.attribution
        if a is None:
            print(f"{c.from_id} -> {c.to_id}: requirement delta {c.requirement_delta:,.2f}")
            continue
        print(
            f"{c.from_id} -> {c.to_id}: {a.changed_accounts:,} accounts changed, "
            f"hybrids on {a.evaluated_accounts:,} accounts, {len(a.steps)} step(s); "
            f"requirement delta {c.requirement_delta:,.2f}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(
        f"compare target < 60 s: {'met' if took < 60 else 'NOT met'} ({took:.1f} s); "
        f"peak RSS {peak:.2f} GiB"
    )


if __name__ == "__main__":
    main()
