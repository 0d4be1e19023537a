"""Ed25519 signing keys for checkpoints: made, written and read; never stored in a ledger.

``marginlex keys new DIR`` writes ``marginlex-signing.key`` (PKCS#8 PEM, file mode 0600;
with ``--passphrase``, encrypted with it) and ``marginlex-signing.pub`` (SubjectPublicKeyInfo
PEM). A key's id is the first 16 hex digits of the sha256 of its raw 32-byte public key: each
checkpoint names the key that signed it. An encrypted key (``keys new --passphrase``, or
``openssl genpkey -algorithm ed25519 -aes256``) is opened with the passphrase in
:data:`PASSPHRASE_ENV`, or typed when asked.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from marginlex.audit.canonical import sha256_hex
from marginlex.engine.book.memory import read_small_file

PASSPHRASE_ENV = "MARGINLEX_KEY_PASSPHRASE"
"""The environment variable holding an encrypted signing key's passphrase (where none can be
typed: a scheduled run)."""
PRIVATE_NAME = "marginlex-signing.key"
PUBLIC_NAME = "marginlex-signing.pub"
MAX_KEY_FILE_BYTES = 65_536
"""A PEM key is a few hundred bytes."""


class KeyFileError(ValueError):
    """A key file that cannot be written or read as the key it should hold."""


def key_id(public: Ed25519PublicKey) -> str:
    """The id a checkpoint names its key by: sha256 of the raw public key, 16 hex digits."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256_hex(raw)[:16]


def new_key_pair(folder: Path, passphrase: bytes | None = None) -> tuple[Path, Path]:
    """Write a fresh key pair into ``folder`` (made if absent); never overwrite one. With a
    ``passphrase``, the private key is encrypted with it (PKCS#8, the best encryption the
    cryptography library offers).

    Returns:
        The private key's path (mode 0600) and the public key's.

    Raises:
        KeyFileError: a key file is already there, or the folder cannot be written.

    >>> import tempfile
    >>> private, public = new_key_pair(Path(tempfile.mkdtemp()))
    >>> oct(private.stat().st_mode & 0o777), public.name
    ('0o600', 'marginlex-signing.pub')
    """
    private_path, public_path = folder / PRIVATE_NAME, folder / PUBLIC_NAME
    for path in (private_path, public_path):
        if path.exists():
            raise KeyFileError(f"{path} exists: keys are never overwritten; choose another folder")
    key = Ed25519PrivateKey.generate()
    protection = (
        serialization.NoEncryption()
        if passphrase is None
        else serialization.BestAvailableEncryption(passphrase)
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, protection
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    made: list[Path] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Created 0600 from the start: the key is never readable by others, not even briefly.
        for path, body, mode in ((private_path, pem, 0o600), (public_path, public_pem, 0o644)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            made.append(path)
            with os.fdopen(fd, "wb") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
    except OSError as exc:  # a full disk: no half pair is left to be taken for a whole one
        for path in made:
            path.unlink(missing_ok=True)
        raise KeyFileError(f"cannot write the key pair into {folder}: {exc.strerror}") from exc
    return private_path, public_path


_PUBLIC = b"-----BEGIN PUBLIC KEY-----"
_PRIVATE = b"-----BEGIN PRIVATE KEY-----"
_ENCRYPTED = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"


def _other_half(path: Path, said: str, suffix: str) -> KeyFileError:
    """One half of a key pair given for the other, with the file beside it that is meant."""
    meant = path.with_suffix(suffix)
    beside = f" ({meant}?)" if meant != path and meant.is_file() else ""
    rest = "; keep this one to yourself" if suffix == ".pub" else ", and --public-key this one"
    return KeyFileError(f"{path} is {said}{beside}{rest}")


def _read(path: Path, what: str) -> bytes:
    try:
        return read_small_file(path, MAX_KEY_FILE_BYTES)
    except OSError as exc:
        raise KeyFileError(f"cannot read the {what} {path}: {exc.strerror}") from exc


def is_encrypted(path: Path) -> bool:
    """Whether the key file holds a private key encrypted with a passphrase (False when it
    cannot be read: :func:`load_private_key` then says why)."""
    try:
        return _ENCRYPTED in _read(path, "signing key")
    except KeyFileError:
        return False


def load_private_key(path: Path, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """The signing key in ``path`` (opened with ``passphrase`` when it is encrypted); refused
    if others may read the file.

    Raises:
        KeyFileError: unreadable, readable by group or others, encrypted and no passphrase or
            a wrong one, or not an Ed25519 private key.
    """
    body = _read(path, "signing key")
    if _PUBLIC in body:  # a mode check would ask to hide what may be shared
        raise _other_half(path, "the public key: --sign takes the private key", ".key")
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"{path}: the signing key is readable by others (mode "
            f"{path.stat().st_mode & 0o777:o}): chmod 600 {path}"
        )
    encrypted = _ENCRYPTED in body
    if encrypted and not passphrase:
        raise KeyFileError(
            f"{path} is encrypted with a passphrase: set {PASSPHRASE_ENV}, or run where it "
            "can be typed"
        )
    try:
        key = serialization.load_pem_private_key(body, password=passphrase if encrypted else None)
    except (ValueError, TypeError) as exc:
        if encrypted:  # the only way a well-formed encrypted key fails: the passphrase
            raise KeyFileError(f"the passphrase does not open {path}") from exc
        raise KeyFileError(f"{path} is not a PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 key: `marginlex keys new` makes one")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The public key in ``path``.

    Raises:
        KeyFileError: unreadable, or not an Ed25519 public key.
    """
    body = _read(path, "public key")
    if _PRIVATE in body:  # the secret half given where the shared one is asked for
        raise _other_half(
            path, "the private signing key: --public-key takes the public key", ".pub"
        )
    try:
        key = serialization.load_pem_public_key(body)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} is not an Ed25519 public key")
    return key


def signature_holds(public: Ed25519PublicKey, signature: bytes, payload: bytes) -> bool:
    """Whether ``signature`` is the key's signature of ``payload``."""
    try:
        public.verify(signature, payload)
    except InvalidSignature:
        return False
    return True
