"""Signed checkpoints at the command line: ``keys new``, ``ledger checkpoint``, and the pieces
``run --sign`` and ``verify --checkpoints`` share.

The keys and the checkpoint machinery (cryptography, sqlalchemy) are imported inside the
functions, so that ``marginlex --help`` stays light.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from marginlex.cli.consoles import lazy_console
from marginlex.cli.help_text import examples
from marginlex.cli.output_file import file_problem
from marginlex.cli.usage import ledger_given

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    from marginlex.audit.ledger.checkpoints import SignedCheckpoint
    from marginlex.audit.ledger.store import Ledger

_err = lazy_console(stderr=True, highlight=False)
LEDGER_HELP = (
    "Ledger file path or postgresql+psycopg:// URL (default: $MARGINLEX_LEDGER, "
    "else ./marginlex-ledger.db)."
)
_LedgerOpt = Annotated[
    str | None, typer.Option("--ledger", help=LEDGER_HELP, callback=ledger_given)
]
SIGN_HELP = "Sign the ledger's head with this Ed25519 private key (`marginlex keys new`)."
CHECKPOINTS_HELP = (
    "Append the signed checkpoint to this file (or folder); default beside a SQLite ledger: "
    "LEDGER.checkpoints.jsonl. Keep it outside the ledger's reach."
)
SignOpt = Annotated[Path | None, typer.Option("--sign", help=SIGN_HELP)]
CheckpointsOpt = Annotated[Path | None, typer.Option("--checkpoints", help=CHECKPOINTS_HELP)]


def _fail(message: str, code: int = 1) -> typer.Exit:
    _err.print(f"error: {message}", markup=False, soft_wrap=True)
    return typer.Exit(code)


PASSPHRASE_HELP = (
    "Encrypt the private key with a passphrase: typed twice, or $MARGINLEX_KEY_PASSPHRASE "
    "where set. --sign then asks for it (or reads the variable)."
)


def keys_new(
    folder: Annotated[Path, typer.Argument(help="Folder to write the key pair into.")],
    passphrase: Annotated[bool, typer.Option("--passphrase", help=PASSPHRASE_HELP)] = False,
) -> None:
    """Make an Ed25519 key pair for signing checkpoints (the private key file is mode 0600).

    Keep the private key off the ledger's machine when you can; give auditors the .pub file.
    """
    from marginlex.audit.ledger.keys import KeyFileError, new_key_pair  # noqa: PLC0415

    secret = _new_passphrase() if passphrase else None
    try:
        private, public = new_key_pair(folder, secret)
    except KeyFileError as exc:
        raise _fail(str(exc)) from exc
    kept = ", encrypted with the passphrase" if secret else ""
    typer.echo(f"wrote {private} (private, mode 600{kept}: never share it)")
    typer.echo(f"wrote {public} (public: for `marginlex verify --public-key`)")


def can_type() -> bool:
    """Whether a passphrase can be typed: standard input is a terminal."""
    return sys.stdin.isatty()


def _passphrase_env() -> bytes | None:
    from marginlex.audit.ledger.keys import PASSPHRASE_ENV  # noqa: PLC0415

    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode("utf-8") if value else None


def _new_passphrase() -> bytes:
    """A new key's passphrase: the variable's, else typed twice (exit 1 where none can be
    typed, or an empty one)."""
    from marginlex.audit.ledger.keys import PASSPHRASE_ENV  # noqa: PLC0415

    found = _passphrase_env()
    if found is not None:
        return found
    if not can_type():
        raise _fail(f"--passphrase: nothing to type it on; set {PASSPHRASE_ENV}")
    # on stderr, as every prompt here: standard output may be a file (--format json > out)
    typed = typer.prompt("passphrase", hide_input=True, confirmation_prompt=True, err=True)
    if not typed:
        raise _fail("--passphrase: an empty passphrase encrypts nothing")
    return str(typed).encode("utf-8")


def signing_key_or_exit(path: Path) -> Ed25519PrivateKey:
    """The signing key, or exit 1 with why it cannot be used; an encrypted one is opened with
    $MARGINLEX_KEY_PASSPHRASE, else the passphrase typed when asked."""
    from marginlex.audit.ledger.keys import (  # noqa: PLC0415
        KeyFileError,
        is_encrypted,
        load_private_key,
    )

    secret = _passphrase_env()
    if secret is None and is_encrypted(path) and can_type():
        typed = typer.prompt(f"passphrase of {path}", hide_input=True, err=True)
        secret = str(typed).encode("utf-8")
    try:
        return load_private_key(path, secret)
    except KeyFileError as exc:
        raise _fail(str(exc)) from exc


def checkpoint_path_or_exit(location: str, checkpoints: Path | None) -> Path:
    """Where checkpoints go: the option, else beside a SQLite ledger; exit 1 for a server,
    or for a file that cannot be appended to (said before the ledger is touched)."""
    from marginlex.audit.ledger.checkpoints import (  # noqa: PLC0415
        checkpoint_file,
        default_checkpoint_path,
    )

    path = checkpoints or default_checkpoint_path(location)
    if path is None:
        raise _fail("a PostgreSQL ledger has no folder beside it: pass --checkpoints PATH")
    problem = file_problem(checkpoint_file(path))
    if problem is not None:
        raise _fail(f"cannot append to the checkpoint file {checkpoint_file(path)}: {problem}")
    return path


def sign_or_exit(
    store: Ledger, key: Ed25519PrivateKey, path: Path, run_id: str | None
) -> SignedCheckpoint:
    """Sign the head, store the checkpoint and append it to ``path``; say so on stderr."""
    from marginlex.audit.ledger.checkpoints import CheckpointError, sign_head  # noqa: PLC0415

    try:
        signed = sign_head(store, key, path, run_id)
    except CheckpointError as exc:
        raise _fail(f"no checkpoint written: {exc}") from exc
    cp = signed.checkpoint
    _err.print(
        f"signed checkpoint of #{cp.head_seq} {cp.head_hash[:12]}… (key {cp.key_id}) "
        f"in the ledger and {path}",
        markup=False,
        soft_wrap=True,
    )
    return signed


def checkpoint_command(
    *,
    ledger: _LedgerOpt = None,
    sign: Annotated[Path, typer.Option("--sign", help=SIGN_HELP)],
    checkpoints: CheckpointsOpt = None,
) -> None:
    """Sign the ledger's current head now: a checkpoint kept outside the ledger."""
    from marginlex.audit.ledger.store import Ledger, LedgerError  # noqa: PLC0415
    from marginlex.cli.ledger_location import ledger_location  # noqa: PLC0415

    location = ledger_location(ledger)
    path = checkpoint_path_or_exit(location, checkpoints)
    key = signing_key_or_exit(sign)
    try:
        store = Ledger.open(location, create=False)
    except LedgerError as exc:
        raise _fail(str(exc), 2) from exc
    try:
        signed = sign_or_exit(store, key, path, None)
    finally:
        store.close()
    typer.echo(signed.line())


