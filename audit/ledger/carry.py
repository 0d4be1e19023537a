"""Incremental runs: which margin sets ``run --since RUN`` carries forward, and how.

A set is carried when the earlier run recorded a decision of the same rulebook (same
canonical text) for the same margin set id with the same input hash
(:func:`marginlex.engine.graph.set_inputs.set_input_hashes`), and the run's as-of date, rulebook
bundle, engine version and engine code (:mod:`marginlex.engine.version`) are the
earlier run's. A carried set is recorded as an entry
that refers to the earlier decision (``carried_from``: its sequence number, ``carried_hash``:
its entry hash; always the entry that holds the trace, never another reference) with the
earlier trace's sha256 and no trace of its own. Every other set is decided and recorded
as in any run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import select

from marginlex.audit.canonical import sha256_hex
from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.book_digests import chained_digests, digest_problem, read_digest
from marginlex.audit.ledger.carried_entries import CarriedEntries
from marginlex.audit.ledger.driver_rows import driver_columns
from marginlex.audit.ledger.store import Ledger, LedgerError
from marginlex.audit.trace.from_evaluation import set_codes
from marginlex.audit.trace.model import RulebookRef, decision_ids_for
from marginlex.engine.distributed.digests import BookDigest
from marginlex.engine.evaluation import Evaluation

_EARLIER = (
    "rulebook_id",
    "margin_set_id",
    "seq",
    "entry_hash",
    "trace_sha256",
    "inputs_sha256",
    "carried_from",
    "carried_hash",
    "account_ids",
    "status",
    "call",
    "requirement",
)
_CENT = Decimal("0.01")


class SinceError(LedgerError):
    """A ``--since`` run the ledger does not hold (or a ledger that cannot be read)."""


@dataclass(frozen=True)
class Since:
    """The earlier run an incremental run compares with: its record and its decisions."""

    run_id: str
    as_of: date
    engine_version: str
    engine_code_sha256: str | None  # None: a run recorded before revision 0011
    rulebooks: dict[str, str]  # id -> sha256
    decisions: pd.DataFrame  # the _EARLIER columns, one row per decision
    book: bytes | None = None  # the run's recorded book (its blob), when it has no digest
    digest: BookDigest | None = None  # its book's stored digest (revision 0007)
    _by_rulebook: dict[str, pd.DataFrame] = field(default_factory=dict, compare=False, repr=False)

    def why_all(
        self, as_of: date, rulebook: tuple[str, str], engine: tuple[str, str]
    ) -> str | None:
        """Why every set of a rulebook (its id and sha256) must be re-decided by an engine
        (its version and code sha256) (None: sets may be carried).

        The engine version is the package's and stays put when a kernel is fixed, so the
        code's sha256 is compared too: an earlier decision is carried only by the code that
        made it.
        """
        rulebook_id, sha256 = rulebook
        engine_version, code_sha256 = engine
        if as_of != self.as_of:
            return f"the as-of date differs from run {self.run_id}'s ({self.as_of})"
        if self.rulebooks.get(rulebook_id) != sha256:
            return f"rulebook {rulebook_id}'s bundle differs from run {self.run_id}'s"
        if engine_version != self.engine_version:
            return f"the engine version differs from run {self.run_id}'s"
        if self.engine_code_sha256 is None:
            return (
                f"run {self.run_id} recorded no fingerprint of the engine code that decided it "
                "(it was recorded before revision 0011_run_code_fingerprints), so its decisions "
                "may be another code's"
            )
        if code_sha256 != self.engine_code_sha256:
            return (
                f"the engine code differs from run {self.run_id}'s (sources sha256 "
                f"{code_sha256[:12]}, that run's {self.engine_code_sha256[:12]})"
            )
        return None

    def earlier(self, rulebook_id: str) -> pd.DataFrame:
        """The run's decisions of one rulebook, by margin set id (made once per rulebook)."""
        if rulebook_id not in self._by_rulebook:
            rows = self.decisions[self.decisions["rulebook_id"] == rulebook_id]
            by_set = rows.drop_duplicates("margin_set_id").set_index("margin_set_id")
            self._by_rulebook[rulebook_id] = by_set
        return self._by_rulebook[rulebook_id]


