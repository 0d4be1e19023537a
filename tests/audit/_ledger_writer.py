"""A separate process that records runs into a ledger (for the crash and concurrency tests).

Usage: python _ledger_writer.py LEDGER MODE N [MARKER] [GO]
MODE ``slow``: one run of N decisions; after 3/4 of them, write MARKER and hang mid-write.
MODE ``runs``: wait for GO to exist, then record three runs of N decisions each.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from marginlex.audit.ledger.records import RunRecord
from marginlex.audit.ledger.store import Ledger
from marginlex.audit.trace.model import DecisionTrace

DATA = Path(__file__).parents[1] / "data" / "audit" / "pm_decision.json"


def traces(base: DecisionTrace, n: int, marker: Path | None) -> Iterator[DecisionTrace]:
    tag = uuid.uuid4().hex[:8]
    for i in range(n):
        if marker is not None and i == 3 * n // 4:
            marker.write_text("mid-write")
            time.sleep(600)  # killed here, with earlier chunks inserted but not committed
        yield base.model_copy(update={"decision_id": f"d-{tag}-{i}"})


def main() -> None:
    location, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    base = DecisionTrace.model_validate_json(DATA.read_text())
    ledger = Ledger.open(location)

    def run() -> RunRecord:
        return RunRecord(
            as_of=base.as_of,
            book_sha256=base.book_sha256,
            engine_version=base.engine_version,
            rulebooks=(base.rulebook,),
        )

    texts, blob = ["rulebook harmonized_pm (fixture text)"], b"demo book (fixture)"
    if mode == "slow":
        ledger.record_run(run(), traces(base, n, Path(sys.argv[4])), texts, blob, chunk_size=50)
        return
    go = Path(sys.argv[5])
    while not go.exists():
        time.sleep(0.01)
    for _ in range(3):
        ledger.record_run(run(), traces(base, n, None), texts, blob, chunk_size=50)


if __name__ == "__main__":
    main()