def init_command(
    location: Annotated[str, typer.Argument(help="A postgresql+psycopg:// URL or a file path.")],
    *,
    roles: Annotated[
        bool,
        typer.Option(
            help="PostgreSQL: a writer role (INSERT, SELECT), a reader role (SELECT) and "
            "triggers that refuse UPDATE, DELETE and TRUNCATE on every ledger table."
        ),
    ] = False,
    writer: Annotated[str, typer.Option(help="The writer role's name.")] = "marginlex_writer",
    reader: Annotated[str, typer.Option(help="The reader role's name.")] = "marginlex_reader",
) -> None:
    """Create a ledger (as the owner of its tables); with --roles, make it append-only.

    Grant the writer role to the login that runs `marginlex run`, the reader role to the
    logins of `serve` and `verify`; keep the owner's login for `ledger init` alone.
    """
    from marginlex.audit.ledger.roles import init_ledger  # noqa: PLC0415
    from marginlex.audit.ledger.store import LedgerError, shown_location  # noqa: PLC0415

    try:
        protected = init_ledger(location, roles=roles, writer=writer, reader=reader)
    except LedgerError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"ledger ready: {shown_location(location)}")
    if protected:
        typer.echo(
            f"roles: {writer} (INSERT, SELECT), {reader} (SELECT); UPDATE, DELETE and "
            f"TRUNCATE refused on {', '.join(protected)}"
        )


