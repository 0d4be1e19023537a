"""What a run records so that replay can rebuild its inputs exactly: rulebooks and the book.

**A rulebook's canonical text** is a bundle: the canonical JSON of
``{"format": "marginlex-rulebook-bundle/1", "rulebook": <id>, "sources": [{"id", "text"}]}``
where ``sources`` are the rulebook file and every file it extends, in resolution order
(bases first, the rulebook itself last), each as ``marginlex fmt`` prints it. The
rulebook's sha256 (in every trace) is the sha256 of those bytes. A variant that is not
shipped replays from its recorded text, and so do the bases as they were when recorded.

**A book's canonical content** is a zip (fixed timestamps, names sorted, stored) of the book
folder :func:`marginlex.engine.book.load.write_book` writes as Parquet: ``book.json`` and one
file per frame, contract columns only. Loading it gives a book with the same sha256.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from marginlex.audit.canonical import canonical_json, sha256_hex
from marginlex.dsl.loader import Library, load_rulebook
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.provenance import canonical_source_text, text_sha256
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.ids import recorded_book
from marginlex.engine.book.load import Book, load_book, write_book

BUNDLE_FORMAT = "marginlex-rulebook-bundle/1"
_EPOCH = (1980, 1, 1, 0, 0, 0)


class RecordedInputError(ValueError):
    """A recorded rulebook text or book blob that cannot be read back."""


def source_text(source: m.Rulebook) -> str:
    """One rulebook file in canonical layout (its comments kept), as ``marginlex fmt`` prints."""
    return canonical_source_text(source)


def rulebook_bundle(rulebook: ResolvedRulebook) -> str:
    """The canonical text of a resolved rulebook (see the module docstring).

    >>> text = rulebook_bundle(load_rulebook("harmonized"))
    >>> [s["id"] for s in json.loads(text)["sources"]]
    ['sec', 'cftc', 'harmonized']
    """
    sources = [{"id": s.id, "text": source_text(s)} for s in rulebook.sources]
    doc = {"format": BUNDLE_FORMAT, "rulebook": rulebook.id, "sources": sources}
    return canonical_json(doc).decode("utf-8")


def rulebook_sha256(bundle: str) -> str:
    """The rulebook sha256 the traces carry: of the bundle's UTF-8 bytes."""
    return sha256_hex(bundle)


def bundle_sources(bundle: str) -> list[tuple[str, str]]:
    """Each recorded source of a bundle: its id and the sha256 of its canonical text.

    >>> [i for i, _ in bundle_sources(rulebook_bundle(load_rulebook("harmonized")))]
    ['sec', 'cftc', 'harmonized']
    """
    return [(str(s["id"]), text_sha256(str(s["text"]))) for s in json.loads(bundle)["sources"]]


def load_bundle(bundle: str) -> ResolvedRulebook:
    """Rebuild a rulebook from its recorded bundle, its bases from the bundle too.

    Raises:
        RecordedInputError: the text is not a bundle.
        marginlex.dsl.diagnostics.RulebookError: a recorded source no longer checks.
    """
    try:
        doc = json.loads(bundle)
        sources = [(str(s["id"]), str(s["text"])) for s in doc["sources"]]
        main = str(doc["rulebook"])
    except (ValueError, KeyError, TypeError) as exc:
        raise RecordedInputError(f"not a {BUNDLE_FORMAT} text: {exc}") from exc
    if doc.get("format") != BUNDLE_FORMAT or main not in {i for i, _ in sources}:
        raise RecordedInputError(f"not a {BUNDLE_FORMAT} text for rulebook {main!r}")
    with tempfile.TemporaryDirectory(prefix="marginlex-replay-") as tmp:
        # A closed library: the recorded bases are used, never today's shipped rulebooks.
        for source_id, text in sources:
            (Path(tmp) / f"{source_id}.mlx").write_text(text, encoding="utf-8")
        closed = Library(Path(tmp), shipped=False)
        return load_rulebook(Path(tmp) / f"{main}.mlx", library=closed, checks=False)


def book_blob(book: Book) -> bytes:
    """The book's canonical content as one deterministic zip of Parquet files."""
    with tempfile.TemporaryDirectory(prefix="marginlex-book-") as tmp:
        folder = write_book(book.meta, book.contract_frames(), tmp, fmt="parquet")
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
            for path in sorted(folder.iterdir()):
                info = zipfile.ZipInfo(path.name, date_time=_EPOCH)
                archive.writestr(info, path.read_bytes())
        return out.getvalue()


def book_from_blob(blob: bytes) -> Book:
    """Rebuild the book from :func:`book_blob` bytes.

    Raises:
        RecordedInputError: the bytes are not a recorded book.
        marginlex.engine.book.problems.BookError: the recorded book no longer validates.
    """
    with tempfile.TemporaryDirectory(prefix="marginlex-book-") as tmp:
        try:
            with zipfile.ZipFile(io.BytesIO(blob)) as archive:
                for name in _members(archive):
                    if "/" in name or name.startswith("."):
                        raise RecordedInputError(f"unexpected member {name!r} in a book blob")
                    (Path(tmp) / name).write_bytes(archive.read(name))
        except zipfile.BadZipFile as exc:
            raise RecordedInputError(f"the recorded book is not a book zip: {exc}") from exc
        with recorded_book():  # an id with an invisible character, an error since: a warning
            return load_book(tmp)


def _members(archive: zipfile.ZipFile) -> list[str]:
    """The names of a book zip's members, each stored as it is (ZIP_STORED, as
    :func:`book_blob` writes them), so that none holds more than the blob's own bytes.

    Raises:
        RecordedInputError: a member is compressed: a forged blob's member of a few megabytes
            could inflate to a hundred gigabytes past the blob's own cap.
    """
    for info in archive.infolist():
        if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
            raise RecordedInputError(
                f"member {info.filename!r} of the recorded book is compressed in the zip, "
                "which a recorded book never is: a forged or damaged blob"
            )
    return archive.namelist()


def blob_frames(blob: bytes) -> tuple[dict[str, object], dict[str, pd.DataFrame]]:
    """A recorded book's ``book.json`` fields and contract frames (by file stem), read back
    as stored, without validation: ``run --since`` compares an earlier run's book with
    today's, each read this way from its own :func:`book_blob` bytes (so both alike)."""
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        names = _members(archive)
        meta = json.loads(archive.read("book.json"))
        frames = {
            Path(name).stem: pq.read_table(io.BytesIO(archive.read(name))).to_pandas()
            for name in names
            if name.endswith(".parquet")
        }
    return meta, frames


def base_bundle(bundle: str, base_id: str) -> str | None:
    """The bundle of one of a recorded rulebook's bases, from the sources it recorded (None if
    the bundle holds no source of that id): what a variant is compared against.

    >>> harmonized = rulebook_bundle(load_rulebook("harmonized"))
    >>> [s["id"] for s in json.loads(base_bundle(harmonized, "sec"))["sources"]]
    ['sec']
    """
    doc = json.loads(bundle)
    ids = [str(s["id"]) for s in doc["sources"]]
    if base_id not in ids:
        return None
    sources = doc["sources"][: ids.index(base_id) + 1]
    doc = {"format": doc["format"], "rulebook": base_id, "sources": sources}
    return canonical_json(doc).decode("utf-8")
