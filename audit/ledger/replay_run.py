"""Replay a recorded run: rebuild its inputs from the ledger, re-evaluate, re-trace.

``marginlex verify --replay`` hands :func:`replay_run` (a
:data:`~marginlex.audit.ledger.replay.Replayer`) to ``verify``. The rulebooks are rebuilt from their
recorded canonical texts (bases included, so a variant that is not shipped replays too), the
book from its recorded blob; the traces are built exactly as ``marginlex run --ledger``
built them, stamped with the recorded engine version, so that any byte that differs is a
difference in what the engine decides today.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from marginlex.audit.ledger.recorded_inputs import (
    book_from_blob,
    bundle_sources,
    load_bundle,
    rulebook_sha256,
)
from marginlex.audit.ledger.records import RunRecord
from marginlex.audit.trace.from_evaluation import TraceColumns, trace_bytes, trace_columns
from marginlex.audit.trace.model import (
    SCHEMA_VERSION,
    LedgerColumns,
    RulebookRef,
    RulebookSource,
)
from marginlex.engine.evaluate import evaluate
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.graph.set_inputs import BookRows, set_input_hashes
from marginlex.engine.plan.compile import compile_plan


class ReplayError(ValueError):
    """A recorded run whose inputs are missing or no longer load."""


@dataclass(frozen=True)
class ReplayedTrace:
    """One re-made decision: its id, canonical trace bytes, ledger columns and its set's
    input hash (what a later ``run --since`` compares; None for a set without input rows)."""

    decision_id: str
    body: bytes
    columns: LedgerColumns
    inputs_sha256: str | None = None

    def canonical(self) -> bytes:
        """The canonical trace JSON (compared byte for byte with the recording)."""
        return self.body

    def ledger_columns(self) -> LedgerColumns:
        """The ledger columns the engine computes today (compared with the stored ones)."""
        return self.columns


def _sources(bundle: str, recorded: RulebookRef) -> tuple[RulebookSource, ...]:
    """The sources of a replayed rulebook: ids and sha256 from the recorded texts, the file
    paths as recorded (a recording made before traces named their sources has none)."""
    if not recorded.sources:
        return ()
    paths = [s.path for s in recorded.sources]
    return tuple(
        RulebookSource(id=i, path=paths[n] if n < len(paths) else "(not recorded)", sha256=sha)
        for n, (i, sha) in enumerate(bundle_sources(bundle))
    )


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
    rows = BookRows(book)
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
            sources=_sources(bundle, ref),
        )
        # A recording made before traces named their sources is a 1.0 one: re-made as 1.0.
        version = SCHEMA_VERSION if ref.sources else "1.0"
        columns = trace_columns(ev, book, again, run.engine_version, schema_version=version)
        inputs = set_input_hashes(ev.frames, ev.decisions["margin_set_id"], book, rows)
        yield from _replayed(
            columns, dict(zip(inputs.index.tolist(), inputs.tolist(), strict=True))
        )


def _replayed(columns: TraceColumns, inputs: Mapping[str, str]) -> Iterator[ReplayedTrace]:
    """Each re-made trace with the ledger columns and its set's input hash beside it."""
    figures = zip(
        columns.account_ids, columns.statuses, columns.calls, columns.requirements, strict=True
    )
    for (decision_id, body), (accounts, status, call, requirement), set_id in zip(
        trace_bytes(columns), figures, columns.margin_set_ids, strict=True
    ):
        money = LedgerColumns(accounts, status, _cents(call), _cents(requirement))
        yield ReplayedTrace(decision_id, body, money, inputs.get(set_id))


def _cents(amount: str) -> str:
    """An amount as the ledger's columns read back: two decimals."""
    return f"{Decimal(amount):.2f}"
