"""Where a decision sits in the ledger, as ``explain`` names it above the explanation."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from marginlex.audit.ledger.records import StoredDecision

LEDGER_CITE = "ledger entry"
NOT_RECORDED = "not recorded"
"""Who ran a run recorded before marginlex recorded it."""


def entry_fields(stored: StoredDecision) -> dict[str, str | int | None]:
    """The run id, ledger sequence, entry hash and recorded time of a stored decision, and
    who ran its run (operator, host, command line; None when not recorded)."""
    recorded, origin = stored.recorded_at, stored.origin
    return {
        "command_line": None if origin is None else origin.command_line,
        "entry_hash": stored.entry_hash,
        "hash_mismatch": stored.row.mismatch,
        "host": None if origin is None else origin.host,
        "operator": None if origin is None else origin.operator,
        "recorded_at": None if recorded is None else recorded.isoformat(),
        "run_id": stored.row.run_id,
        "seq": stored.row.seq,
    }


def entry_line(stored: StoredDecision) -> str:
    """One line naming the ledger entry and who ran its run (the text form's first line)."""
    f = entry_fields(stored)
    recorded = f["recorded_at"] or "at an unknown time (its run record is gone)"
    who = (
        f"run by {f['operator']} on {f['host']}: {f['command_line']}"
        if f["operator"] is not None
        else f"who ran it: {NOT_RECORDED}"
    )
    return (
        f"Ledger entry #{f['seq']} of run {f['run_id']}, recorded {recorded}, "
        f"entry hash {f['entry_hash']}, {who}"
    )
