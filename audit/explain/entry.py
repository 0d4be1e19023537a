"""Where a decision sits in the ledger, as ``explain`` names it above the explanation."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from marginlex.audit.ledger.records import StoredDecision

LEDGER_CITE = "ledger entry"


def entry_fields(stored: StoredDecision) -> dict[str, str | int | None]:
    """The run id, ledger sequence, entry hash and recorded time of a stored decision."""
    recorded = stored.recorded_at
    return {
        "entry_hash": stored.entry_hash,
        "hash_mismatch": stored.row.mismatch,
        "recorded_at": None if recorded is None else recorded.isoformat(),
        "run_id": stored.row.run_id,
        "seq": stored.row.seq,
    }


def entry_line(stored: StoredDecision) -> str:
    """One line naming the ledger entry (the text form's first line)."""
    f = entry_fields(stored)
    recorded = f["recorded_at"] or "at an unknown time (its run record is gone)"
    return (
        f"Ledger entry #{f['seq']} of run {f['run_id']}, recorded {recorded}, "
        f"entry hash {f['entry_hash']}"
    )
