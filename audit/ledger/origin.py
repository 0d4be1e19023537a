"""Who ran a run: the operator, the host, and the command line with its secrets removed.

The operator is the one given (``--operator``), else ``$MARGINLEX_OPERATOR``, else the
operating system's user. The command line keeps every argument but the secrets in it: a
URL's password, the value of an option named like a password, token, secret or key
(``--token X``, ``--api-key=X``) and ``password=``/``token=`` pairs in connection strings.
"""

from __future__ import annotations

import getpass
import os
import re
import shlex
import socket
from collections.abc import Sequence
from pathlib import Path

from marginlex.audit.ledger.records import RunOrigin

OPERATOR_ENV = "MARGINLEX_OPERATOR"
HIDDEN = "***"
_SECRET_NAME = r"(?:password|passwd|pwd|token|secret|api[-_]?key|access[-_]?key|credentials?)"
_SECRET_OPTION = re.compile(rf"^--?[\w-]*{_SECRET_NAME}[\w-]*$", re.IGNORECASE)
_SECRET_ASSIGNED = re.compile(rf"^(--?[\w-]*{_SECRET_NAME}[\w-]*=).+$", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(\b[a-z][\w+.-]*://[^:/@\s]*:)[^@\s]*@", re.IGNORECASE)
_PAIR = re.compile(rf"(\b[\w-]*{_SECRET_NAME}[\w-]*=)[^&\s;]+", re.IGNORECASE)


def scrub_argument(argument: str) -> str:
    """One argument with any secret in it replaced by ``***``.

    >>> scrub_argument("postgresql+psycopg://writer:s3cret@db:5432/ledger?sslmode=require")
    'postgresql+psycopg://writer:***@db:5432/ledger?sslmode=require'
    >>> scrub_argument("--token=abc"), scrub_argument("host=db password=pw user=w")
    ('--token=***', 'host=db password=*** user=w')
    """
    assigned = _SECRET_ASSIGNED.match(argument)
    if assigned:
        return assigned[1] + HIDDEN
    return _PAIR.sub(rf"\g<1>{HIDDEN}", _URL_PASSWORD.sub(rf"\g<1>{HIDDEN}@", argument))


def scrub_command_line(argv: Sequence[str]) -> str:
    """The command line as a shell would read it, every secret replaced by ``***``.

    >>> scrub_command_line(["marginlex", "run", "--ledger", "postgresql://u:pw@h/l",
    ...                     "--api-key", "k-123", "--sign", "k.key"])
    "marginlex run --ledger 'postgresql://u:***@h/l' --api-key '***' --sign k.key"
    """
    out: list[str] = []
    hide_next = False
    for argument in argv:
        out.append(HIDDEN if hide_next else scrub_argument(argument))
        hide_next = bool(_SECRET_OPTION.match(argument))
    return shlex.join(out)


def operator_name(given: str | None = None) -> str:
    """The operator: the one given, else ``$MARGINLEX_OPERATOR``, else the OS user."""
    if given:
        return given
    from_env = os.environ.get(OPERATOR_ENV)
    if from_env:
        return from_env
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no user database entry
        return f"uid {os.getuid()}"


def run_origin(argv: Sequence[str], operator: str | None = None) -> RunOrigin:
    """Who runs this process, on which host, with which (scrubbed) command line."""
    program = Path(argv[0]).name if argv else "marginlex"
    return RunOrigin(
        operator=operator_name(operator),
        host=socket.gethostname(),
        command_line=scrub_command_line([program, *argv[1:]]),
    )