def load_since(location: str, run_id: str) -> Since:
    """The recorded run ``run_id`` of the ledger at ``location``.

    Raises:
        SinceError: no ledger there, or no such run in it.
    """
    try:
        ledger = Ledger.open(location, create=False)
    except LedgerError as exc:
        raise SinceError(f"--since {run_id}: {exc}") from exc
    try:
        run = next((r.record for r in ledger.runs() if r.record.run_id == run_id), None)
        if run is None:
            raise SinceError(
                f"--since {run_id}: no such run in the ledger; `marginlex ledger runs` lists them"
            )
        rows = _earlier_rows(ledger, run_id)
        with ledger.engine.connect() as conn:
            body = read_digest(conn, run.book_sha256)
            # (a run that recorded no digest sha256 may be of a ledger without the column)
            recorded = run.book_digest_sha256
            chained = chained_digests(conn, run.book_sha256) if recorded is not None else set()
        # A digest edited by hand would carry decisions whose inputs changed: refused. One
        # removed is no danger (the two books are then compared row by row), and verify names it.
        stored = None if body is None else sha256_hex(body)
        problem = digest_problem(run_id, recorded, stored, chained)
        if body is not None and problem:
            raise SinceError(
                f"--since {run_id}: {problem}; `marginlex verify` checks the ledger, and a run "
                "without --since decides every set"
            )
        digest = None if body is None else BookDigest.from_bytes(body)
        # Without a digest the books are compared row by row: only the content the run
        # chained will do.
        book = _chained_book(ledger, run_id, run.book_sha256) if digest is None else None
    finally:
        ledger.close()
    return Since(
        run_id=run_id,
        as_of=run.as_of,
        engine_version=run.engine_version,
        engine_code_sha256=run.engine_code_sha256,
        rulebooks={ref.id: ref.sha256 for ref in run.rulebooks},
        decisions=rows,
        book=book,
        digest=digest,
    )


def _chained_book(ledger: Ledger, run_id: str, book_sha256: str) -> bytes | None:
    """The run's recorded book content, when it is the content whose sha256 the run's record
    chains (``runs.book_blob_sha256``); a replaced one is refused.

    Raises:
        SinceError: the stored book is not the one the run recorded.
    """
    book = ledger.book_blob(book_sha256)
    query = select(t.runs.c.book_blob_sha256).where(t.runs.c.run_id == run_id)
    with ledger.engine.connect() as conn:
        chained = conn.scalar(query)
    if book is not None and sha256_hex(book) != chained:
        raise SinceError(
            f"--since {run_id}: the book recorded for run {run_id} was replaced (its content "
            "no longer has the sha256 the run recorded); `marginlex verify` checks the ledger, "
            "and a run without --since decides every set"
        )
    return book


def _earlier_rows(ledger: Ledger, run_id: str) -> pd.DataFrame:
    """The run's decisions (the :data:`_EARLIER` columns), read as the driver hands them:
    no per-row conversion (amounts stay the driver's floats or decimals)."""
    have = ledger.column_names()
    names = [c for c in _EARLIER if c in have]
    sql = f"SELECT {', '.join(names)} FROM {t.decisions.name} WHERE run_id = {{p}}"
    with ledger.engine.connect() as conn:
        table = driver_columns(conn, sql, (run_id,), len(names))
    frame = pd.DataFrame(
        {name: pd.Series(table[:, i], dtype="object") for i, name in enumerate(names)}
    )
    return frame.reindex(columns=list(_EARLIER))


def carried_mask(since: Since, rulebook_id: str, inputs: pd.Series) -> np.ndarray:
    """Which sets of ``inputs`` (hash by margin set id) the earlier run decided alike."""
    before = since.earlier(rulebook_id)["inputs_sha256"].reindex(inputs.index)
    return (before.notna() & (before.astype("str") == inputs.astype("str"))).to_numpy()


