"""Signed checkpoints: the ledger's head, signed with a key the ledger never holds.

A checkpoint names the ledger (its id), the head entry (sequence and hash), the run just
recorded (if any) and the time; it is signed with Ed25519 and written twice: into the
ledger's ``checkpoints`` table and, as one JSON line, appended to a checkpoint file the
operator keeps elsewhere. The chain proves nothing inside the ledger changed; a checkpoint
kept outside proves the ledger still holds the head it had: a wiped ledger, a cut tail, a
chain re-hashed after an edit, or a replaced run each fail :func:`check_checkpoints`.

A line is ``{"checkpoint": {...}, "signature": "<base64>"}``; the signature is over the
canonical JSON of ``checkpoint`` exactly as the line holds it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field, ValidationError
from sqlalchemy import Connection, func, insert, inspect, select

from marginlex.audit.canonical import canonical_json
from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.keys import key_id, signature_holds
from marginlex.audit.ledger.store import Ledger
from marginlex.audit.trace.steps import TraceModel

FILE_NAME = "checkpoints.jsonl"
"""The file a checkpoint folder holds."""
_ID_KEY = "ledger_id"


class CheckpointError(ValueError):
    """A checkpoint that cannot be written or read where it was asked for."""


class Checkpoint(TraceModel):
    """What a checkpoint signs (fields in sorted order: canonical JSON)."""

    created_at: datetime
    head_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    head_seq: int = Field(ge=0)
    key_id: str
    ledger_id: str
    run_id: str | None = None

    def payload(self) -> bytes:
        """The bytes signed: the canonical JSON of the checkpoint."""
        return canonical_json(self.model_dump(mode="json"))


class SignedCheckpoint(TraceModel):
    """A checkpoint and its signature, as one line of a checkpoint file."""

    checkpoint: Checkpoint
    signature: str

    def line(self) -> str:
        """The JSON line appended to the checkpoint file."""
        doc = {"checkpoint": self.checkpoint.model_dump(mode="json"), "signature": self.signature}
        return canonical_json(doc).decode("utf-8")


def checkpoint_file(path: Path) -> Path:
    """The file to append to or read: ``path`` itself, or the file a folder holds."""
    return path / FILE_NAME if path.is_dir() else path


def default_checkpoint_path(location: str) -> Path | None:
    """Beside a SQLite ledger: ``LEDGER.checkpoints.jsonl``; None for a server's URL."""
    if "://" in location and not location.startswith("sqlite:///"):
        return None
    path = Path(location.removeprefix("sqlite:///")).expanduser()
    return path.with_name(path.name + ".checkpoints.jsonl")


def ledger_identity(conn: Connection, *, create: bool) -> str | None:
    """The ledger's id (made and stored, with ``create``, if it has none yet)."""
    if not inspect(conn).has_table(t.ledger_meta.name):
        if not create:
            return None
        t.metadata.create_all(conn, tables=[t.ledger_meta, t.checkpoints])
    found = conn.scalar(select(t.ledger_meta.c.value).where(t.ledger_meta.c.key == _ID_KEY))
    if found is None and create:
        found = f"l-{uuid.uuid4().hex}"
        conn.execute(insert(t.ledger_meta), [{"key": _ID_KEY, "value": found}])
    return None if found is None else str(found)


def _head(conn: Connection) -> tuple[int, str]:
    row = conn.execute(
        select(t.decisions.c.seq, t.decisions.c.entry_hash).order_by(t.decisions.c.seq.desc())
    ).first()
    return (0, "0" * 64) if row is None else (int(row.seq), str(row.entry_hash))


def sign_head(
    ledger: Ledger, key: Ed25519PrivateKey, path: Path, run_id: str | None = None
) -> SignedCheckpoint:
    """Sign the ledger's current head; store it in the ledger and append it to ``path``.

    Both in the ledger's write transaction, under its write lock: the head cannot move
    between being read and being signed.

    Raises:
        CheckpointError: the checkpoint file cannot be appended to (nothing is stored).
    """
    with ledger.transaction() as conn:
        ledger_id = ledger_identity(conn, create=True)
        seq, head_hash = _head(conn)
        checkpoint = Checkpoint(
            created_at=datetime.now(UTC).replace(microsecond=0),
            head_hash=head_hash,
            head_seq=seq,
            key_id=key_id(key.public_key()),
            ledger_id=str(ledger_id),
            run_id=run_id,
        )
        signature = base64.b64encode(key.sign(checkpoint.payload())).decode("ascii")
        signed = SignedCheckpoint(checkpoint=checkpoint, signature=signature)
        row = {
            "signature": signature,
            "body": checkpoint.payload().decode("utf-8"),
            "head_seq": seq,
            "run_id": run_id,
        }
        conn.execute(insert(t.checkpoints), [row])
        append_line(checkpoint_file(path), signed.line())
    return signed


