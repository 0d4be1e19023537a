"""Sampled Shapley values: random orders, their coalitions, the walk, the estimate and its error.

Each order of the ``n`` players gives ``n`` marginal contributions that telescope to
``v(N) - v(empty)``; the Shapley value is their mean over orders. **Antithetic** sampling
(the default) draws ``samples / 2`` orders and pairs each with its reverse: both are uniform
orders, so the mean is unbiased, and a player early in one is late in the other, so where a
player's effect depends on which others came before (an eligibility threshold and the rates
that only matter above it) the two errors cancel. Where the players interact only in pairs
the pair's mean is the exact value (``tests/study/test_sampling.py``). The standard error is
taken over the pairs' means (they are independent; the two orders of a pair are not).
**Plain** sampling draws ``samples`` independent orders.

The coalitions are evaluated in :func:`walk` order: each order's chain of coalitions, every
other chain backwards, so that consecutive coalitions differ by one player and share the
phases that player does not touch (:mod:`marginlex.engine.variants.study.coalitions`).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt


class Pairing(StrEnum):
    """How sampled orders are drawn."""

    ANTITHETIC = "antithetic"
    PLAIN = "plain"


def order_count(samples: int, pairing: Pairing) -> int:
    """The orders drawn for ``samples`` asked: antithetic pairs need an even count, at least 4
    (two pairs, for a standard error); plain at least 2.

    >>> order_count(31, Pairing.ANTITHETIC), order_count(2, Pairing.ANTITHETIC)
    (32, 4)
    """
    if pairing is Pairing.PLAIN:
        return max(samples, 2)
    return max(samples + samples % 2, 4)


def draw_orders(n: int, samples: int, seed: int, pairing: Pairing) -> npt.NDArray[np.int64]:
    """``(samples, n)`` orders of the players (seeded); antithetic: each followed by its reverse.

    >>> draw_orders(3, 4, 0, Pairing.ANTITHETIC)[:2].tolist()
    [[2, 0, 1], [1, 0, 2]]
    """
    rng = np.random.default_rng(seed)
    if pairing is Pairing.PLAIN:
        return np.stack([rng.permutation(n) for _ in range(samples)]).astype(np.int64)
    first = np.stack([rng.permutation(n) for _ in range(samples // 2)]).astype(np.int64)
    return np.stack([first, first[:, ::-1]], axis=1).reshape(samples, n)


def chains(orders: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
    """``(samples, n + 1)`` coalition bitmasks: each order's players switched one by one.

    >>> chains(np.array([[1, 0]])).tolist()
    [[0, 2, 3]]
    """
    samples = len(orders)
    steps = 2 ** orders.astype(object)
    out: npt.NDArray[np.object_] = np.cumsum(
        np.concatenate([np.zeros((samples, 1), dtype=object), steps], axis=1), axis=1
    )
    return out


def walk(masks: npt.NDArray[np.object_]) -> list[int]:
    """The coalitions in evaluation order: the chains one after another, every other one
    backwards (from all players down to none), so that each differs from the one before in
    one player.

    >>> walk(np.array([[0, 1, 3], [0, 2, 3]], dtype=object))
    [0, 1, 3, 3, 2, 0]
    """
    return [int(m) for k, row in enumerate(masks) for m in (row if k % 2 == 0 else row[::-1])]


def marginals(
    orders: npt.NDArray[np.int64], stacked: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Each order's marginal contribution of each player, ``(samples, players, ...)``, from the
    figures ``stacked`` of its chain (``(samples, n + 1, ...)``).

    >>> marginals(np.array([[1, 0]]), np.array([[0.0, 5.0, 6.0]])).tolist()
    [[1.0, 5.0]]
    """
    steps = np.diff(stacked, axis=1)
    out = np.empty_like(steps)
    out[np.arange(len(orders))[:, None], orders] = steps
    return out


def standard_errors(marginal: npt.NDArray[np.float64], pairing: Pairing) -> npt.NDArray[np.float64]:
    """The standard error of the mean over orders (axis 0), per remaining cell; antithetic:
    over the means of the pairs.

    >>> standard_errors(np.array([[1.0], [3.0], [2.0], [2.0]]), Pairing.ANTITHETIC).tolist()
    [0.0]
    """
    draws = marginal
    if pairing is Pairing.ANTITHETIC:
        draws = marginal.reshape(len(marginal) // 2, 2, *marginal.shape[1:]).mean(axis=1)
    se: npt.NDArray[np.float64] = draws.std(axis=0, ddof=1) / np.sqrt(len(draws))
    return se
