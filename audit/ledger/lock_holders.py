"""Who holds a lock on a SQLite ledger file, as far as the system says.

SQLite locks a database file with POSIX advisory locks; on Linux ``/proc/locks`` lists each
held lock with the holder's process id and the file's device and inode. A run that waits for
a ledger's write lock names the processes holding a lock on that file (and what they run),
so the user knows what to wait for or stop. Elsewhere (no ``/proc/locks``), or where the
holder is not visible (another container's process), nothing is named.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC_LOCKS = Path("/proc/locks")
_MAX_COMMAND = 120  # characters of a holder's command line shown


def _command(pid: int) -> str | None:
    """A process's command line, its arguments spaced, cut to a readable length."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    text = raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace").strip()
    if len(text) > _MAX_COMMAND:
        text = text[: _MAX_COMMAND - 1] + "…"
    return text or None


def _pids(locks: str, device: tuple[int, int], inode: int) -> list[int]:
    """The process ids holding a lock (not waiting for one) on the file, in order.

    >>> _pids("1: POSIX  ADVISORY  WRITE 3783 fe:00:2148191 1073741824 1073742335\\n"
    ...       "1: -> POSIX  ADVISORY  WRITE 3790 fe:00:2148191 1073741824 1073742335\\n"
    ...       "2: POSIX  ADVISORY  READ 3801 fe:00:99 1073741826 1073742335", (254, 0), 2148191)
    [3783]
    """
    found: list[int] = []
    for line in locks.splitlines():
        fields = line.split()
        if len(fields) < 6 or fields[1] == "->":  # "->": a process waiting, not holding
            continue
        try:
            pid = int(fields[4])
            major, minor, ino = fields[5].split(":")
            where = (int(major, 16), int(minor, 16)), int(ino)
        except ValueError:
            continue
        if where == (device, inode) and pid > 0 and pid not in found:
            found.append(pid)
    return found


def lock_holders(path: Path) -> list[str]:
    """The other processes holding a lock on ``path``: ``pid 3783 (marginlex run ...)``
    each (empty when the system does not say).

    >>> lock_holders(Path("/no/such/file"))
    []
    """
    try:
        stat = path.stat()
        locks = _PROC_LOCKS.read_text(encoding="ascii", errors="replace")
    except OSError:
        return []
    device = (os.major(stat.st_dev), os.minor(stat.st_dev))
    mine = os.getpid()
    shown = []
    for pid in _pids(locks, device, stat.st_ino):
        if pid == mine:
            continue
        command = _command(pid)
        shown.append(f"pid {pid}" + (f" ({command})" if command else ""))
    return shown
