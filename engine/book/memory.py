"""The memory available now, read without heavy imports (a command that reads one decision
from a ledger checks a stored book against it too)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

NOT_A_FILE = "not a regular file (a folder, a device or a pipe)"
"""What a path is that no file reader reads (``dsl/claims.py`` says the same of a rulebook,
in the language's layer, which this module sits above)."""
MEMORY_SHARE = 0.5
"""The share of the memory available now that one book may need."""


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable`` of /proc/meminfo on Linux, else the
    free physical pages)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))


def book_memory_limit() -> int:
    """Bytes one book may take: :data:`MEMORY_SHARE` of the memory available now."""
    return int(available_memory() * MEMORY_SHARE)


def read_small_file(path: Path, limit: int) -> bytes:
    """The bytes of ``path``: a regular file of at most ``limit`` bytes (a key, a scenario
    file, a test file), read only when it is one.

    Raises:
        OSError: it is no regular file (a link to /dev/zero was read until memory ran out),
            it is larger than ``limit``, or it cannot be read; ``strerror`` says which.
    """
    if path.exists() and not path.is_file():
        raise OSError(errno.EINVAL, NOT_A_FILE)
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"over {limit:,} bytes: not a file of this kind")
    return data