def append_line(path: Path, line: str) -> None:
    """Append one line to a checkpoint file and flush it to disk (never rewrite the file)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise CheckpointError(
            f"cannot append to the checkpoint file {path}: {exc.strerror}"
        ) from exc


def file_lines(path: Path) -> Iterator[tuple[str, str]]:
    """Each non-blank line of a checkpoint file, with where it is (``FILE:N``).

    Raises:
        CheckpointError: the file cannot be read.
    """
    target = checkpoint_file(path)
    try:
        text = target.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise CheckpointError(f"cannot read the checkpoint file {target}: {exc.strerror}") from exc
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield f"{target.name}:{number}", line


def ledger_lines(ledger: Ledger) -> list[tuple[str, str]]:
    """The checkpoints stored in the ledger itself, as lines (``ledger checkpoint N``)."""
    if not inspect(ledger.engine).has_table(t.checkpoints.name):
        return []
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(t.checkpoints).order_by(t.checkpoints.c.head_seq))
        return [
            (
                f"ledger checkpoint {n}",
                json.dumps({"checkpoint": json.loads(r.body), "signature": r.signature}),
            )
            for n, r in enumerate(rows, start=1)
        ]


class CheckpointProblem(StrEnum):
    """What a checkpoint found wrong."""

    UNREADABLE = "unreadable"
    FORGED = "forged"
    OTHER_KEY = "other_key"
    OTHER_LEDGER = "other_ledger"
    WIPED = "wiped"
    CUT = "cut"
    REHASHED = "rehashed"
    RUN_REPLACED = "run_replaced"


class CheckpointFinding(TraceModel):
    """One checkpoint that fails, where it is, and what it catches."""

    checkpoint: Checkpoint | None = None
    kind: CheckpointProblem
    message: str
    where: str


class CheckpointReport(TraceModel):
    """The outcome of :func:`check_checkpoints`."""

    checked: int
    findings: tuple[CheckpointFinding, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every signature holds and the ledger holds every checkpointed head."""
        return not self.findings


class LedgerState:
    """What the checkpoints are compared with: the ledger's id, entries and runs now."""

    def __init__(self, ledger: Ledger) -> None:
        self.engine = ledger.engine
        with ledger.engine.connect() as conn:
            self.ledger_id = ledger_identity(conn, create=False)
            self.last = int(conn.scalar(select(func.max(t.decisions.c.seq))) or 0)
            self.runs = set(conn.scalars(select(t.runs.c.run_id)))

    def entry(self, seq: int) -> Any:
        with self.engine.connect() as conn:
            query = select(t.decisions.c.entry_hash, t.decisions.c.run_id)
            return conn.execute(query.where(t.decisions.c.seq == seq)).first()


def _parse(text: str) -> tuple[Checkpoint, bytes, bytes]:
    """The checkpoint, the exact bytes signed and the signature of one line."""
    doc = json.loads(text)
    if not isinstance(doc, dict) or set(doc) != {"checkpoint", "signature"}:
        raise ValueError('expected {"checkpoint": {...}, "signature": "..."}')
    checkpoint = Checkpoint.model_validate(doc["checkpoint"])
    signature = base64.b64decode(str(doc["signature"]), validate=True)
    return checkpoint, canonical_json(doc["checkpoint"]), signature


def _signed(cp: Checkpoint) -> str:
    run = f", run {cp.run_id}" if cp.run_id else ""
    return f"#{cp.head_seq} {cp.head_hash[:12]}…{run}, signed {cp.created_at.isoformat()}"


