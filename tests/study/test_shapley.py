"""Shapley attribution: a hand case where the switching order matters, efficiency, sampling."""

from __future__ import annotations

import numpy as np
import pytest
from study_books import hand_book, hand_variant

from marginlex.dsl.diff import diff_rulebooks
from marginlex.dsl.hybrid import expand_rows
from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import load_demo_book
from marginlex.engine.variants.attribution import switch_order
from marginlex.engine.variants.compare import compare
from marginlex.engine.variants.figures import MEASURES
from marginlex.engine.variants.study.sampling import Pairing
from marginlex.engine.variants.study.shapley import (
    _join,
    exact_weights,
    players_of,
    round_preserving,
    shapley,
)

ROW = "sec_portfolio_margin row otherwise"


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("hand")
    # ALICE2: 800 XYZ at $100, equity $80,000 (no collateral), approved for uncovered options.
    book = hand_book(
        tmp,
        "P1,ALICE,BD1,SEC,portfolio_margin,customer,portfolio_margin",
        "P1,XYZ,800",
    )
    return book, load_rulebook("sec"), hand_variant(tmp)


def test_hand_case_sequential_and_shapley_differ(hand) -> None:  # type: ignore[no-untyped-def]
    book, sec, variant = hand
    result = compare([sec, variant], book)
    # v(none) = strategy based, long stock 25% of 80,000 = 20,000 (equity under 100,000)
    # v(minimum) = portfolio margin, worst point -15% of 80,000 = 12,000, plus the
    #   concentration add-on (XYZ is 100% of equity, over 70%): 5% of 80,000 = 4,000: 16,000
    # v(row) = still strategy based = 20,000; v(both) = -10%: 8,000 + 4,000 = 12,000
    totals = {t.rulebook_id: t.total_requirement for t in result.totals}
    assert totals == {"sec": 20000.0, "hand_variant": 12000.0}
    steps = {s.label: s.requirement for s in result.comparisons[0].attribution.steps}
    # sequential: the parameter first, so the row gets only 16,000 -> 12,000
    assert steps == {"pm_min_equity": -4000.0, ROW: -4000.0}
    s = shapley(sec, variant, book, book.as_of, result.account_deltas("hand_variant"))
    values = {p.label: p.requirement for p in s.players}
    # phi(minimum) = 1/2 [(16,000 - 20,000) + (12,000 - 20,000)] = -6,000
    # phi(row)     = 1/2 [(20,000 - 20,000) + (12,000 - 16,000)] = -2,000
    assert values == {"pm_min_equity": -6000.0, ROW: -2000.0}
    assert s.method == "exact" and s.coalitions == 2 and s.players[0].requirement_se is None
    # the call is 0 throughout (equity 80,000 covers every requirement)
    assert all(p.call == 0 for p in s.players)


def test_hand_case_sampled_with_every_order_is_exact(hand) -> None:  # type: ignore[no-untyped-def]
    book, sec, variant = hand
    paired = compare([sec, variant], book, with_attribution=False).account_deltas("hand_variant")
    plain = Pairing.PLAIN
    s = shapley(
        sec, variant, book, book.as_of, paired, exact_max=1, samples=40, seed=3, pairing=plain
    )
    assert s.method == "sampled" and s.samples == 40 and s.seed == 3 and s.pairing is plain
    # two players: each order gives -4,000/-4,000 or -8,000/0; the mean is near -6,000
    first = s.players[0]
    assert first.requirement + s.players[1].requirement == -8000.0
    assert abs(first.requirement + 6000) <= 3 * first.requirement_se + 0.01
    assert first.requirement_se > 0
    again = shapley(
        sec, variant, book, book.as_of, paired, exact_max=1, samples=40, seed=3, pairing=plain
    )
    assert again.players == s.players
    # antithetic: each order comes with its reverse, -4,000 + -8,000 over two = -6,000
    # exactly, whatever the draw; the standard error over the pairs is 0
    anti = shapley(sec, variant, book, book.as_of, paired, exact_max=1, samples=4, seed=3)
    assert anti.pairing is Pairing.ANTITHETIC and anti.samples == 4
    assert [(p.requirement, p.requirement_se) for p in anti.players] == [
        (-6000.0, 0.0),
        (-2000.0, 0.0),
    ]


def test_weights_give_the_two_player_formula() -> None:
    w = exact_weights(3)
    assert np.allclose(w.sum(axis=0)[[0, -1]], [-1, 1])  # efficiency: v(N) - v(empty)
    assert np.allclose(w.sum(axis=0)[1:-1], 0)


def test_rounding_keeps_each_account_sum() -> None:
    rng = np.random.default_rng(0)
    phi = rng.normal(0, 1000, size=(5, 30, 3))
    delta = np.rint(phi.sum(axis=0)).astype(np.int64)
    out = round_preserving(phi, delta)
    assert (out.sum(axis=0) == delta).all()
    assert np.abs(out - phi).max() < 1 + 1e-6


@pytest.mark.parametrize(
    "pair", [("harmonized", "harmonized_85pct_offsets"), ("cftc", "harmonized")]
)
def test_efficiency_on_the_demo_book(pair: tuple[str, str]) -> None:
    book = load_demo_book()
    a, b = (load_rulebook(i) for i in pair)
    result = compare([a, b], book, with_attribution=False)
    c, paired = result.comparisons[0], result.account_deltas(pair[1])
    s = shapley(a, b, book, book.as_of, paired, samples=4)
    for m in MEASURES:
        assert round(sum(getattr(p, m) for p in s.players), 2) == getattr(c, f"{m}_delta")
    per_account = s.contributions.groupby("account_id")[list(MEASURES)].sum()
    want = paired.set_index("account_id").loc[per_account.index]
    for m in MEASURES:
        assert (per_account[m] == want[f"{m}_delta"]).all()


def test_players_join_what_only_one_side_has() -> None:
    sec, harmonized = load_rulebook("sec"), load_rulebook("harmonized")
    units = expand_rows(sec, harmonized, switch_order(diff_rulebooks(sec, harmonized)))
    players = {p[-1]: p for p in players_of(sec, harmonized, units)}
    # cftc_span names the SPAN parameters harmonized adds; apart they do not compile
    assert (
        players["cftc_span"][0] == "span_vol_shift"
        and "short_option_minimum" in players["cftc_span"]
    )
    assert players["harmonized_collateral"] == [
        "cftc_treasuries",
        "cftc_other_assets",
        "harmonized_collateral",
    ]
    assert sorted(u for p in players.values() for u in p) == sorted(units)
    # a coalition that fails joins its players; a lone one joins the next
    assert _join([["a"], ["b"], ["c"]], [0b011, 0b111]) == ([["a", "b"], ["c"]], "a+b")
    assert _join([["a"], ["b"], ["c"]], [0b100]) == ([["a"], ["b", "c"]], "b+c")
