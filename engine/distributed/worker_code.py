"""The code a Dask worker runs, and the client's refusal of a worker that runs other code.

A run on a cluster records the client's engine version and code fingerprint
(:func:`~marginlex.engine.version.engine_code_sha256`), but its decisions are made by the
workers: a worker started from an older install would make decisions the ledger says the
client's code made. So the client compares, before it ships anything, what every worker runs
(:func:`check_workers`), and every task's result carries what the worker that made it runs
(:class:`Stamp`), compared again before a result is merged or recorded
(:func:`refuse_other_code`): a worker that joined after the first check, or one that
recomputed a lost result, is caught too.

What must be the same (:class:`RunningCode`): marginlex's version and code fingerprint;
the sha256 of the ledger code a worker also runs (:data:`LEDGER_SOURCES`: it hashes and
compresses the traces, hashes each set's inputs and makes a book's recorded copy, outside
the fingerprint, which names what decides); Python's minor version (the client and workers
exchange pickles, and a bug-fix release changes none of the arithmetic, ``json`` or
``hashlib`` the engine uses); and the exact versions of :data:`LIBRARIES`, the libraries
whose code makes a figure or a recorded byte on a worker. dask is imported only inside the
functions that run on a cluster.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from marginlex.engine import version as engine_code

if TYPE_CHECKING:
    from distributed import Client

LIBRARIES = ("numpy", "pandas", "scipy", "pyarrow", "networkx", "pydantic", "zstandard")
"""The libraries whose version must match the client's: numpy and pandas (every kernel,
grouping and reduction: a release may sum in another order and move a half cent), scipy
(the normal distribution of the option pricer), pyarrow (reading a partitioned book's
files), networkx (the account graph's margin sets), pydantic (the trace's JSON, which is
hashed) and zstandard (the compressed traces the ledger stores)."""
LEDGER_SOURCES = ("audit/ledger/**/*.py",)
"""The ledger code a worker runs on its partition's evaluation (``after``), as globs under
the package's folder (:func:`~marginlex.engine.version.code_sha256`)."""
SHORT = 12
"""Hex digits of a code fingerprint shown in a message (as ``run --since`` shows them)."""


class RunningCode(BaseModel):
    """What a process runs, as far as it decides: compared field by field.

    >>> running_code().python == f"{sys.version_info.major}.{sys.version_info.minor}"
    True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    marginlex: str
    code_sha256: str
    ledger_sha256: str
    python: str
    libraries: tuple[tuple[str, str], ...]

    def differences(self, client: RunningCode) -> list[str]:
        """Each way this code differs from the ``client``'s, as ``what this (client: that)``.

        >>> a = RunningCode(marginlex="1.0", code_sha256="ab" * 32, ledger_sha256="cd" * 32,
        ...                 python="3.11", libraries=(("numpy", "2.4.6"),))
        >>> b = a.model_copy(update={"libraries": (("numpy", "2.3.0"),)})
        >>> b.differences(a)
        ['numpy 2.3.0 (client: 2.4.6)']
        """
        theirs = dict(self.libraries)
        pairs = [
            ("marginlex", self.marginlex, client.marginlex),
            ("code", self.code_sha256[:SHORT], client.code_sha256[:SHORT]),
            ("ledger code", self.ledger_sha256[:SHORT], client.ledger_sha256[:SHORT]),
            ("Python", self.python, client.python),
            *((name, theirs.get(name, "missing"), want) for name, want in client.libraries),
        ]
        return [f"{name} {got} (client: {want})" for name, got, want in pairs if got != want]


class Stamp(BaseModel):
    """What a task's result says about the worker that made it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    worker: str
    code: RunningCode


class WorkerCodeError(ValueError):
    """Workers that run other code than the client: the run is refused."""


HINT = (
    "hint: install this client's marginlex checkout, with the same Python minor version and "
    "the same {libs}, on every worker host, and restart its `dask worker` from that "
    "environment; nothing was recorded"
)


def _library_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "missing"


@cache
def running_code() -> RunningCode:
    """What this process runs (made once per process: the fingerprint reads ~1.5 MB)."""
    return RunningCode(
        marginlex=engine_code.ENGINE_VERSION,
        code_sha256=engine_code.engine_code_sha256(),
        ledger_sha256=engine_code.code_sha256(engine_code.PACKAGE_ROOT, LEDGER_SOURCES),
        python=f"{sys.version_info.major}.{sys.version_info.minor}",
        libraries=tuple((name, _library_version(name)) for name in LIBRARIES),
    )


def stamp() -> Stamp:
    """A task's stamp: the worker running it and what it runs (called on the worker)."""
    from distributed import get_worker  # noqa: PLC0415

    try:
        worker = get_worker().address
    except ValueError:  # not in a worker (a task run by hand)
        worker = "this process"
    return Stamp(worker=worker, code=running_code())


def worker_report(dask_worker: Any) -> RunningCode:
    """:func:`running_code` of a worker, for ``Client.run`` (which passes ``dask_worker``)."""
    return running_code()


def refuse_other_code(reports: Mapping[str, RunningCode | BaseException]) -> None:
    """Raise :class:`WorkerCodeError` naming each worker (by address) whose code is not the
    client's, or that could not say what it runs.

    >>> ok = running_code()
    >>> refuse_other_code({"tcp://10.0.0.7:4000": ok})
    >>> other = ok.model_copy(update={"python": "2.7"})
    >>> try:
    ...     refuse_other_code({"tcp://10.0.0.7:4000": other})
    ... except WorkerCodeError as exc:
    ...     print(str(exc).splitlines()[1].split(" (client")[0])
      tcp://10.0.0.7:4000: Python 2.7
    """
    client = running_code()
    lines = []
    for worker, code in sorted(reports.items()):
        if isinstance(code, BaseException):
            lines.append(f"  {worker}: cannot say what it runs ({type(code).__name__}: {code})")
        elif code != client:
            lines.append(f"  {worker}: {', '.join(code.differences(client))}")
    if lines:
        libs = ", ".join(LIBRARIES)
        raise WorkerCodeError(
            f"{len(lines)} of {len(reports)} Dask workers run other code than this client "
            f"(marginlex {client.marginlex}, code {client.code_sha256[:SHORT]}), and a run "
            "records the client's:\n" + "\n".join(lines) + "\n" + HINT.format(libs=libs)
        )


def check_stamps(stamps: Iterable[Stamp]) -> None:
    """:func:`refuse_other_code` for the stamps of gathered results (each worker once: a
    worker restarted at the same address may have stamped with two codes, and the one that
    is not the client's counts)."""
    client = running_code()
    ordered = sorted(stamps, key=lambda s: s.code != client)  # other code last: it stays
    refuse_other_code({s.worker: s.code for s in ordered})


def check_workers(client: Client) -> None:
    """Ask every worker of ``client`` what it runs; refuse the run when one is not the
    client's code (:func:`refuse_other_code`). Workers that join later are checked by their
    results' stamps."""
    reports = client.run(worker_report, on_error="return")
    refuse_other_code(reports)
