"""Segments, concentration and scenario calls of the impact study: totals that add up,
hand figures on the demo book, and synthetic books of two seeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import Book, load_book, load_demo_book, write_book
from marginlex.engine.stress.shocks import load_scenarios
from marginlex.engine.synth.generate import synth_book
from marginlex.engine.variants.compare import CompareResult, compare
from marginlex.engine.variants.study.segments import Dimension, concentration
from marginlex.engine.variants.study.shapley import shapley
from marginlex.engine.variants.study.stress_calls import UNSHOCKED
from marginlex.engine.variants.study.study import Study, impact_study

SCENARIOS = Path(__file__).parent / "data" / "scenarios.toml"


def _study(
    book: Book, ids: tuple[str, ...], scenarios: bool = False
) -> tuple[CompareResult, Study]:
    rulebooks = [load_rulebook(i) for i in ids]
    result = compare(rulebooks, book, with_attribution=False, keep_evaluations=True)
    picked = load_scenarios(SCENARIOS) if scenarios else ()
    return result, impact_study(result, rulebooks, book, picked)


def _assert_adds_up(result: CompareResult, study: Study) -> None:
    for p in study.pairs:
        c = next(x for x in result.comparisons if x.to_id == p.to_id)
        assert p.freed == -c.requirement_delta
        assert [t.dimension for t in p.segments] == list(Dimension)
        n_accounts = len(result.account_deltas(p.to_id))
        for t in p.segments:
            assert round(sum(r.freed for r in t.rows), 2) == p.freed
            assert round(sum(r.call_delta for r in t.rows), 2) == c.call_delta
            assert sum(r.calls_created for r in t.rows) == c.calls_created
            assert sum(r.calls_removed for r in t.rows) == c.calls_removed
            assert sum(r.accounts for r in t.rows) == n_accounts
            assert sum(len(r.changed) for r in t.rows) == len(p.accounts)


@pytest.fixture(scope="module")
def demo() -> tuple[CompareResult, Study]:
    return _study(load_demo_book(), ("sec", "harmonized"))


def test_demo_segments_add_up(demo: tuple[CompareResult, Study]) -> None:
    _assert_adds_up(*demo)


def test_demo_eligibility_paths_by_hand(demo: tuple[CompareResult, Study]) -> None:
    _, study = demo
    freed = {r.segment: (r.freed, r.changed) for r in study.pairs[0].segments[2].rows}
    # DELTA's merged set: 480,000 under SEC (A04 alone) -> 48,000 with A05's futures hedge
    # (JULIET's requirement is unchanged; only her collateral's value moves)
    assert freed["eligible → eligible"] == (432000.0, ("A04_DELTA_PM", "A12_JULIET_PM"))
    # ECHO's securities account joins the set anchored on A06 (under sec its Treasuries are
    # given up to that set, so it asks 0 either way); the house account H_BD1 is no customer
    # under either rulebook (issue 14, section 6): 75,000 of 15c3-1 haircut under both
    assert freed["ineligible → eligible"] == (0.0, ("A07_ECHO_SEC",))
    # futures accounts SEC does not decide: ECHO's merged set (82,410), FOX 210,000,
    # GOLF 57,000 (2 ES 42,000 + its crypto perpetual 15,000), H_BDF1 105,000 and H_FCM1
    # 6,630 now decided
    assert freed["not decided → eligible"] == (-82410.0, ("A06_ECHO_XM",))
    not_eligible = freed["not decided → ineligible"]
    assert not_eligible[0] == -(210000.0 + 57000.0 + 105000.0 + 6630.0)
    # the house account H_BD1 asks 75,000 under both; under harmonized HOTEL's 20,000
    # pledged to it counts nothing there (17 CFR 1.22 as harmonized applies it): its value
    # changes, its requirement does not
    assert freed["ineligible → ineligible"] == (0.0, ("H_BD1",))


def test_concentration_by_hand(demo: tuple[CompareResult, Study]) -> None:
    _, study = demo
    p = study.pairs[0]
    firms = {r.segment: r.freed for r in p.segments[3].rows}
    gains = {f: x for f, x in firms.items() if x > 0}
    total = sum(gains.values())
    shares = sorted((100 * x / total for x in gains.values()), reverse=True)
    assert p.benefit.firms == len(gains)
    assert p.benefit.total == round(total, 2)
    assert p.benefit.top_share == round(shares[0], 2)
    assert p.benefit.hhi == round(sum(s * s for s in shares), 1)
    assert p.benefit.top_firm == max(gains, key=lambda f: gains[f])
    assert p.burden == concentration(p.segments[3], "burden")
    # BDF1 frees 244,590, the only firm that frees anything (BD1's house account asks the
    # same 75,000 of 15c3-1 haircut under both): share 100%, HHI 10,000. FCM1 carries the
    # whole burden: FOX 210,000 + GOLF 57,000 + H_FCM1 6,630 = 273,630.
    assert (p.benefit.top_firm, p.benefit.top_share, p.benefit.hhi) == ("BDF1", 100.0, 10000.0)
    assert (p.burden.top_firm, p.burden.total, p.burden.hhi) == ("FCM1", 273630.0, 10000.0)


def test_scenario_calls_per_pair() -> None:
    book = load_demo_book()
    result, study = _study(
        book, ("harmonized", "harmonized_85pct_offsets", "harmonized_no_digital_collateral"), True
    )
    rows = {(c.scenario, c.to_id): c for c in study.scenario_calls}
    assert len(rows) == 2 * 4  # unshocked and three scenarios, two pairs
    for c in result.comparisons:  # the unshocked row is the comparison itself
        row = rows[(UNSHOCKED, c.to_id)]
        assert row.call_delta == c.call_delta
        assert len(row.created) == c.calls_created and len(row.removed) == c.calls_removed
    # FOX's BTC and ETH lose their 92,400 of capped value whatever the market; after a 50%
    # crypto fall they count 84,000 (168,000 x 50%) under the 92,400 cap, so 84,000 more call.
    crash = rows[("crypto_down_50", "harmonized_no_digital_collateral")]
    assert crash.call_delta == 84000.0


@pytest.mark.parametrize("seed", [3, 11])
def test_synthetic_books_add_up(seed: int, tmp_path: Path) -> None:
    meta, frames = synth_book(300, seed)
    book = load_book(write_book(meta, frames, tmp_path / "book"))
    result, study = _study(book, ("sec", "harmonized", "harmonized_85pct_offsets"))
    _assert_adds_up(result, study)
    for p in study.pairs:
        listed = set(study.directory["account_id"])
        assert set(p.accounts["account_id"]) <= listed
        for c in (p.benefit, p.burden):
            assert 0 <= c.hhi <= 10000 and c.top_share <= c.top3_share <= 100
    # Shapley on the synthetic book: three players, exact, adding up to the delta per account
    offsets = result.comparisons[1]
    paired = result.account_deltas(offsets.to_id)
    a, b = load_rulebook("harmonized"), load_rulebook(offsets.to_id)
    # the pair harmonized -> offsets, against harmonized's own figures in the comparison
    both = result.account_deltas("harmonized").set_index("account_id")
    paired = paired.set_index("account_id")
    for m in ("requirement", "value", "call"):
        paired[f"{m}_a"] = both[f"{m}_b"]
        paired[f"{m}_delta"] = paired[f"{m}_b"] - paired[f"{m}_a"]
    s = shapley(a, b, book, book.as_of, paired.reset_index())
    assert s.method == "exact" and len(s.players) == 3
    for m in ("requirement", "value", "call"):
        total = int(paired[f"{m}_delta"].sum()) / 100
        assert round(sum(getattr(v, m) for v in s.players), 2) == total
    sums = s.contributions.groupby("account_id")["requirement"].sum()
    assert (sums == paired.loc[sums.index, "requirement_delta"]).all()
