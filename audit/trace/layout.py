"""Traces laid out as runs of pieces, joined once: the long text is copied once, into the trace.

A trace is mostly long fragments (class groups, positions, requirement checks) nested a few
levels deep. Joined level by level, each would be copied at every level; laid out as runs
of pieces (:class:`Pieces`), each is placed by numpy where it goes in its trace's run and
copied once, when the trace is joined (:func:`joined_layout`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from marginlex.audit.trace import fragments as j


@dataclass(frozen=True)
class Pieces:
    """Rows of text not joined yet: row ``i`` is ``"".join(flat[start_i : start_i + counts[i]])``.

    The long fragments (class groups, positions) are laid out into each trace's run of
    pieces, and copied once, straight into the trace, by :meth:`joined`.
    """

    flat: npt.NDArray[np.object_]
    counts: npt.NDArray[np.int64]

    def joined(self) -> list[str]:
        """Each row's pieces joined.

        >>> layout(["<", grouped(["a", "b", "c"], np.array([1, 0, 1]), 3), ">"], 3).joined()
        ['<b>', '<a,c>', '<>']
        """
        flat = self.flat.tolist()
        bounds = np.concatenate([[0], np.cumsum(self.counts)]).tolist()
        return ["".join(flat[a:b]) for a, b in pairwise(bounds)]

    def only(self, rows: npt.NDArray[np.bool_]) -> Pieces:
        """The runs of the rows where ``rows`` holds; empty runs elsewhere.

        >>> layout(["<", ["a", "b"], ">"], 2).only(np.array([False, True])).joined()
        ['', '<b>']
        """
        kept = np.repeat(rows, self.counts)
        return Pieces(self.flat[kept], np.where(rows, self.counts, 0))


def grouped(
    fragments: Sequence[str | None] | npt.NDArray[np.object_] | j.Coded,
    codes: npt.NDArray[np.int64],
    n_groups: int,
    sep: str = ",",
) -> Pieces:
    """Each group's fragments in row order with ``sep`` between them, not joined yet.

    Rows with a negative code are dropped; the rows are sorted by group once (stable).

    >>> grouped(["a", "b", "c"], np.array([1, 0, 1]), 3).joined()
    ['b', 'a,c', '']
    """
    keep = codes >= 0
    order = np.flatnonzero(keep)[np.argsort(codes[keep], kind="stable")]
    ordered = codes[order]
    # Each fragment, then the separator if the next fragment is of the same group, else "".
    flat = np.empty(2 * len(order), dtype=object)
    flat[0::2] = j.objects(fragments)[order]
    flat[1::2] = np.where(np.append(ordered[1:] == ordered[:-1], False), sep, "")
    return Pieces(flat, 2 * np.bincount(ordered, minlength=n_groups).astype(np.int64))


Layout = str | Sequence[str | None] | npt.NDArray[np.object_] | j.Coded | Pieces
"""A part of :func:`layout`: a literal, a column (one piece per row) or runs of pieces."""


def layout(parts: Sequence[Layout], n: int) -> Pieces:
    """Row-wise concatenation of literals, columns (one piece per row) and runs of pieces.

    Unlike :func:`concat` nothing is joined (and a column must hold no None): the pieces
    of every part are placed, with numpy, where they go in each row's run.
    """
    total = np.full(n, sum(not isinstance(p, Pieces) for p in parts), dtype=np.int64)
    for part in parts:
        if isinstance(part, Pieces):
            total += part.counts
    flat = np.empty(int(total.sum()), dtype=object)
    at = np.cumsum(total) - total  # where the next part goes in each row's run
    for part in parts:
        if isinstance(part, Pieces):
            shift = at - (np.cumsum(part.counts) - part.counts)
            flat[np.repeat(shift, part.counts) + np.arange(len(part.flat))] = part.flat
            at += part.counts
        else:
            flat[at] = part if isinstance(part, str) else j.objects(part)
            at += 1
    return Pieces(flat, total)


def joined_layout(parts: Sequence[Layout], n: int, chunk: int = 2048) -> list[str]:
    """``layout(parts, n).joined()``, ``chunk`` rows at a time.

    The index arrays of a whole evaluation's layout run to tens of MB, which the allocator
    maps fresh (page faults) each time; a chunk's are small and reused.

    >>> joined_layout(["<", grouped(["a", "b", "c"], np.array([1, 0, 1]), 3), ">"], 3, 2)
    ['<b>', '<a,c>', '<>']
    """
    starts = [
        np.concatenate([[0], np.cumsum(p.counts)]) if isinstance(p, Pieces) else None for p in parts
    ]
    out: list[str] = []
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        rows: list[Layout] = []
        for part, start in zip(parts, starts, strict=True):
            if isinstance(part, Pieces):
                assert start is not None
                rows.append(Pieces(part.flat[start[a] : start[b]], part.counts[a:b]))
            elif isinstance(part, j.Coded):
                rows.append(j.Coded(part.codes[a:b], part.texts))
            elif isinstance(part, str):
                rows.append(part)
            else:
                rows.append(part[a:b])
        out += layout(rows, b - a).joined()
    return out
