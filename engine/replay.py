"""Replay a recorded run: rebuild its inputs from the ledger, re-evaluate, re-trace.

``marginlex verify --replay`` finds :func:`replay_run` here (the audit package's replay
seam, :data:`marginlex.audit.replay.REPLAY_MODULE`). The rulebooks are rebuilt from their
recorded canonical texts (bases included, so a variant that is not shipped replays too), the
book from its recorded blob; the traces are built exactly as ``marginlex run --ledger``
built them, stamped with the recorded engine version, so that any byte that differs is a
difference in what the engine decides today.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from marginlex.audit.from_evaluation import trace_bytes, trace_columns
from marginlex.audit.recorded_inputs import book_from_blob, load_bundle, rulebook_sha256
from marginlex.audit.records import RunRecord
from marginlex.audit.trace import RulebookRef
from marginlex.engine.compile import compile_plan
from marginlex.engine.evaluate import evaluate
from marginlex.engine.graph import AccountGraph


class ReplayError(ValueError):
    """A recorded run whose inputs are missing or no longer load."""


@dataclass(frozen=True)
class ReplayedTrace:
    """One re-made decision: its id and canonical trace bytes."""

    decision_id: str
    body: bytes

    def canonical(self) -> bytes:
        """The canonical trace JSON (compared byte for byte with the recording)."""
        return self.body


def replay_run(
    run: RunRecord, texts: Mapping[str, str], book_blob: bytes
) -> Iterator[ReplayedTrace]:
    """Re-make every decision of a recorded run from its recorded inputs.

    Args:
        run: the recorded run (rulebooks, book sha256, as-of, engine version).
        texts: the recorded canonical rulebook texts by sha256.
        book_blob: the recorded book content.

    Yields:
        One trace per margin set per rulebook, as the engine makes it today.

    Raises:
        ReplayError: a rulebook text or the book is missing.
    """
    if not book_blob:
        raise ReplayError(f"run {run.run_id}: the ledger holds no book content to replay")
    book = book_from_blob(book_blob)
    if book.sha256 != run.book_sha256:
        # Recorded by a marginlex that hashed a book before filling its defaults (blank
        # class_group or multiplier cells, issue 10): the content is the chained blob, its
        # recorded sha256 is the name every decision id was made from.
        book = book.model_copy(update={"sha256": run.book_sha256})
    graph = AccountGraph(book)
    for ref in run.rulebooks:  # a few rulebooks
        bundle = texts.get(ref.sha256)
        if not bundle:
            raise ReplayError(f"run {run.run_id}: no recorded text for rulebook {ref.id}")
        plan = compile_plan(load_bundle(bundle), run.as_of)
        ev = evaluate(plan, book, run.as_of, graph)
        again = RulebookRef(
            id=plan.rulebook_id,
            name=plan.title,
            version=plan.version,
            sha256=rulebook_sha256(bundle),
        )
        for decision_id, body in trace_bytes(trace_columns(ev, book, again, run.engine_version)):
            yield ReplayedTrace(decision_id, body)
