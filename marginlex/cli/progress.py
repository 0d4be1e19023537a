"""Progress of long work on stderr: a live bar on a terminal, periodic plain lines elsewhere.

Stages report ``(what, done, total)``; the reporter shows each stage's count and an estimate
of the time left from the pace so far. Without a terminal (CI logs, pipes) it writes one plain
line when a stage starts, at most every ``every`` seconds while it runs, and when it ends, so
that logs stay short and stdout stays clean for machine output.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

Report = Callable[[str, int, int], None]


def eta(done: int, total: int, elapsed: float) -> str:
    """The time left at the pace so far, in words.

    >>> eta(0, 10, 5.0)
    'estimating'
    >>> eta(5, 10, 20.0)
    'about 20 s left'
    >>> eta(1, 10, 60.0)
    'about 9 min left'
    >>> eta(10, 10, 60.0)
    'done in 60 s'
    """
    if done >= total:
        return f"done in {elapsed:.0f} s"
    if done == 0:
        return "estimating"
    left = elapsed / done * (total - done)
    return f"about {left:.0f} s left" if left < 120 else f"about {left / 60:.0f} min left"


class PlainLines:
    """Plain progress lines to a stream, at most one per stage every ``every`` seconds."""

    def __init__(self, stream: IO[str], every: float = 10.0) -> None:
        self.stream, self.every = stream, every
        self.started: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def __call__(self, what: str, done: int, total: int) -> None:
        """Write a line if the stage just started, ended, or ``every`` seconds passed."""
        now = time.monotonic()
        start = self.started.setdefault(what, now)
        if done < total and now - self.last.get(what, -self.every) < self.every:
            return
        self.last[what] = now
        self.stream.write(f"{what}: {done}/{total}, {eta(done, total, now - start)}\n")
        self.stream.flush()


@contextmanager
def progress_reporter(console: Console, every: float = 10.0) -> Iterator[Report]:
    """A :data:`Report` for the duration of the block: a live bar when ``console`` is a
    terminal, else :class:`PlainLines` to its file."""
    if not console.is_terminal:
        yield PlainLines(console.file, every)
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def report(what: str, done: int, total: int) -> None:
            task = tasks.get(what)
            if task is None:
                task = tasks[what] = bar.add_task(what, total=total)
            bar.update(task, completed=done, total=total)

        yield report
