"""``marginlex explain ID --what-if``: counterfactuals of a recorded decision.

The recorded rulebook bundle and book are read back from the ledger
(:mod:`marginlex.audit.ledger.recorded_inputs`), so that the search runs on exactly what the
decision was made from, never on today's files; the search itself is the engine's
(:func:`marginlex.engine.whatif.search.what_if`). This module reads and renders only.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

from marginlex.audit.ledger.recorded_inputs import RecordedInputError, book_from_blob, load_bundle
from marginlex.engine.book.ids import PATH_SEPARATOR

if TYPE_CHECKING:
    from marginlex.audit.ledger.records import StoredDecision, StoredRun
    from marginlex.engine.whatif.model import Counterfactual, Outcome, WhatIf


class RecordedInputs(Protocol):
    """What the search needs from a ledger: its runs and their recorded inputs."""

    def runs(self) -> list[StoredRun]: ...

    def rulebook_text(self, sha256: str) -> str | None: ...

    def book_blob(self, sha256: str) -> bytes | None: ...


def recorded_what_if(ledger: RecordedInputs, stored: StoredDecision) -> WhatIf:
    """The verified counterfactuals of a stored decision, on its recorded inputs.

    Raises:
        RecordedInputError: the ledger no longer holds the run's rulebook text or book.
        marginlex.engine.whatif.evaluator.SetNotFoundError: the recorded inputs no longer
            make this decision.
    """
    from marginlex.engine.whatif.search import what_if  # noqa: PLC0415 - the engine, on demand

    trace = stored.trace
    run = next((r.record for r in ledger.runs() if r.record.run_id == stored.row.run_id), None)
    bundle = ledger.rulebook_text(trace.rulebook.sha256)
    blob = None if run is None else ledger.book_blob(run.book_sha256)
    if not bundle or not blob:
        what = "rulebook text" if not bundle else "book"
        raise RecordedInputError(
            f"run {stored.row.run_id}: the ledger holds no recorded {what} for {trace.decision_id}"
        )
    return what_if(book_from_blob(blob), load_bundle(bundle), trace.as_of, trace.margin_set.id)


def _state(o: Outcome) -> str:
    eligible = "eligible" if o.eligible else "not eligible"
    return f"{o.status}, {eligible}, requirement {o.requirement:,.2f}, call {o.call:,.2f}"


def _line(c: Counterfactual) -> list[str]:
    verdict = "clears it" if c.clears else "does not clear it"
    cite = f"{c.rule_id}: {c.citation}" if c.citation else c.rule_id
    out = [f"  - {c.change}  ‹{cite}›"]
    if c.outcome is not None:
        out.append(f"      re-evaluated: {verdict}; {c.outcome.margin_set_id} {_state(c.outcome)}")
    if c.exposes:
        out.append(f"      exposes another failure: {', '.join(c.exposes)}")
    return out


def render_what_if(found: WhatIf, stored: StoredDecision) -> str:
    """The counterfactuals as text, grouped by what each one answers."""
    lines = [
        f"What would change {stored.trace.decision_id} ({found.rulebook_id}, "
        f"{found.margin_set_id}): now {_state(found.before)}",
    ]
    if not found.lines:
        lines.append("nothing to change: the set is eligible, has no call and no breach")
    else:
        lines.append(
            "each change below was applied to the recorded book and re-evaluated "
            f"({found.evaluations} evaluations)"
        )
    target = None
    for c in found.lines:  # rendering only
        if c.target != target:
            target = c.target
            lines.append(f"{_heading(c)}:")
        lines.extend(_line(c))
    return "\n".join(lines) + "\n"


def _heading(c: Counterfactual) -> str:
    if c.target == "call":
        return "to clear the call"
    if PATH_SEPARATOR in c.target:  # requirement names and "call" hold no arrow
        return f"to end the breach path {c.target}"
    if ";" in c.target:
        return "to become eligible"
    return f"to pass the requirement {c.target}"


def what_if_json(found: WhatIf, stored: StoredDecision) -> str:
    """The counterfactuals as JSON for tools."""
    doc: dict[str, Any] = {
        "decision_id": stored.trace.decision_id,
        "ledger_entry": {"run_id": stored.row.run_id, "seq": stored.row.seq},
        **found.model_dump(mode="json"),
    }
    return json.dumps(doc, indent=2) + "\n"
