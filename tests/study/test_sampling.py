"""Sampled Shapley values: antithetic orders are unbiased and tighter than plain ones.

The game is made of the hand case of ``test_shapley.py`` (an equity minimum and a stock range
row on one account: v = 20,000 with neither, 12,000 with the minimum, 20,000 with the row
alone, 8,000 with both, as the engine computes there), copied onto several accounts at other
sizes, plus one account where the lower minimum only helps with a signed agreement (a
three-way interaction) and one player that changes nothing: ten players, so the study would
sample, while the exact values are still a brute-force sum over the 1,024 coalitions here.
The estimator is the study's own (draw, chains, marginals, standard errors); only the
evaluation of a coalition is a table lookup instead of a hybrid rulebook.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest

from marginlex.engine.variants.study.sampling import (
    Pairing,
    chains,
    draw_orders,
    marginals,
    order_count,
    standard_errors,
    walk,
)
from marginlex.engine.variants.study.shapley import exact_weights

HAND = {(0, 0): 20000.0, (1, 0): 12000.0, (0, 1): 20000.0, (1, 1): 8000.0}
SCALES = (1.0, 0.5, 2.0)  # the hand account, and copies of 400 and 1,600 XYZ
N = 10  # players 0-5: (minimum, row) per copy; 6-8: minimum, agreement, row; 9: nothing


def value(mask: int) -> float:
    """Total requirement of the coalition ``mask``."""
    bit = [mask >> i & 1 for i in range(N)]
    total = sum(s * HAND[(bit[2 * k], bit[2 * k + 1])] for k, s in enumerate(SCALES))
    return total + HAND[(bit[6] & bit[7], bit[8])]  # the minimum counts with the agreement


TABLE = np.array([value(m) for m in range(2**N)])
EXACT = exact_weights(N) @ TABLE


def estimate(
    samples: int, seed: int, pairing: Pairing
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    orders = draw_orders(N, samples, seed, pairing)
    masks = chains(orders)
    stacked = TABLE[masks.astype(np.int64)]
    m = marginals(orders, stacked)
    return m.mean(axis=0), standard_errors(m, pairing)


def test_the_exact_values_by_hand() -> None:
    # each pair: minimum 1/2 [(12,000 - 20,000) + (8,000 - 20,000)] = -10,000 times the size,
    # row 1/2 [0 + (8,000 - 12,000)] = -2,000 times the size
    assert np.allclose(EXACT[:6], [-10000, -2000, -5000, -1000, -20000, -4000])
    # the triple moves -12,000 in all; the row pays off (-4,000) only when it comes after
    # both others, in 1/3 of the orders; minimum and agreement share the rest:
    # (-12,000 + 4,000 / 3) / 2 = -5,333.33 each; the last player 0
    assert np.isclose(EXACT[8], -4000 / 3)
    assert np.allclose(EXACT[6:8], -16000 / 3) and np.isclose(EXACT[9], 0)
    assert np.isclose(EXACT.sum(), value(2**N - 1) - value(0))


def test_antithetic_is_exact_where_players_interact_in_pairs() -> None:
    for seed in range(5):
        mean, se = estimate(8, seed, Pairing.ANTITHETIC)
        assert np.allclose(mean[:6], EXACT[:6]) and np.allclose(se[:6], 0)
        assert np.isclose(mean[9], 0) and np.isclose(se[9], 0)


@pytest.mark.parametrize("samples", [8, 16])
def test_unbiased_and_tighter_than_plain(samples: int) -> None:
    seeds = range(200)
    runs = {p: [estimate(samples, s, p) for s in seeds] for p in Pairing}
    for pairing, got in runs.items():
        means = np.stack([m for m, _ in got])
        # unbiased: the mean over 200 seeds is within 4 standard errors of the exact value
        spread = means.std(axis=0, ddof=1) / np.sqrt(len(seeds))
        assert (np.abs(means.mean(axis=0) - EXACT) <= 4 * spread + 1e-6).all(), pairing
    anti = np.stack([m for m, _ in runs[Pairing.ANTITHETIC]])
    plain = np.stack([m for m, _ in runs[Pairing.PLAIN]])
    # the same number of orders, so the same coalitions to evaluate per draw
    rmse_anti = np.sqrt(((anti - EXACT) ** 2).mean(axis=0)).sum()
    rmse_plain = np.sqrt(((plain - EXACT) ** 2).mean(axis=0)).sum()
    assert rmse_anti < 0.35 * rmse_plain, (rmse_anti, rmse_plain)
    # and the stated standard errors say so too (mean over seeds, summed over players)
    se_anti = np.mean([se.sum() for _, se in runs[Pairing.ANTITHETIC]])
    se_plain = np.mean([se.sum() for _, se in runs[Pairing.PLAIN]])
    assert se_anti < 0.35 * se_plain, (se_anti, se_plain)


def test_the_walk_changes_one_player_at_a_time() -> None:
    orders = draw_orders(N, order_count(7, Pairing.ANTITHETIC), 17, Pairing.ANTITHETIC)
    assert len(orders) == 8
    path = walk(chains(orders))
    steps = [bin(a ^ b).count("1") for a, b in itertools.pairwise(path)]
    assert set(steps) <= {0, 1} and path[0] == 0
    # every order is a permutation; the odd ones are the even ones reversed
    assert (np.sort(orders, axis=1) == np.arange(N)).all()
    assert (orders[1::2] == orders[0::2, ::-1]).all()
