"""The engine's version: what every recorded run and trace says made its decisions; and a
fingerprint of the code that decides, which a recorded run stores beside it.

The version is the package's and does not move when a kernel is fixed, so ``run --since``
carries an earlier decision forward only when the code that would decide it today is the
code that decided it: the sha256 of the sources that make a decision's figures (``engine/``,
``dsl/`` with its grammar) or its trace (``audit/trace/``: a carried decision reuses the
earlier trace, so a change to how traces are built must re-decide too). Each source adds its
path relative to the package (``engine/evaluation.py``, the same in a checkout and an
installed wheel), a NUL, its size, a NUL and its bytes, in sorted path order. It reads about
1.5 MB of source, so it is made only by a run being recorded, once per process
(:func:`engine_code_sha256`), never on import: a light command (``explain``, ``check``,
``--help``) never reads it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    ENGINE_VERSION = version("marginlex")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    ENGINE_VERSION = "0.0.0"

PACKAGE_ROOT = Path(__file__).parent.parent
"""The package's folder (``marginlex/``), under which the sources' globs are taken."""
CODE_SOURCES = ("engine/**/*.py", "dsl/**/*.py", "dsl/**/*.lark", "audit/trace/**/*.py")
"""The sources that decide, as globs under the package's folder."""


def code_sha256(root: Path, sources: Sequence[str] = CODE_SOURCES) -> str:
    """sha256 of the ``sources`` (globs, default :data:`CODE_SOURCES`) under ``root`` (the
    package's folder).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     (Path(d) / "engine").mkdir()
    ...     _ = (Path(d) / "engine" / "a.py").write_bytes(b"x = 1\\n")
    ...     code_sha256(Path(d))[:12]
    '08088ac46591'
    """
    paths = {
        path.relative_to(root).as_posix(): path
        for pattern in sources
        for path in root.glob(pattern)
        if path.is_file() and "__pycache__" not in path.parts
    }
    digest = hashlib.sha256()
    for name in sorted(paths):  # a few hundred files
        body = paths[name].read_bytes()
        digest.update(b"%s\0%d\0" % (name.encode("utf-8"), len(body)))
        digest.update(body)
    return digest.hexdigest()


@cache
def engine_code_sha256() -> str:
    """:func:`code_sha256` of the running marginlex (made once per process)."""
    return code_sha256(PACKAGE_ROOT)