def carried_decisions(
    since: Since, ev: Evaluation, ref: RulebookRef, book_sha256: str, carried: np.ndarray
) -> CarriedEntries:
    """The entries that carry the sets ``carried`` marks forward, in decision order."""
    set_ids = ev.decisions["margin_set_id"].astype("str").to_numpy()[carried]
    return carry_entries(since.earlier(ref.id), set_ids, ref, (book_sha256, ev.as_of))


def _cents(values: pd.Series) -> list[str]:
    """Amounts (the driver's floats or decimals, stored to the cent) as an entry header
    writes them: ``f"{Decimal(str(v)).quantize(Decimal('0.01')):.2f}"``.

    SQLite hands back floats (integers for whole amounts): when each is the float of a whole
    number of cents below 10**13 (so its shortest repr is that number), ``f"{v:.2f}"``
    writes the same text, once per distinct amount. Anything else (PostgreSQL's decimals, an
    amount off the cent) takes the Decimal path.

    >>> _cents(pd.Series([12, 0.1, -3.5, 2.675], dtype=object))
    ['12.00', '0.10', '-3.50', '2.68']
    """
    if pd.api.types.infer_dtype(values, skipna=False) in _NUMBERS:
        amounts = values.to_numpy(dtype=np.float64)
        cents = np.rint(amounts * 100.0)
        whole_cents = (np.abs(amounts) < 1e13) & (cents / 100.0 == amounts)
        if whole_cents.all() and not (np.signbit(amounts) & (amounts == 0)).any():
            codes, uniques = pd.factorize(amounts)
            texts = np.asarray([f"{u:.2f}" for u in uniques.tolist()], dtype=object)
            return list(texts[codes])
    return [f"{Decimal(str(v)).quantize(_CENT):.2f}" for v in values.tolist()]


_NUMBERS = ("floating", "integer", "mixed-integer-float")


def carry_entries(
    earlier: pd.DataFrame, set_ids: np.ndarray, ref: RulebookRef, book: tuple[str, date]
) -> CarriedEntries:
    """The entries that carry the earlier decisions (by margin set id) of ``set_ids``
    forward, in that order, into a run of the book (its sha256 and as-of date) ``book``."""
    book_sha256, as_of = book
    rows = earlier.loc[set_ids]
    # Always refer to the entry holding the trace: a reference to a reference is followed.
    is_ref = rows["carried_from"].notna().to_numpy()
    seqs = np.where(is_ref, rows["carried_from"].fillna(0), rows["seq"]).astype(np.int64)
    hashes = np.where(is_ref, rows["carried_hash"].astype("object"), rows["entry_hash"])
    ids = set_ids.tolist()
    return CarriedEntries(
        rulebook_id=ref.id,
        rulebook_sha256=ref.sha256,
        book_sha256=book_sha256,
        as_of=as_of,
        margin_set_ids=np.asarray(ids, dtype=str) if ids else np.array([], dtype=str),
        decision_ids=decision_ids_for(ref.sha256, book_sha256, as_of, ids),
        account_ids=[str(v) for v in rows["account_ids"].tolist()],
        statuses=[str(v) for v in rows["status"].tolist()],
        calls=_cents(rows["call"]),
        requirements=_cents(rows["requirement"]),
        trace_sha256=[str(v) for v in rows["trace_sha256"].tolist()],
        inputs_sha256=[None if pd.isna(v) else str(v) for v in rows["inputs_sha256"].tolist()],
        carried_from=seqs.tolist(),
        carried_hash=[str(v) for v in hashes.tolist()],
    )


def select_sets(ev: Evaluation, keep: np.ndarray) -> Evaluation:
    """The evaluation cut to the decisions ``keep`` marks and their trace rows."""
    codes = set_codes(ev)
    frames = {}
    for name, frame in ev.frames.items():
        code = codes[name]
        rows = np.zeros(len(code), dtype=bool)
        rows[code >= 0] = keep[code[code >= 0]]
        frames[name] = frame[rows].reset_index(drop=True)
    decisions = ev.decisions[keep].reset_index(drop=True)
    return ev.model_copy(update={"decisions": decisions, "frames": frames})
