"""Writing a rulebook file whole or not at all.

``marginlex fmt`` rewrites rulebooks in place and the workbench saves new ones. A write cut
short (a full disk, a quota, the process killed) must not leave half a rulebook where the
officer's file was: the text goes to a temporary file beside the target, is flushed to disk,
and then takes the target's name in one step (``os.replace``, atomic on POSIX and Windows).
The file keeps its permissions (a file one may not write is refused, although its folder
would let it be replaced); a symbolic link keeps pointing where it did, at the rewritten file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path


def replace_text(path: Path, text: str, *, new: bool = False) -> None:
    """Write ``text`` (UTF-8) to ``path`` whole, or leave ``path`` as it was; with ``new``,
    only as a file that does not exist yet.

    Raises:
        FileExistsError: ``new``, and the file exists (made meanwhile by another writer).
        OSError: the text could not be written (nothing at ``path`` changed).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> replace_text(folder / "a.mlx", "rulebook a")
    >>> (folder / "a.mlx").read_text(), sorted(p.name for p in folder.iterdir())
    ('rulebook a', ['a.mlx'])
    """
    target = path.resolve() if path.is_symlink() else path
    if target.exists() and not os.access(target, os.W_OK):  # replacing it would succeed
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
    made = False
    if new or not target.exists():  # a new file: made empty first, so that the umask sets its mode
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        made = True
    temporary = None
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        for left in (temporary, target if made else None):
            if left is not None:
                with contextlib.suppress(OSError):
                    os.unlink(left)
        raise
