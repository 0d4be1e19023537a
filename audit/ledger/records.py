"""What the ledger stores and hands back: run records and stored decisions."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from pydantic import Field

from marginlex.audit.canonical import canonical_json, sha256_hex
from marginlex.audit.trace.model import DecisionTrace, RulebookRef
from marginlex.audit.trace.money import Money
from marginlex.audit.trace.steps import TraceModel
from marginlex.engine.outcomes import DecisionStatus


def new_run_id() -> str:
    """A fresh run id (``r-`` and 16 hex digits)."""
    return f"r-{uuid.uuid4().hex[:16]}"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class RunOrigin(TraceModel):
    """Who ran a run, where, and how: chained with the run record (issue 15, part 2)."""

    command_line: str = Field(description="The command line, passwords and tokens removed.")
    host: str
    operator: str


class RunRecord(TraceModel):
    """One run as the caller describes it: the rulebooks, the book, the as-of date."""

    as_of: date
    book_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    created_at: datetime = Field(default_factory=_now)
    engine_version: str
    origin: RunOrigin | None = Field(
        default=None, description="Who ran it, where, how (None: not recorded, older runs)."
    )
    out_of_scope: int = Field(default=0, ge=0, description="Accounts no rulebook decided.")
    rulebooks: tuple[RulebookRef, ...] = Field(min_length=1)
    run_id: str = Field(default_factory=new_run_id)
    book_digest_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description=(
            "sha256 of the book's stored digest, which a later run --since compares with its "
            "book (set by the ledger as it records; None: none stored, or an older run)."
        ),
    )
    engine_code_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description=(
            "sha256 of the sources that decided the run (marginlex.engine.version): "
            "a later run --since carries nothing forward when today's differs (None: not "
            "recorded, an older run)."
        ),
    )

    def digest(self, book_blob_sha256: str) -> str:
        """sha256 of the run record and its stored book's sha256: chained into each decision.

        A run without an origin, a book digest or a code fingerprint hashes as runs did before
        each was recorded.
        """
        unset = {name for name in _SINCE_ADDED if getattr(self, name) is None}
        record = self.model_dump(mode="json", exclude=unset or None)
        return sha256_hex(canonical_json(record | {"book_blob_sha256": book_blob_sha256}))


_SINCE_ADDED = ("origin", "book_digest_sha256", "engine_code_sha256")
"""Run record fields added after the first release: left out of the digest while None."""


class RunCounts(TraceModel):
    """How many decisions a run recorded, by status."""

    breach: int = 0
    call: int = 0
    decisions: int = 0
    ok: int = 0


class StoredRun(TraceModel):
    """A run as the ledger holds it."""

    counts: RunCounts
    record: RunRecord


class DecisionRow(TraceModel):
    """One ledger entry without its trace: what ``marginlex ledger`` lists."""

    account_ids: tuple[str, ...]
    call: Money
    decision_id: str
    margin_set_id: str
    mismatch: str | None = Field(
        default=None,
        description="Set when the row no longer matches its entry hash: it was edited.",
    )
    requirement: Money
    rulebook_id: str
    run_id: str
    seq: int
    status: DecisionStatus

    def json_row(self) -> dict[str, object]:
        """The row as every listing's JSON shows it (``marginlex ledger --format json``, the
        console's ``/decisions.json``): money as numbers to the cent, no empty fields.

        >>> from decimal import Decimal
        >>> DecisionRow(account_ids=("A",), call=Decimal("12.50"), decision_id="d",
        ...     margin_set_id="ms:A", requirement=Decimal("100"), rulebook_id="sec",
        ...     run_id="r", seq=1, status="call").json_row()["call"]
        12.5
        """
        row = self.model_dump(mode="json", exclude_none=True)
        return {k: float(v) if k in {"requirement", "call"} else v for k, v in row.items()}


class CarriedFrom(TraceModel):
    """The earlier entry a decision carried forward by ``run --since`` refers to."""

    decision_id: str
    run_id: str
    seq: int


class StoredDecision(TraceModel):
    """One ledger entry with its trace and its place in the chain (an entry carried forward
    shows the trace of the entry it refers to, named in ``carried_from``)."""

    carried_from: CarriedFrom | None = Field(
        default=None, description="The earlier entry whose decision this one carries forward."
    )
    entry_hash: str
    origin: RunOrigin | None = Field(
        default=None, description="Who ran its run, where, how (None: not recorded)."
    )
    prev_hash: str
    recorded_at: datetime | None = Field(
        default=None, description="When its run was recorded (None if the run row is gone)."
    )
    row: DecisionRow
    trace: DecisionTrace


def money_text(amount: Decimal) -> str:
    """An amount as the chain hashes it: two decimals, no exponent.

    >>> money_text(Decimal("1E+2"))
    '100.00'
    """
    return f"{amount:.2f}"
