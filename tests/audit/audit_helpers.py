"""Helpers shared by the audit tests (imported by name: a module named ``conftest`` is
ambiguous when pytest collects several test folders that each have one)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import Connection, select, update

from marginlex.audit.ledger import decision_keys, run_summaries
from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.chain import entry_hash, entry_header
from marginlex.audit.ledger.records import RunRecord
from marginlex.audit.ledger.store import Ledger
from marginlex.audit.trace.model import DecisionFigures, DecisionTrace
from marginlex.engine.outcomes import DecisionStatus

DATA = Path(__file__).parents[1] / "data" / "audit"
RULEBOOK_TEXT = "rulebook harmonized_pm (fixture text)"
BOOK_BLOB = b"demo book (fixture)"


def variant(
    trace: DecisionTrace,
    decision_id: str,
    *,
    accounts: tuple[str, ...] | None = None,
    excess: str | None = None,
    status: DecisionStatus | None = None,
) -> DecisionTrace:
    """A copy of ``trace`` under another id, optionally other accounts and excess."""
    ms = trace.margin_set
    if accounts is not None:
        ms = ms.model_copy(update={"id": f"ms-{accounts[0]}", "account_ids": accounts})
    figures = trace.figures
    if excess is not None:
        amount = Decimal(excess)
        call = max(-amount, Decimal(0))
        data = figures.model_dump() | {
            "excess": amount,
            "call": call,
            "status": status or (DecisionStatus.CALL if call > 0 else DecisionStatus.OK),
        }
        figures = DecisionFigures.model_validate(data)
    return trace.model_copy(
        update={"decision_id": decision_id, "margin_set": ms, "figures": figures}
    )


def run_for(trace: DecisionTrace, run_id: str | None = None) -> RunRecord:
    """A run record matching ``trace``'s rulebook, book and as-of."""
    extra = {"run_id": run_id} if run_id else {}
    return RunRecord(
        as_of=trace.as_of,
        book_sha256=trace.book_sha256,
        engine_version=trace.engine_version,
        rulebooks=(trace.rulebook,),
        **extra,
    )


_ENTRY = re.compile(
    r"(?P<lead>of run <code>|of run |\"run_id\": \")r-[0-9a-f]{16}"
    r"|(?P<when>recorded |\"recorded_at\": \")\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"
    r"|(?P<hash>entry hash <code>|entry hash |\"entry_hash\": \")[0-9a-f]{64}"
)


def mask_entry(body: str) -> str:
    """``explain`` output with the run id, recorded time, entry hash and who ran the run (new
    each run) masked."""

    def mask(m: re.Match[str]) -> str:
        if m["lead"]:
            return f"{m['lead']}r-RUN"
        if m["when"]:
            return f"{m['when']}RECORDED"
        return f"{m['hash']}ENTRY-HASH"

    return _WHO_RAN.sub(_mask_who, _ENTRY.sub(mask, body))


_WHO_RAN = re.compile(
    r"(?P<text>, run by ).+? on \S+: .*?(?=  ‹ledger entry›)"
    r"|(?P<html>, run by <code>).*?</code> on <code>.*?</code>: <code>.*?(?=</code>)"
    r'|(?P<json>"(?:command_line|host|operator)": )"(?:[^"\\]|\\.)*"'
)


def _mask_who(m: re.Match[str]) -> str:
    """Who ran the run (the operator, host and command line of the test process)."""
    if m["text"]:
        return f"{m['text']}OPERATOR on HOST: COMMAND"
    if m["html"]:
        return f"{m['html']}OPERATOR</code> on <code>HOST</code>: <code>COMMAND"
    return f'{m["json"]}"MASKED"'


def rehash_from(ledger: Ledger, seq: int, **changes: object) -> None:
    """An insider's edit: set ``changes`` on entry ``seq``, then re-hash the chain from it.

    Every later entry gets a new ``prev_hash`` and ``entry_hash``, and the rows derived from
    the entries are rebuilt (:func:`rederive`), so the chain is intact again: only something
    kept outside the ledger (a checkpoint) or replay can tell.
    """
    with ledger.engine.begin() as conn:
        run_sha = {r.run_id: r.run_sha256 for r in conn.execute(select(t.runs))}
        if changes:
            conn.execute(update(t.decisions).where(t.decisions.c.seq == seq).values(**changes))
        rows = list(
            conn.execute(select(t.decisions).where(t.decisions.c.seq >= seq).order_by("seq"))
        )
        prev = rows[0].prev_hash
        for row in rows:
            fields = dict(row._mapping) | {"prev_hash": prev}
            header = entry_header(SimpleNamespace(**fields), row.run_id, run_sha[row.run_id])
            prev = entry_hash(prev, header, row.seq)
            conn.execute(
                update(t.decisions)
                .where(t.decisions.c.seq == row.seq)
                .values(prev_hash=fields["prev_hash"], entry_hash=prev)
            )
        rederive(conn)


def rehash_one(ledger: Ledger, seq: int, **changes: object) -> None:
    """An insider's edit of one entry, re-hashed alone: it matches its own hash again, but
    the next entry still links to the hash it had (what only the chain tells)."""
    with ledger.engine.begin() as conn:
        run_sha = {r.run_id: r.run_sha256 for r in conn.execute(select(t.runs))}
        conn.execute(update(t.decisions).where(t.decisions.c.seq == seq).values(**changes))
        row = conn.execute(select(t.decisions).where(t.decisions.c.seq == seq)).one()
        header = entry_header(SimpleNamespace(**row._mapping), row.run_id, run_sha[row.run_id])
        conn.execute(
            update(t.decisions)
            .where(t.decisions.c.seq == seq)
            .values(entry_hash=entry_hash(row.prev_hash, header, seq))
        )
        rederive(conn)


def rederive(conn: Connection) -> None:
    """A thorough insider's last step: rebuild the rows derived from the entries as they now
    are (``decision_keys``, ``run_summaries``), so that verify's comparison of them holds."""
    if decision_keys.has_keys(conn):
        decision_keys.backfill(conn)
    if run_summaries.has_summaries(conn):
        run_summaries.backfill(conn)