def _against_ledger(cp: Checkpoint, state: LedgerState) -> tuple[CheckpointProblem, str] | None:
    """What the ledger lost or changed since ``cp`` was signed (None: it still holds it)."""
    if state.ledger_id != cp.ledger_id:
        now = f"this ledger is {state.ledger_id}" if state.ledger_id else "this ledger has no id"
        return CheckpointProblem.OTHER_LEDGER, (
            f"the checkpoint is of ledger {cp.ledger_id}; {now}: the ledger was replaced"
        )
    if cp.head_seq == 0:
        return None
    if state.last == 0:
        return CheckpointProblem.WIPED, (
            f"the ledger holds no entries, but it held #{cp.head_seq}: it was wiped"
        )
    entry = state.entry(cp.head_seq)
    if entry is None:
        return CheckpointProblem.CUT, (
            f"the ledger ends at #{state.last}, but it held #{cp.head_seq}: its tail was cut"
        )
    if entry.entry_hash == cp.head_hash and (cp.run_id is None or cp.run_id in state.runs):
        return None
    if cp.run_id is not None and cp.run_id not in state.runs:
        return CheckpointProblem.RUN_REPLACED, (
            f"run {cp.run_id} is no longer in the ledger; entry #{cp.head_seq} now belongs to "
            f"run {entry.run_id}: the run was replaced"
        )
    return CheckpointProblem.REHASHED, (
        f"entry #{cp.head_seq} now has hash {entry.entry_hash[:12]}…, not the signed "
        f"{cp.head_hash[:12]}…: entries up to it were changed and the chain re-hashed"
    )


_SIGNATURE_BYTES = 64
"""Bytes of an Ed25519 signature."""


def checkpoint_row_problem(row: Any, state: LedgerState) -> str | None:
    """What is wrong with a ``checkpoints`` row, as far as it can be told without the public
    key (None: nothing): its body is a checkpoint, as canonical JSON, of this ledger; its
    ``head_seq`` and ``run_id`` are the body's; its
    signature is one (base64 of 64 bytes). ``verify`` checks these; the signature itself,
    and whether the chain still holds the signed head, ``verify --public-key`` (a wiped or
    re-hashed chain is named there, by the checkpoint that catches it)."""
    try:
        doc = json.loads(row.body)
        cp = Checkpoint.model_validate(doc)
        signature = base64.b64decode(str(row.signature), validate=True)
    except (ValueError, ValidationError, binascii.Error, TypeError) as exc:
        return f"not a checkpoint ({str(exc).splitlines()[0][:120]}): the row was added or edited"
    if canonical_json(doc).decode("utf-8") != row.body:
        return "its body is not the canonical JSON a checkpoint is signed as: it was edited"
    if len(signature) != _SIGNATURE_BYTES:
        return (
            f"its signature is {len(signature)} bytes, not the {_SIGNATURE_BYTES} of a "
            "signature: the row was added or edited"
        )
    if (row.head_seq, row.run_id) != (cp.head_seq, cp.run_id):
        return (
            f"its columns say #{row.head_seq}, run {row.run_id}; its signed body says "
            f"#{cp.head_seq}, run {cp.run_id}: the row was edited"
        )
    if cp.ledger_id != state.ledger_id:
        now = f"this ledger is {state.ledger_id}" if state.ledger_id else "this ledger has no id"
        return f"({_signed(cp)}) it is of ledger {cp.ledger_id}; {now}: the row was added or edited"
    return None


def _check_one(
    where: str, text: str, public: Ed25519PublicKey, state: LedgerState
) -> CheckpointFinding | None:
    try:
        cp, payload, signature = _parse(text)
    except (ValueError, ValidationError, binascii.Error) as exc:
        reason = str(exc).splitlines()[0]
        return CheckpointFinding(
            kind=CheckpointProblem.UNREADABLE, where=where, message=f"not a checkpoint: {reason}"
        )
    if cp.key_id != key_id(public):
        kind, message = (
            CheckpointProblem.OTHER_KEY,
            (f"signed by key {cp.key_id}, not by the public key given ({key_id(public)})"),
        )
    elif not signature_holds(public, signature, payload):
        kind, message = (
            CheckpointProblem.FORGED,
            ("the signature does not hold: the checkpoint was forged or edited"),
        )
    else:
        found = _against_ledger(cp, state)
        if found is None:
            return None
        kind, message = found
    return CheckpointFinding(
        checkpoint=cp, kind=kind, where=where, message=f"({_signed(cp)}) {message}"
    )


def check_checkpoints(
    ledger: Ledger, lines: Iterable[tuple[str, str]], public: Ed25519PublicKey
) -> CheckpointReport:
    """Check every checkpoint's signature, and that the ledger still holds its head.

    Args:
        ledger: the ledger the checkpoints were signed for.
        lines: each checkpoint as a JSON line, with where it is (see :func:`file_lines`).
        public: the public key of the signing key.

    Returns:
        How many were checked and each one that fails, with what it catches.
    """
    state = LedgerState(ledger)
    findings, checked = [], 0
    for where, text in lines:
        checked += 1
        finding = _check_one(where, text, public, state)
        if finding is not None:
            findings.append(finding)
    return CheckpointReport(checked=checked, findings=tuple(findings))
