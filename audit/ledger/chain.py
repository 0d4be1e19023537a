"""The hash chain: what one ledger entry commits to, and how it links to the one before.

``entry_hash = sha256(prev_hash ‖ header ‖ seq)`` where ``header`` is the canonical JSON of
the entry's indexed columns, the sha256 of its run record and the sha256 of its canonical
trace JSON. Changing any column, the trace, the run record, or the order breaks the chain.
The trace is stored compressed, as one standard Zstandard frame at level 1 (a fifth of the
size, and twice as fast to write as zlib at level 1), written with the ``zstandard``
library; entries written before that are zlib streams and still read. Its hash is always of
the canonical JSON, never of the compressed bytes.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from json.encoder import encode_basestring as _quote  # json.dumps' own, without ASCII escapes
from typing import TYPE_CHECKING, NamedTuple, Protocol

import zstandard

from marginlex.audit.canonical import canonical_json, sha256_hex
from marginlex.audit.trace.dictionary import DICTIONARY_ID, shipped
from marginlex.audit.trace.model import DecisionTrace

if TYPE_CHECKING:  # the trace builder (pandas, the engine) is for writing, not for reading
    from marginlex.audit.trace.from_evaluation import TraceColumns

Named = tuple[tuple[str, str], ...]
"""A decision's lookup keys besides its accounts, (kind, key) sorted
(:mod:`marginlex.audit.trace.named`)."""

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_MAX_TRACE_BYTES = 1 << 28  # a trace is 10-20 kB; a frame header may claim any size
_CODECS = threading.local()  # a (de)compressor serves one thread at a time
Dictionaries = Mapping[int, bytes]
"""Zstandard dictionaries by id, as a ledger stores them."""


def _compressor() -> zstandard.ZstdCompressor:
    if not hasattr(_CODECS, "compressor"):
        dictionary = zstandard.ZstdCompressionDict(shipped())
        _CODECS.compressor = zstandard.ZstdCompressor(level=1, dict_data=dictionary)
    compressor: zstandard.ZstdCompressor = _CODECS.compressor
    return compressor


def _decompressor(dict_id: int, dictionaries: Dictionaries) -> zstandard.ZstdDecompressor:
    """A decompressor for frames made with dictionary ``dict_id`` (0: none)."""
    if dict_id == 0:
        data = b""
    elif dict_id in dictionaries:
        data = dictionaries[dict_id]
    elif dict_id == DICTIONARY_ID:  # a ledger being written, or one read before its table
        data = shipped()
    else:
        raise TraceDecodeError(
            f"stored trace needs Zstandard dictionary {dict_id:#x}, which this ledger lacks"
        )
    cache: dict[tuple[int, int], zstandard.ZstdDecompressor] = _CODECS.__dict__.setdefault(
        "decompressors", {}
    )
    key = (dict_id, hash(data))
    if key not in cache:
        dictionary = zstandard.ZstdCompressionDict(data) if data else None
        cache[key] = zstandard.ZstdDecompressor(dict_data=dictionary)
    return cache[key]


class TraceDecodeError(ValueError):
    """Stored trace bytes that no longer decompress (edited in place, or truncated)."""


GENESIS = "0" * 64
"""The ``prev_hash`` of the first entry of a ledger."""


class EntryFields(Protocol):
    """What an entry commits to: a :class:`PreparedDecision`, or a ``decisions`` row (and,
    for an entry carried forward, its ``carried_from`` and ``carried_hash``)."""

    @property
    def decision_id(self) -> str: ...
    @property
    def rulebook_id(self) -> str: ...
    @property
    def margin_set_id(self) -> str: ...
    @property
    def account_ids(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def call(self) -> Decimal: ...
    @property
    def requirement(self) -> Decimal: ...
    @property
    def trace_sha256(self) -> str: ...


def entry_header(entry: EntryFields, run_id: str, run_sha256: str) -> bytes:
    """The canonical JSON an entry commits to (``account_ids`` as stored).

    An entry carried forward (``carried_from`` set) also commits to the sequence number and
    entry hash of the earlier entry it refers to; other entries hash as they always did.

    The bytes :func:`~marginlex.audit.canonical.canonical_json` writes for the same dict
    (a test holds this), formatted directly: it runs once per decision recorded.
    """
    q = _quote
    carried_from = getattr(entry, "carried_from", None)
    carried = ""
    if carried_from is not None:  # a reference to an earlier entry: chained with it
        carried_hash = str(getattr(entry, "carried_hash", ""))
        carried = f'"carried_from":{int(carried_from)},"carried_hash":{q(carried_hash)},'
    return (
        f'{{"account_ids":{q(entry.account_ids)},"call":"{entry.call:.2f}",{carried}'
        f'"decision_id":{q(entry.decision_id)},"margin_set_id":{q(entry.margin_set_id)},'
        f'"requirement":"{entry.requirement:.2f}","rulebook_id":{q(entry.rulebook_id)},'
        f'"run_id":{q(run_id)},"run_sha256":{q(run_sha256)},"status":{q(entry.status)},'
        f'"trace_sha256":{q(entry.trace_sha256)}}}'
    ).encode()


def entry_hash(prev_hash: str, header: bytes, seq: int) -> str:
    """Chain one entry to the one before.

    >>> entry_hash(GENESIS, b"{}", 1)[:12]
    '1f114096cc6e'
    """
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(header)
    digest.update(str(seq).encode("ascii"))
    return digest.hexdigest()


class PreparedDecision(NamedTuple):
    """A decision serialized for the ledger: indexed columns, trace hash, compressed trace.

    Build it with :func:`prepare` only. It is a plain picklable tuple, so evaluator workers
    can serialize their partition's traces in parallel and hand the ledger bytes.
    """

    decision_id: str
    rulebook_id: str
    rulebook_sha256: str
    book_sha256: str
    as_of: date
    margin_set_id: str
    account_ids: str
    status: str
    call: Decimal
    requirement: Decimal
    trace_sha256: str
    trace_z: bytes
    inputs_sha256: str | None = None
    carried_from: int | None = None
    carried_hash: str | None = None
    named: Named | None = None  # its lookup keys besides its accounts (None: read the trace)


@dataclass(frozen=True)
class PreparedChunk:
    """Prepared decisions of one rulebook's evaluation, column by column.

    What a trace worker hands back: lists of strings and bytes pickle several times faster
    than as many :class:`PreparedDecision` tuples (amounts stay text until :meth:`decisions`).
    """

    rulebook_id: str
    rulebook_sha256: str
    book_sha256: str
    as_of: date
    decision_ids: list[str]
    margin_set_ids: list[str]
    account_ids: list[str]
    statuses: list[str]
    calls: list[str]
    requirements: list[str]
    trace_sha256: list[str]
    trace_z: list[bytes]
    inputs_sha256: list[str | None] | None = None  # each set's input hash (Dask workers)
    key_codes: list[int] | None = None  # each decision's lookup keys, into key_sets
    key_sets: list[Named] | None = None

    def decisions(self) -> Iterator[PreparedDecision]:
        """Each decision, in order, as the ledger takes it."""
        n = len(self.decision_ids)
        hashes: list[str | None] = self.inputs_sha256 or [None] * n
        named: list[Named | None] = [None] * n
        if self.key_codes is not None and self.key_sets is not None:
            named = [self.key_sets[c] for c in self.key_codes]
        rows = zip(
            self.decision_ids,
            self.margin_set_ids,
            self.account_ids,
            self.statuses,
            self.calls,
            self.requirements,
            self.trace_sha256,
            self.trace_z,
            hashes,
            named,
            strict=True,
        )
        for (
            decision_id,
            margin_set_id,
            account_ids,
            status,
            call,
            req,
            sha,
            z,
            inputs,
            keys,
        ) in rows:
            yield PreparedDecision(
                decision_id=decision_id,
                rulebook_id=self.rulebook_id,
                rulebook_sha256=self.rulebook_sha256,
                book_sha256=self.book_sha256,
                as_of=self.as_of,
                margin_set_id=margin_set_id,
                account_ids=account_ids,
                status=status,
                call=Decimal(call),
                requirement=Decimal(req),
                trace_sha256=sha,
                trace_z=z,
                inputs_sha256=inputs,
                named=keys,
            )


def prepare(trace: DecisionTrace) -> PreparedDecision:
    """Serialize one trace for :meth:`marginlex.audit.ledger.store.Ledger.record_run`."""
    figures = trace.figures
    body = trace.canonical()
    return PreparedDecision(
        decision_id=trace.decision_id,
        rulebook_id=trace.rulebook.id,
        rulebook_sha256=trace.rulebook.sha256,
        book_sha256=trace.book_sha256,
        as_of=trace.as_of,
        margin_set_id=trace.margin_set.id,
        account_ids=canonical_json(list(trace.margin_set.account_ids)).decode("utf-8"),
        status=figures.status.value,
        call=figures.call,
        requirement=figures.maintenance,
        trace_sha256=sha256_hex(body),
        trace_z=compress_trace(body),
    )


def prepared(columns: TraceColumns) -> PreparedChunk:
    """The ledger columns of every trace: its canonical bytes hashed and compressed."""
    shas, frames = [], []
    for text in columns.json:  # one trace at a time: its bytes are not all held at once
        body = text.encode("utf-8")
        shas.append(sha256_hex(body))
        frames.append(compress_trace(body))
    return PreparedChunk(
        rulebook_id=columns.rulebook.id,
        rulebook_sha256=columns.rulebook.sha256,
        book_sha256=columns.book_sha256,
        as_of=columns.as_of,
        decision_ids=columns.decision_ids,
        margin_set_ids=columns.margin_set_ids,
        account_ids=columns.account_ids,
        statuses=columns.statuses,
        calls=columns.calls,
        requirements=columns.requirements,
        trace_sha256=shas,
        trace_z=frames,
        key_codes=None if columns.keys is None else columns.keys.codes,
        key_sets=None if columns.keys is None else columns.keys.sets,
    )


def compress_trace(body: bytes) -> bytes:
    """Canonical trace JSON as stored: one Zstandard frame at level 1, with the dictionary.

    A standard frame: ``zstd -d -D trace_dictionary.zdict`` or any Zstandard library reads
    a ``trace_z`` too (the ledger stores the dictionary). It records its own decompressed
    size and the id of the dictionary (:mod:`marginlex.audit.trace.dictionary`).
    """
    return _compressor().compress(body)


def decompress_trace(trace_z: bytes, dictionaries: Dictionaries | None = None) -> bytes:
    """The canonical trace JSON bytes of a stored entry.

    A Zstandard frame, with or without a dictionary, or a zlib stream (the first ledgers).

    Args:
        trace_z: the stored bytes.
        dictionaries: the dictionaries the ledger stores (default: the shipped one only).

    Raises:
        TraceDecodeError: the bytes do not decompress, or would be larger than any trace.
    """
    try:
        if trace_z[:4] != ZSTD_MAGIC:
            inflate = zlib.decompressobj()
            body = inflate.decompress(trace_z, _MAX_TRACE_BYTES)
            if inflate.unconsumed_tail:
                raise TraceDecodeError("stored trace inflates beyond any trace's size")
            return body
        frame = zstandard.get_frame_parameters(trace_z)
        if frame.content_size > _MAX_TRACE_BYTES:  # forged or unknown: never allocate it
            raise TraceDecodeError(f"stored trace declares {frame.content_size:,} bytes")
        return _decompressor(frame.dict_id, dictionaries or {}).decompress(trace_z)
    except (zstandard.ZstdError, zlib.error) as exc:
        raise TraceDecodeError(f"stored trace does not decompress: {exc}") from exc


def trace_json(trace_z: bytes, dictionaries: Dictionaries | None = None) -> str:
    """The canonical trace JSON of a stored entry.

    Raises:
        TraceDecodeError: the bytes do not decompress, or not to UTF-8 text.
    """
    try:
        return decompress_trace(trace_z, dictionaries).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TraceDecodeError(f"stored trace is not UTF-8 text (byte {exc.start})") from exc
