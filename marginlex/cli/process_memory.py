"""Keep freed memory in the process for commands that churn through large arrays.

glibc gives every allocation above its mmap threshold (128 KiB to 32 MiB, adjusting) pages
of its own and returns them to the system when freed; the next array of that size
page-faults its memory in again. ``stress`` builds and drops column arrays of a million
rows per phase, per batch and per rulebook, and spent a fifth of its time in the kernel
(12 s of system time in 58 s on the 1M-position book). Raising the thresholds once, at
the start of such a command, lets freed blocks be reused: the same work with 9 s of
system time. ``run`` evaluates each rulebook over the same book and frees its arrays
before the next: on the 1M-position book the three rulebooks' system time falls from about
2.3 s to 1.8 s, and from 1.1 s to 0.3 s for a second pass over them. Figures are
unchanged; the peak memory rises by about 5%.

Arrow's buffers (pandas 3 keeps every ``str`` column in them) come from its own allocator,
mimalloc, which hands freed memory back to the kernel as eagerly: a plain ``run`` of the
100k-account book spent 2.9 s of its 9.5 s in the kernel. Once glibc keeps its freed
blocks, Arrow allocates through it too (its ``system`` pool): 1.0 s in the kernel, 7.6 s in
all (docs/running.md, "Memory the process keeps"). ``ARROW_DEFAULT_MEMORY_POOL``, when the
user sets it, is left to choose.

Only on Linux with glibc; elsewhere this does nothing.
"""

from __future__ import annotations

import os
import sys

# mallopt parameters (glibc malloc.h)
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
ARROW_POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"
_KEEP = {
    _M_MMAP_THRESHOLD: 1 << 30,  # blocks up to 1 GiB come from the heap, and stay there
    _M_TRIM_THRESHOLD: 1 << 31,  # never trim the heap's top below 2 GiB free
    _M_TOP_PAD: 1 << 28,  # grow the heap 256 MiB at a time
}


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks for reuse, and Arrow to allocate from glibc; True when
    glibc took every setting."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes  # noqa: PLC0415 (only the commands that call this pay for it)
    import ctypes.util  # noqa: PLC0415

    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if not all(mallopt(param, value) == 1 for param, value in _KEEP.items()):
        return False
    if ARROW_POOL_ENV not in os.environ:  # the user's own choice of pool stands
        import pyarrow as pa  # noqa: PLC0415 (the commands that call this load it anyway)

        pa.set_memory_pool(pa.system_memory_pool())
    return True
