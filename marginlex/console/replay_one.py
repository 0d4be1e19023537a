"""Replay one recorded decision from its recorded rulebook bundle and book, and say whether it
comes out identical (and, if not, which lines of its explanation differ)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from marginlex.audit.canonical import canonical_json
from marginlex.audit.ledger.records import StoredDecision, money_text
from marginlex.audit.ledger.replay import CARRIED_FIELDS, column_differences, first_difference
from marginlex.audit.ledger.replay_run import replay_run
from marginlex.audit.ledger.store import Ledger
from marginlex.audit.trace.model import DecisionTrace, LedgerColumns, as_recorded
from marginlex.console.compare import line_diff
from marginlex.console.queries import find_run
from marginlex.console.trees import text_lines


@dataclass(frozen=True)
class ReplayOutcome:
    """Identical, or the first JSON path that differs and the explanation lines that do."""

    identical: bool
    detail: str | None = None
    lines: list[str] = field(default_factory=list)


def replay_decision(ledger: Ledger, stored: StoredDecision) -> ReplayOutcome:
    """Re-evaluate the decision's rulebook on its run's recorded book; compare this decision."""
    import json  # noqa: PLC0415

    run = find_run(ledger, stored.row.run_id)
    if run is None:
        return ReplayOutcome(False, f"the record of run {stored.row.run_id} is gone")
    ref = next((r for r in run.record.rulebooks if r.sha256 == stored.trace.rulebook.sha256), None)
    if ref is None:
        return ReplayOutcome(False, "the run did not record this decision's rulebook")
    texts = {ref.sha256: ledger.rulebook_text(ref.sha256) or ""}
    book = ledger.book_blob(run.record.book_sha256) or b""
    one = run.record.model_copy(update={"rulebooks": (ref,)})
    recorded = stored.trace.canonical()
    for again in replay_run(one, texts, book):  # every margin set of one rulebook
        if again.decision_id != stored.row.decision_id:
            continue
        body = as_recorded(again.body, recorded)
        if stored.carried_from is not None:  # the earlier decision names its own book and id
            doc = json.loads(body) | {k: json.loads(recorded).get(k) for k in CARRIED_FIELDS}
            body = canonical_json(doc)
        columns = column_differences(_stored_columns(stored), again.ledger_columns())
        if body == recorded and not columns:
            return ReplayOutcome(True)
        fresh = DecisionTrace.model_validate_json(body)
        detail = first_difference(json.loads(recorded), json.loads(body)) or "; ".join(columns)
        return ReplayOutcome(False, detail, line_diff(text_lines(stored.trace), text_lines(fresh)))
    return ReplayOutcome(False, "replay no longer makes this decision")


def _stored_columns(stored: StoredDecision) -> LedgerColumns:
    """The entry's stored columns as the chain writes them (replay compares them too: an
    edited call is not in the trace)."""
    row = stored.row
    return LedgerColumns(
        account_ids=canonical_json(list(row.account_ids)).decode("utf-8"),
        status=row.status.value,
        call=money_text(Decimal(str(row.call))),
        requirement=money_text(Decimal(str(row.requirement))),
    )
