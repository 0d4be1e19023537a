"""Shapley attribution: each differing statement's share of a delta, whatever the order.

The sequential attribution (:mod:`marginlex.engine.variants.attribution`) switches the
differing statements in one fixed order, so a joint effect goes to whichever statement comes
second. The Shapley value averages a statement's marginal effect over every order: with
players ``N`` (the differing statements), ``v(S)`` the figures of the hybrid that takes the
statements of ``S`` from B (:func:`marginlex.dsl.hybrid.switch`),

    phi_i = sum over S not holding i of |S|! (n - |S| - 1)! / n! * (v(S + i) - v(S)).

The values add up to ``v(N) - v(empty) = f(B) - f(A)`` (efficiency), per account and per
figure. **Exact** where there are at most :data:`EXACT_MAX` players: every coalition is
evaluated, in Gray-code order so that consecutive hybrids differ by one player and reuse each
other's phases; the values are one matrix product of the weights with the stacked figures.
**Sampled** where there are more: ``samples`` random orders (numpy's generator, seeded: the
same figures every run), antithetic by default (each order paired with its reverse,
:mod:`marginlex.engine.variants.study.sampling`), each order's marginal contributions
telescoping to the delta; the value is their mean and its standard error is stated. The
coalitions are deduplicated, walked so that consecutive ones differ by one player, and
evaluated from the kept run that shares the most phases
(:mod:`marginlex.engine.variants.study.coalitions`). Per account, the values are rounded to
the cent by largest remainder, so they add up to the delta exactly.

**Players.** The units :func:`marginlex.engine.variants.attribution.switch_order` and
:func:`marginlex.dsl.hybrid.expand_rows` give (statements, or table rows), joined into one
player where one names a statement that only one side has (a rule and the parameter, schedule
or eligibility rule B adds for it): apart they make hybrids that do not compile. A coalition
that still does not evaluate joins its players (or a lone player with the next one) and the
values are recomputed; the join is listed. Hybrids are evaluated on the changed accounts'
closure (:func:`marginlex.engine.variants.attribution.closure`), as the sequential walk does.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict

from marginlex.dsl.diff import diff_rulebooks, meaning
from marginlex.dsl.hybrid import expand_rows, split_unit, switch
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book
from marginlex.engine.variants.attribution import closure, sub_book, switch_order
from marginlex.engine.variants.attribution_pool import FigureRunner, Progress, evaluate_all
from marginlex.engine.variants.figures import MEASURES, moved_accounts
from marginlex.engine.variants.study.coalitions import CoalitionRunner
from marginlex.engine.variants.study.sampling import (
    Pairing,
    chains,
    draw_orders,
    marginals,
    order_count,
    standard_errors,
    walk,
)

EXACT_MAX = 8
SAMPLES = 32
SEED = 17
Figures = npt.NDArray[np.int64]
Coalition = frozenset[str]


class PlayerValue(BaseModel):
    """One player's Shapley value on the totals (USD), with its standard error if sampled."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[str, ...]
    requirement: float
    value: float
    call: float
    requirement_se: float | None = None
    value_se: float | None = None
    call_se: float | None = None

    @property
    def label(self) -> str:
        """The units joined with ``+``."""
        return "+".join(self.rules)


