"""Writing a file whole or not at all: rulebooks, and the reports and pages commands write.

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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def whole_file(path: Path, *, new: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to: when the block ends without an error,
    the file is flushed to disk and takes ``path``'s name in one step; when it raises,
    ``path`` is as it was and the temporary file is gone. With ``new``, ``path`` must not
    exist yet. A ``path`` that is there but is no regular file (``/dev/stdout``, a named
    pipe, a device) is written directly: never replaced by a file.

    Raises:
        FileExistsError: ``new``, and the file exists (made meanwhile by another writer).
        PermissionError: ``path`` is a file one may not write.
        OSError: the file could not be written (nothing at ``path`` changed).
    """
    target = path.resolve() if path.is_symlink() else path
    if target.exists() and not target.is_file():  # /dev/stdout, a pipe: written as it is
        yield target
        return
    if target.exists() and not os.access(target, os.W_OK):  # replacing it would succeed
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
    made = False
    if new or not target.exists():  # a new file: made empty first, so that the umask sets its mode
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        made = True
    temporary: Path | None = None
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(handle)
        temporary = Path(name)
        yield temporary
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        for left in (temporary, target if made else None):
            if left is not None:
                with contextlib.suppress(OSError):
                    os.unlink(left)
        raise


def replace_text(path: Path, text: str, *, new: bool = False) -> None:
    """Write ``text`` (UTF-8, line ends as they are) to ``path`` whole, or leave ``path`` as
    it was (:func:`whole_file`).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> replace_text(folder / "a.mlx", "rulebook a")
    >>> (folder / "a.mlx").read_text(), sorted(p.name for p in folder.iterdir())
    ('rulebook a', ['a.mlx'])
    """
    with (
        whole_file(path, new=new) as temporary,
        temporary.open("w", encoding="utf-8", newline="") as out,
    ):
        out.write(text)