def upgrade_command(*, ledger: _LedgerOpt = None) -> None:
    """Upgrade a ledger made by an older marginlex to this schema, in place (Alembic)."""
    from marginlex.audit.ledger.schema import upgrade_ledger  # noqa: PLC0415
    from marginlex.audit.ledger.store import LedgerError  # noqa: PLC0415
    from marginlex.cli.ledger_location import ledger_location  # noqa: PLC0415

    location = ledger_location(ledger)
    try:
        before, after = upgrade_ledger(location)
    except LedgerError as exc:
        raise _fail(str(exc), 2) from exc
    if before == after:
        typer.echo(f"schema already at {after}: nothing to upgrade")
    else:
        typer.echo(f"schema upgraded from {before} to {after}")


CheckpointInputs = tuple["Ed25519PublicKey", list[tuple[str, str]] | None]
"""The public key and the checkpoint file's lines (None: the ledger's own checkpoints)."""


def checkpoint_inputs_or_exit(checkpoints: Path | None, public_key: Path) -> CheckpointInputs:
    """The public key and the checkpoint file, read before the chain is walked (a long walk
    should not end in "not a PEM public key"); exit 1 with why one cannot be read."""
    from marginlex.audit.ledger.checkpoints import CheckpointError, file_lines  # noqa: PLC0415
    from marginlex.audit.ledger.keys import KeyFileError, load_public_key  # noqa: PLC0415

    try:
        return load_public_key(public_key), list(file_lines(checkpoints)) if checkpoints else None
    except (KeyFileError, CheckpointError) as exc:
        raise _fail(str(exc)) from exc


def check_checkpoints_or_exit(
    store: Ledger, checkpoints: Path | None, inputs: CheckpointInputs
) -> bool:
    """Check the checkpoints (the file's, else the ledger's own); print each that fails.

    Returns:
        True when every signature holds and every checkpointed head is still in the ledger.
    """
    from marginlex.audit.ledger.checkpoints import (  # noqa: PLC0415
        CheckpointError,
        check_checkpoints,
        ledger_lines,
    )

    public, lines = inputs
    try:
        lines = lines if lines is not None else ledger_lines(store)
    except CheckpointError as exc:
        raise _fail(str(exc)) from exc
    report = check_checkpoints(store, lines, public)
    source = str(checkpoints) if checkpoints else "the ledger's own checkpoints table"
    for f in report.findings:
        typer.echo(f"CHECKPOINT FAILED {f.where}: {f.kind.value}: {f.message}")
    if report.checked == 0:
        typer.echo(f"CHECKPOINT FAILED: no checkpoint in {source}")
        return False
    if report.ok:
        typer.echo(
            f"checkpoints: {report.checked} in {source}, every signature holds and the "
            "ledger still holds every checkpointed head"
        )
    return report.ok


def register(app: typer.Typer) -> None:
    """Add ``keys`` (with ``new``) to the marginlex app."""
    group = typer.Typer(
        no_args_is_help=True,
        add_completion=False,
        help="Signing keys.",
        epilog=examples("marginlex keys new keys/"),
    )
    group.command("new", epilog=examples("marginlex keys new keys/"))(keys_new)
    app.add_typer(group, name="keys")