class Shapley(BaseModel):
    """The Shapley attribution of one comparison.

    Attributes:
        method: ``exact`` or ``sampled``.
        players: one value per player, in switching order; they add up to the total deltas.
        samples, seed, pairing: the random orders drawn, the generator's seed and how the
            orders were drawn (sampled only).
        coalitions: the hybrids evaluated.
        joined: players joined because a coalition did not evaluate apart.
        contributions: long frame ``account_id, player, rules, requirement, value, call``
            (int64 cents; only rows where some value is not 0); per account they add up to
            its delta exactly.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    from_id: str
    to_id: str
    method: str
    players: tuple[PlayerValue, ...]
    samples: int | None
    seed: int | None
    pairing: Pairing | None = None
    coalitions: int
    joined: tuple[str, ...]
    changed_accounts: int
    contributions: pd.DataFrame


def _strings(data: Any) -> set[str]:
    if isinstance(data, dict):
        return set().union(*(_strings(v) for v in data.values()))
    if isinstance(data, list):
        return set().union(*(_strings(v) for v in data))
    return {data} if isinstance(data, str) else set()


def players_of(a: ResolvedRulebook, b: ResolvedRulebook, units: Sequence[str]) -> list[list[str]]:
    """The units grouped into players: a unit joins every unit whose statement it names
    when that statement is in only one of the rulebooks (union-find, first-unit order)."""
    a_ids, b_ids = {s.id for s in a.statements}, {s.id for s in b.statements}
    sid_of = {u: split_unit(u)[0] for u in units}
    one_sided = {sid for sid in sid_of.values() if (sid in a_ids) != (sid in b_ids)}
    root = {u: u for u in units}

    def find(u: str) -> str:
        while root[u] != u:
            u = root[u]
        return u

    for u, sid in sid_of.items():  # a few dozen units
        said = _strings([meaning(s) for s in (*a.statements, *b.statements) if s.id == sid])
        for v, other in sid_of.items():
            if other != sid and other in one_sided and other in said:
                root[find(v)] = find(u)
    groups: dict[str, list[str]] = {}
    for u in units:
        groups.setdefault(find(u), []).append(u)
    return list(groups.values())


def _runner(
    book: Book, as_of: dt.date, changed: pd.Index, a: ResolvedRulebook, start: Figures
) -> FigureRunner:
    keep = closure(book, changed.to_numpy(str))
    if keep.sum() < len(keep):
        try:
            runner = CoalitionRunner(sub_book(book, keep), as_of, changed)
            if np.array_equal(runner.figures(a), start):
                return runner
        except (ValueError, LookupError):
            pass  # the sub-book does not evaluate alike: the whole book
    return CoalitionRunner(book, as_of, changed)


class _Values:
    """``v(S)`` for coalitions of units, evaluated in batches and kept."""

    def __init__(
        self,
        runner: FigureRunner,
        pair: tuple[ResolvedRulebook, ResolvedRulebook],
        units: Sequence[str],
        ends: tuple[Figures, Figures],
        *,
        workers: int,
        progress: Progress | None = None,
    ) -> None:
        self.runner, self.pair, self.workers, self.progress = runner, pair, workers, progress
        self.shape = ends[0].shape
        self.known: dict[Coalition, Figures | None] = {
            frozenset(): ends[0],
            frozenset(units): ends[1],
        }

    def fill(self, coalitions: Sequence[Coalition]) -> list[Coalition]:
        """Evaluate the coalitions not known yet (in the order given); return the failed."""
        todo = list(dict.fromkeys(c for c in coalitions if c not in self.known))
        a, b = self.pair
        hybrids = [switch(a, b, sorted(c), f"{a.id}__coalition{k}") for k, c in enumerate(todo)]
        for c, f in zip(
            todo, evaluate_all(self.runner, hybrids, self.workers, self.progress), strict=True
        ):
            self.known[c] = f
        return [c for c in coalitions if self.known[c] is None]

    def rows(self, coalitions: Sequence[Coalition]) -> npt.NDArray[np.float64]:
        return np.stack([np.asarray(self.known[c], dtype=np.float64) for c in coalitions])


def _coalition(players: Sequence[Sequence[str]], mask: int) -> Coalition:
    return frozenset(u for i, p in enumerate(players) if mask >> i & 1 for u in p)


def _join(players: list[list[str]], failed: Sequence[int]) -> tuple[list[list[str]], str]:
    """Join the players of the smallest failed coalition (a lone one with the next player)."""
    mask = min(failed, key=lambda m: (bin(m).count("1"), m))
    members = [i for i in range(len(players)) if mask >> i & 1]
    if len(members) == 1:
        i = members[0]
        members = [i, i + 1] if i + 1 < len(players) else [i - 1, i]
    joined = [u for i in members for u in players[i]]
    rest = [p for i, p in enumerate(players) if i not in members]
    rest.insert(members[0], joined)
    return rest, "+".join(joined)


def exact_weights(n: int) -> npt.NDArray[np.float64]:
    """The ``(n, 2**n)`` matrix ``W`` with ``phi = W @ v`` over coalitions by bitmask.

    >>> exact_weights(2).tolist()
    [[-0.5, 0.5, -0.5, 0.5], [-0.5, -0.5, 0.5, 0.5]]
    """
    masks = np.arange(2**n)
    size = np.array([bin(m).count("1") for m in masks.tolist()])
    fact = np.array([math.factorial(k) for k in range(n + 1)], dtype=np.float64)
    w_in = fact[np.maximum(size - 1, 0)] * fact[np.maximum(n - size, 0)] / fact[n]
    w_out = fact[size] * fact[np.maximum(n - size - 1, 0)] / fact[n]
    holds = (masks[None, :] >> np.arange(n)[:, None]) & 1
    weights: npt.NDArray[np.float64] = np.where(holds == 1, w_in[None, :], -w_out[None, :])
    return weights


def _exact(values: _Values, players: list[list[str]]) -> tuple[npt.NDArray[np.float64], list[int]]:
    n = len(players)
    gray = [i ^ (i >> 1) for i in range(2**n)]  # consecutive hybrids differ in one player
    failed = values.fill([_coalition(players, m) for m in gray])
    if failed:
        return np.empty(0), [m for m in gray if _coalition(players, m) in set(failed)]
    stacked = values.rows([_coalition(players, m) for m in range(2**n)])
    phi = np.tensordot(exact_weights(n), stacked, axes=1)
    return phi, []


def _sampled(
    values: _Values, players: list[list[str]], draw: _Draw
) -> tuple[npt.NDArray[np.float64], list[int]]:
    n = len(players)
    orders = draw_orders(n, draw.samples, draw.seed, draw.pairing)
    masks = chains(orders)
    failed = values.fill([_coalition(players, m) for m in walk(masks)])
    if failed:
        return np.empty(0), [m for m in walk(masks) if _coalition(players, m) in set(failed)]
    stacked = values.rows([_coalition(players, int(m)) for m in masks.ravel()]).reshape(
        draw.samples, n + 1, *values.shape
    )
    return marginals(orders, stacked), []  # (samples, player, account, measure)


def round_preserving(phi: npt.NDArray[np.float64], delta: Figures) -> Figures:
    """``phi`` (players x accounts x measures, cents) rounded so that each account's values
    add up to its ``delta`` exactly: floors, plus one cent to the largest remainders.

    >>> round_preserving(np.array([[[1.5]], [[1.5]]]), np.array([[3]])).ravel().tolist()
    [2, 1]
    """
    low = np.floor(phi + 1e-9)
    short = (delta - low.sum(axis=0)).astype(np.int64)
    rank = np.argsort(np.argsort(-(phi - low), axis=0, kind="stable"), axis=0, kind="stable")
    bump = rank < np.clip(short, 0, len(phi))[None]
    out: Figures = (low + bump).astype(np.int64)
    return out


def shapley(
    a: ResolvedRulebook,
    b: ResolvedRulebook,
    book: Book,
    as_of: dt.date,
    paired: pd.DataFrame,
    *,
    exact_max: int = EXACT_MAX,
    samples: int = SAMPLES,
    seed: int = SEED,
    pairing: Pairing = Pairing.ANTITHETIC,
    workers: int = 1,
    progress: Progress | None = None,
) -> Shapley:
    """Shapley values of the statements that differ from ``a`` to ``b``, per changed account.

    Args:
        a: the baseline rulebook.
        b: the other rulebook.
        book: the book both were evaluated on.
        as_of: the as-of date.
        paired: per-account figures under both (``CompareResult.account_deltas``, cents).
        exact_max: at most this many players, every coalition is evaluated.
        samples: the random orders drawn beyond ``exact_max`` players
            (:func:`~marginlex.engine.variants.study.sampling.order_count`).
        seed: the seed of the random orders.
        pairing: antithetic (each order with its reverse) or plain.
        workers: processes evaluating the coalitions' hybrids side by side.
        progress: told ``(done, total)`` as each batch of coalitions is evaluated.

    Returns:
        The values; per account and in total they add up to the deltas exactly.
    """
    units = expand_rows(a, b, switch_order(diff_rulebooks(a, b)))
    moved = paired.loc[moved_accounts(paired), "account_id"].to_numpy(str)
    changed = pd.Index(moved, name="account_id")
    frame = paired.set_index("account_id").reindex(changed)
    start = frame[[f"{m}_a" for m in MEASURES]].to_numpy(np.int64)
    end = frame[[f"{m}_b" for m in MEASURES]].to_numpy(np.int64)
    players = players_of(a, b, units)
    samples = order_count(samples, pairing)
    joined: list[str] = []
    if not len(changed) or not players:  # nothing moved: every value is 0
        zeros = np.zeros((len(players), len(changed), len(MEASURES)))
        draw = _Draw(len(players) <= exact_max, samples, seed, pairing)
        return _result(
            (a, b),
            players,
            zeros if draw.exact else zeros[None].repeat(2, 0),
            end - start,
            changed,
            draw,
            0,
            joined,
        )
    runner = _runner(book, as_of, changed, a, start)
    values = _Values(runner, (a, b), units, (start, end), workers=workers, progress=progress)
    while True:
        draw = _Draw(len(players) <= exact_max, samples, seed, pairing)
        phi, failed = _exact(values, players) if draw.exact else _sampled(values, players, draw)
        if not failed:
            break
        players, name = _join(players, failed)
        joined.append(name)
    evaluated = sum(1 for f in values.known.values() if f is not None) - 2
    return _result((a, b), players, phi, end - start, changed, draw, evaluated, joined)


class _Draw(NamedTuple):
    exact: bool
    samples: int
    seed: int
    pairing: Pairing


def _result(  # noqa: PLR0917 - internal: one call site each
    pair: tuple[ResolvedRulebook, ResolvedRulebook],
    players: list[list[str]],
    phi: npt.NDArray[np.float64],
    delta: Figures,
    changed: pd.Index,
    draw: _Draw,
    evaluated: int,
    joined: list[str],
) -> Shapley:
    """Round per account, sum per player; a sampled ``phi`` holds each order's marginals."""
    mean = phi if draw.exact else phi.mean(axis=0)
    cents = round_preserving(mean, delta)
    # per player and measure, the standard error (USD) of the mean total marginal effect
    se = None if draw.exact else standard_errors(phi.sum(axis=2), draw.pairing) / 100
    values = tuple(
        PlayerValue(
            rules=tuple(p),
            **{m: int(cents[i, :, k].sum()) / 100 for k, m in enumerate(MEASURES)},
            **(
                {f"{m}_se": round(float(se[i, k]), 2) for k, m in enumerate(MEASURES)}
                if se is not None
                else {}
            ),
        )
        for i, p in enumerate(players)
    )
    return Shapley(
        from_id=pair[0].id,
        to_id=pair[1].id,
        method="exact" if draw.exact else "sampled",
        players=values,
        samples=None if draw.exact else draw.samples,
        seed=None if draw.exact else draw.seed,
        pairing=None if draw.exact else draw.pairing,
        coalitions=evaluated,
        joined=tuple(joined),
        changed_accounts=len(changed),
        contributions=_contributions(cents, players, changed),
    )


def _contributions(cents: Figures, players: list[list[str]], changed: pd.Index) -> pd.DataFrame:
    n, k = len(players), len(changed)
    flat = cents.reshape(n * k, len(MEASURES))
    frame = pd.DataFrame(flat, columns=list(MEASURES))
    frame.insert(0, "rules", np.repeat(np.array(["+".join(p) for p in players], dtype=object), k))
    frame.insert(0, "player", np.repeat(np.arange(n), k))
    frame.insert(0, "account_id", np.tile(changed.to_numpy(str), n))
    kept: pd.DataFrame = frame[(flat != 0).any(axis=1)].reset_index(drop=True)
    return kept
